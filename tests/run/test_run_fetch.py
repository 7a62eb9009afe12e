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

url, root, n, key = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]

async def main():
    async with ChatClient(url, key, policy=RetryPolicy(attempts=2, backoff_base=0.001, timeout=5)) as c:
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


def _run(url: str, root: Path, key: str, kill_after: int | None = None) -> list[str]:
    """Runs the script with API key `key`: the fake records it, so each run's requests are told apart by it, never
    by their order of arrival (a killed run's last request may reach the fake late, half sent)."""
    proc = subprocess.Popen([sys.executable, "-c", _SCRIPT, url, str(root), str(N), key], stdout=subprocess.PIPE,
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


def _sent(fake: FakeOpenAI, key: str) -> list:
    """The whole chat requests sent with this API key (a request the kill cut short has no JSON body)."""
    return [r for r in fake.chat_requests if r.headers.get("authorization") == f"Bearer {key}"
            and isinstance(r.body, dict)]


def test_kill_9_then_resume_repeats_no_stored_call(tmp_path):
    with FakeOpenAI() as fake:
        fake.push(*[slow(0.05)] * N)
        _run(fake.base_url, tmp_path, "sk-first", kill_after=5)
        cache = AnswerCache(tmp_path)
        stored = set(cache.keys())
        assert 5 <= len(stored) <= len(_sent(fake, "sk-first")) < N
        assert all(cache.get(k) is not None for k in stored)  # nothing half-written under a real name

        lines = _run(fake.base_url, tmp_path, "sk-second")
        second = _sent(fake, "sk-second")
        asked_again = {request_key(fake.base_url, r.body) for r in second}
        assert not asked_again & stored
        assert len(second) == N - len(stored)
        assert sum(1 for ln in lines if ln.split()[1] == "True") == len(stored)
        assert cache.stats().entries == N

        async def rerun():  # an unchanged rerun makes no call at all
            async with ChatClient(fake.base_url, "sk-third") as c:
                return [(await fetch(c, cache, _body(i)))[1] for i in range(N)]

        assert asyncio.run(rerun()) == [True] * N
        assert not [r for r in fake.chat_requests if r.headers.get("authorization") == "Bearer sk-third"]
        every = _sent(fake, "sk-first") + second
        assert {json.dumps(r.body, sort_keys=True) for r in every} == {
            json.dumps(_body(i), sort_keys=True) for i in range(N)}
