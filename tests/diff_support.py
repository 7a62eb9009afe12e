"""Helpers for the `synthc diff` tests (no tests here): temporary git repositories, and a fake model that fills
an answer cache through the build's own executor, so cache keys are made exactly as `synthc build` makes them."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import subprocess
from pathlib import Path

from synthc.generate.executor import Budget, Executor, offline_client
from synthc.tasks.build import BuildOptions, LazyEmbedded, prepare
from synthc.check import check_file
from synthc.run.cache import AnswerCache
from synthc.run.client import Answer

from fake_openai import HANDLES, requests_of

ROOT = Path(__file__).resolve().parent.parent
REVIEWS = (ROOT / "examples/product_reviews/reviews.sds").read_text(encoding="utf-8")
_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent"}


def git(repo: Path, *args: str) -> str:
    import os

    env = {**os.environ, **_ENV}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout


def make_repo(root: Path, files: dict[str, str]) -> Path:
    """A git repository at `root` with `files` committed on its first commit."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    write(root, files)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    return root


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")


def _words(seed: str, n: int) -> str:
    out, h = [], seed
    for _ in range(n):
        h = hashlib.sha256(h.encode()).hexdigest()
        out.append("".join(chr(97 + int(c, 16) % 26) for c in h[:6]))
    return " ".join(out)


class FakeModel:
    """Answers every request with letters-only text (no digits, so no rating leaks): `Length: short|medium|long`
    in the request sizes the body as the reviews spec's constraints want; judges answer yes. Counts its calls."""

    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        self.calls = 0

    def _row(self, props: dict, seed: str, length: int) -> dict:
        return {k: self._value(p, seed + k, length if k == "body" else 4) for k, p in props.items() if k not in HANDLES}

    @staticmethod
    def _value(prop: dict, seed: str, length: int):
        """Words for text; a judge's verdict (a bool, or an enum of its scale) is its best answer."""
        if prop.get("type") == "boolean":
            return True
        if "enum" in prop:
            return max(prop["enum"])
        return _words(seed, length)

    async def complete(self, body):
        self.calls += 1
        user = body["messages"][-1]["content"]
        seed = json.dumps(body, sort_keys=True)
        schema = body["response_format"]["json_schema"]["schema"]
        if "rows" in schema["properties"]:
            props = schema["properties"]["rows"]["items"]["properties"]
            key = next(h for h in HANDLES if h in props)
            content = {"rows": [{key: n, **self._row(props, f"{seed}{n}", _length(text))}
                                for n, text in enumerate(requests_of(user), 1)]}
        else:
            content = self._row(schema["properties"], seed, _length(user))
        return Answer(json.dumps(content), "stop", 100, 50, "fake")


def _length(request: str) -> int:
    """Body words for the `Length:` a row's request asks for."""
    m = re.search(r"Length: (short|medium|long)", request)
    return {"short": 20, "medium": 50, "long": 100}[m.group(1)] if m else 12


def checked(tmp_path: Path, text: str, name: str = "s.sds"):
    """The IR of `text`, checked from a fresh folder under tmp_path."""
    d = tmp_path / f"v{len(list(tmp_path.iterdir()))}"
    d.mkdir()
    (d / name).write_text(text, encoding="utf-8")
    result = check_file(d / name, name)
    assert result.ok, [x.message for x in result.diagnostics]
    return result.spec


def prepared(spec_path: Path):
    result = check_file(spec_path, spec_path.name)
    assert result.ok, [d.message for d in result.diagnostics]
    prep = prepare(result.spec, spec_path, BuildOptions(offline=True))
    assert not hasattr(prep, "exit_code"), prep
    return result.spec, prep


def identity_of(prep) -> str:
    """The identity the build's client carries: LazyEmbedded's for the embedded model, else the endpoint's."""
    return LazyEmbedded.endpoint if prep.endpoint.embedded else prep.endpoint.identity


def fill_cache(spec_path: Path, cache_dir: Path):
    """Build `spec_path` with the fake model through the build's executor; every answer lands in the cache. The
    yield breaker is off: the specs' constraints reject the fake's answers on purpose, and a top-up round that
    happens to accept few rows must not stop the filling of the cache the diff tests read."""
    spec, prep = prepared(spec_path)
    fake = FakeModel(identity_of(prep))
    outcome = asyncio.run(Executor(spec, prep.plan, fake, AnswerCache(cache_dir), budget=Budget(min_yield=0.0)).run())
    assert outcome.stopped is None, outcome.stopped
    return outcome, fake


def offline_round(spec_path: Path, cache_dir: Path):
    """The build's executor offline over the cache: (answers it found, the message it stopped with or None); the
    yield breaker is off, as in fill_cache, so the replay of the same answers ends as the filling did."""
    spec, prep = prepared(spec_path)
    outcome = asyncio.run(Executor(spec, prep.plan, offline_client(prep.endpoint.identity), AnswerCache(cache_dir),
                                   offline=True, budget=Budget(min_yield=0.0)).run())
    return outcome.counters, outcome.stopped
