"""Flags and endpoints rejected at once (exit 2, a clear message), retries shown as they happen, progress wording."""

from __future__ import annotations

import io
import random

import pytest

from synthc.endpoint import EndpointError, check_url
from synthc.generate.progress import PlainProgress
from synthc.cli import main
from synthc.run.client import ChatClient, RetryNotice, RetryPolicy

SPEC = """dataset d { rows = 2 seed = 1 model = "gpt-4o-mini" }
field c: category ["a", "b"]
field t: text from p
prompt p { user = "Write about {c}." }
"""


@pytest.fixture
def spec(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    p = tmp_path / "d.sds"
    p.write_text(SPEC)
    return str(p)


@pytest.mark.parametrize("url, says", [
    ("not a url", "is not an http:// or https:// URL"),
    ("file:///tmp/x", "is not an http:// or https:// URL"),
    ("ftp://host/v1", "is not an http:// or https:// URL"),
    ("http://", "names no host"),
    ("http://localhost:99999/v1", "Port out of range"),
])
@pytest.mark.parametrize("command", ["build", "plan"])
def test_a_malformed_endpoint_exits_2_before_any_call(spec, capsys, url, says, command):
    assert main([command, spec, "--endpoint", url]) == 2
    err = capsys.readouterr().err
    assert says in err and "--endpoint" in err


@pytest.mark.parametrize("url", ["http://localhost:8000/v1", "https://api.openai.com/v1", "http://[::1]:8080"])
def test_good_endpoints_pass(url):
    check_url(url, "--endpoint")


def test_check_url_raises_endpoint_error():
    with pytest.raises(EndpointError, match="synthc.toml"):
        check_url("localhost:8000", "synthc.toml [profiles.x]")


@pytest.mark.parametrize("flag, value", [("--max-cost", "nan"), ("--max-cost", "-1"), ("--max-cost", "inf"),
                                         ("--max-cost", "ten"), ("--max-calls", "0"), ("--max-calls", "-2")])
def test_bad_budgets_are_rejected(spec, capsys, flag, value):
    with pytest.raises(SystemExit) as e:
        main(["build", spec, flag, value])
    assert e.value.code == 2
    assert f"argument {flag}" in capsys.readouterr().err


async def _dead_port_call(notices):
    policy = RetryPolicy(attempts=3, backoff_base=0.001, backoff_cap=0.002, timeout=2)
    async with ChatClient("http://127.0.0.1:9/v1", "k", policy=policy, rng=random.Random(1),
                          on_retry=notices.append) as c:
        with pytest.raises(Exception):
            await c.complete({"model": "m", "messages": [{"role": "user", "content": "hi"}]})


def test_each_retry_is_reported_as_it_happens():
    import asyncio

    notices: list[RetryNotice] = []
    asyncio.run(_dead_port_call(notices))
    assert [(n.attempt, n.attempts) for n in notices] == [(1, 3), (2, 3)]  # the last attempt is not retried
    text = str(notices[0])
    assert text.startswith("http://127.0.0.1:9/v1: ") and "attempt 1 of 3" in text and "retrying in" in text


def test_a_round_with_no_rows_says_so():
    out = io.StringIO()
    p = PlainProgress(out)
    p.round(1, 1)
    p.call(False, None, None)
    p.close()
    line = out.getvalue()
    assert "0/0" not in line and "no rows received yet" in line


class _ClosedPipe(io.TextIOBase):
    """stdout after the reader went away (`synthc plan x.sds | head -1`)."""

    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")

    def fileno(self):
        raise io.UnsupportedOperation("fileno")

    def isatty(self):
        return False


@pytest.mark.parametrize("extra", [[], ["--json"]])  # rich tables, then print()
def test_a_broken_pipe_exits_0_quietly(spec, monkeypatch, capsys, extra):
    monkeypatch.setattr("sys.stdout", _ClosedPipe())
    assert main(["plan", spec, *extra]) == 0
    assert "Traceback" not in capsys.readouterr().err
