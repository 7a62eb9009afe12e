"""A build killed with kill -9 at random points resumes without repeating a finished call and writes the same
dataset, bytes for bytes, as a build that was never interrupted."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fake_openai import FakeOpenAI, slow
from synthc.run.cache import AnswerCache

SPEC = """dataset notes {
  rows = 30
  seed = 11
  model = "gpt-4o-mini"
  formats = [jsonl, parquet]
}

field topic: category ~ {
  "a": 50%
  "b": 50%
}
field n: int in 1..3
field note: text from write { words = 2..6 }

prompt write {
  user = "Write a note about {topic} number {n}."
  rows_per_call = 2
}

constraint fits: word_count(note) <= 4
"""
CONCURRENCY = 2
TRIALS = 4
DATA = ("notes.jsonl", "notes.parquet")


def _digest(body) -> str:
    return json.dumps(body, sort_keys=True)


def _env(cache: Path) -> dict:
    env = dict(os.environ, SYNTHC_CACHE=str(cache), SYNTHC_RETRY_BASE="0.001", OPENAI_API_KEY="sk-test")
    env.pop("OPENAI_BASE_URL", None)
    return env


def _start(spec: Path, out: Path, cache: Path, url: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "synthc", "build", str(spec), "--endpoint", url, "--out", str(out),
           "--concurrency", str(CONCURRENCY)]
    return subprocess.Popen(cmd, env=_env(cache), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen) -> None:
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err


def _answered(fake: FakeOpenAI, since: int) -> int:
    return sum(1 for r in fake.chat_requests[since:] if r.status)


def _kill_after(spec: Path, fake: FakeOpenAI, answers: int) -> None:
    """Start a build of `spec` (its out/ and cache/ beside it) and kill -9 it once `answers` calls were answered."""
    since = fake.calls
    proc = _start(spec, spec.parent / "out", spec.parent / "cache", fake.base_url)
    while _answered(fake, since) < answers and proc.poll() is None:
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)


def _project(root: Path) -> Path:
    root.mkdir()
    (root / "synthc.toml").write_text("")
    spec = root / "notes.sds"
    spec.write_text(SPEC)
    return spec


def _cached_bodies(cache: Path) -> set[str]:
    out = set()
    for path in (cache / "answers").glob("*/*.json"):
        out.add(_digest(json.loads(path.read_bytes())["request"]["body"]))
    return out


@pytest.fixture
def fake():
    with FakeOpenAI() as f:
        f.push(*[slow(0.02)] * 5000)  # every answer takes a moment, so kills land between calls and inside them
        yield f


def test_kill_9_at_random_points_then_resume(tmp_path, fake):
    ref = _project(tmp_path / "ref")
    _finish(_start(ref, ref.parent / "out", ref.parent / "cache", fake.base_url))
    total = fake.calls
    assert total > 15
    reference = {name: (ref.parent / "out" / name).read_bytes() for name in DATA}
    reference_lock = json.loads((ref.parent / "notes.sds.lock").read_text())
    rng = random.Random(2024)
    points = sorted(rng.sample(range(1, total), TRIALS - 1)) + [total]  # the last one kills while it writes
    for trial, kill_after in enumerate(points):
        spec = _project(tmp_path / f"t{trial}")
        out, cache = spec.parent / "out", spec.parent / "cache"
        since = fake.calls
        _kill_after(spec, fake, kill_after)
        answered = {_digest(r.body) for r in fake.chat_requests[since:] if r.status}
        stored = _cached_bodies(cache)
        assert stored <= answered
        assert len(answered - stored) <= CONCURRENCY  # only calls in flight at the kill are lost
        assert all(AnswerCache(cache).get(k) is not None for k in AnswerCache(cache).keys())  # no torn entry
        for name in DATA:  # an output is either absent or whole: never half written
            assert not (out / name).exists() or (out / name).read_bytes() == reference[name]

        resumed_from = fake.calls
        locked_before = (spec.parent / "notes.sds.lock").exists()
        _finish(_start(spec, out, cache, fake.base_url))
        again = [_digest(r.body) for r in fake.chat_requests[resumed_from:]]
        assert not set(again) & stored, f"trial {trial}: a stored answer was asked for again"
        assert len(again) == total - len(stored)
        report = json.loads((out / "report.json").read_text())
        if not locked_before:  # the report counts what both runs paid: this run's calls and the killed run's
            assert report["calls"] + report["calls_interrupted_runs"] == total
            assert report["calls_interrupted_runs"] == len(stored)
        for name in DATA:
            assert (out / name).read_bytes() == reference[name], (trial, name)
        lock = json.loads((spec.parent / "notes.sds.lock").read_text())
        assert lock == reference_lock
        assert not list((cache / "work").glob("spool-*")), trial  # the killed build's spool went, and this one's


def test_kill_9_during_an_incremental_build_then_resume(tmp_path, fake):
    """After an edit, the build carries stored rows and packs the others anew: killed at random points and
    resumed from the same store, it asks each new call once and writes what the uninterrupted rebuild wrote."""
    import shutil

    edited = SPEC.replace("rows = 30", "rows = 44").replace('"a": 50%\n  "b": 50%', '"a": 25%\n  "b": 75%')
    base = _project(tmp_path / "base")
    _finish(_start(base, base.parent / "out", base.parent / "cache", fake.base_url))
    ref = _project(tmp_path / "ref")
    shutil.copytree(base.parent / "cache", ref.parent / "cache")
    ref.write_text(edited)
    since = fake.calls
    _finish(_start(ref, ref.parent / "out", ref.parent / "cache", fake.base_url))
    total = fake.calls - since
    assert total >= 3
    reference = {name: (ref.parent / "out" / name).read_bytes() for name in DATA}
    rng = random.Random(7)
    for trial, kill_after in enumerate(sorted(rng.sample(range(1, total), 2))):
        spec = _project(tmp_path / f"k{trial}")
        out, cache = spec.parent / "out", spec.parent / "cache"
        shutil.copytree(base.parent / "cache", cache)
        spec.write_text(edited)
        since = fake.calls
        _kill_after(spec, fake, kill_after)
        resumed_from = fake.calls
        _finish(_start(spec, out, cache, fake.base_url))
        asked = [_digest(r.body) for r in fake.chat_requests[since:] if r.status]
        assert len(asked) - len(set(asked)) <= CONCURRENCY, trial  # at most the calls in flight were lost
        assert fake.calls - resumed_from <= total
        for name in DATA:
            assert (out / name).read_bytes() == reference[name], (trial, name)
