"""A run killed with kill -9 resumes without repeating any call whose answer it had received and stored."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path

from fake_openai import FakeOpenAI, slow
from synthc.run.cache import AnswerCache, request_key
from synthc.run.client import ChatClient
from synthc.run.fetch import fetch

N = 12
_SCRIPT = """
import asyncio, sys
from synthc.run.cache import AnswerCache
from synthc.run.client import ChatClient, RetryPolicy
from synthc.run.fetch import fetch

url, root, n = sys.argv[1], sys.argv[2], int(sys.argv[3])

async def main():
    async with ChatClient(url, "sk-test", policy=RetryPolicy(attempts=2, backoff_base=0.001, timeout=5)) as c:
        for i in range(n):
            body = {"model": "m", "messages": [{"role": "user", "content": f"call {i}"}], "seed": i,
                    "response_format": {"type": "json_object"}}
            _, hit = await fetch(c, AnswerCache(root), body)
            print(i, hit, flush=True)

asyncio.run(main())
"""


def _body(i: int) -> dict:
    return {"model": "m", "messages": [{"role": "user", "content": f"call {i}"}], "seed": i,
            "response_format": {"type": "json_object"}}


def _run(url: str, root: Path, kill_after: int | None = None) -> list[str]:
    proc = subprocess.Popen([sys.executable, "-c", _SCRIPT, url, str(root), str(N)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if kill_after is not None and len(lines) == kill_after:
            proc.send_signal(signal.SIGKILL)  # while the next call is on the wire (the fake answers slowly)
            break
    proc.wait(30)
    if kill_after is None:
        assert proc.returncode == 0, proc.stderr.read()
    return lines


def test_kill_9_then_resume_repeats_no_stored_call(tmp_path):
    with FakeOpenAI() as fake:
        fake.push(*[slow(0.05)] * N)
        _run(fake.base_url, tmp_path, kill_after=5)
        cache = AnswerCache(tmp_path)
        stored = set(cache.keys())
        first_run = fake.calls
        assert 5 <= len(stored) <= first_run < N
        assert all(cache.get(k) is not None for k in stored)  # nothing half-written under a real name

        lines = _run(fake.base_url, tmp_path)
        second = fake.chat_requests[first_run:]
        asked_again = {request_key(fake.base_url, r.body) for r in second}
        assert not asked_again & stored
        assert len(second) == N - len(stored)
        assert sum(1 for ln in lines if ln.split()[1] == "True") == len(stored)
        assert cache.stats().entries == N

        async def rerun():  # an unchanged rerun makes no call at all
            async with ChatClient(fake.base_url, "sk-test") as c:
                return [(await fetch(c, cache, _body(i)))[1] for i in range(N)]

        assert asyncio.run(rerun()) == [True] * N
        assert fake.calls == first_run + len(second)
        assert {json.dumps(r.body, sort_keys=True) for r in fake.chat_requests} == {
            json.dumps(_body(i), sort_keys=True) for i in range(N)}
