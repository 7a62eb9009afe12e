"""Hostile inputs, generated: every case ends quickly, small, with the exit code the contract gives and a
diagnostic that names its code and position, and never with a traceback.

Case generators live in modules named `tests/check/hostile_cases_*.py`; this harness collects every one. Format:

    CASES = [case_fn, ...]   # each: case_fn(rng: random.Random) -> dict with keys
      files: dict[str, str | bytes | tuple]  # relative path -> content, written in a fresh temp dir;
                                             # ("symlink", TARGET) makes a symbolic link to TARGET instead
      argv: list[str]                 # synthc arguments, e.g. ["check", "spec.sds"]
      exits: set[int]                 # allowed exit codes (a subset of {0, 1, 2})
      code: str | None                # a diagnostic code that must appear in the output (or None)
      name: str                       # short label for the test id

A generator draws everything from `rng` (seeded per case: SEEDS below), so a failing case is reproduced by its
test id. Each case runs as `python -m synthc ARGV...` in its temp dir (the working directory, also the project
root: it gets an empty synthc.toml), with its own cache and a dummy API key, and is judged by:
  - CPU: user + system time of the child from os.wait4, at most MAX_CPU_S plus the CPU that
    `python -m synthc --version` takes in the same run (the interpreter and import cost, measured once);
  - memory: the child's maximum resident set size from the same rusage, at most MAX_RSS_MB;
  - the exit code is one of `exits`; neither stdout nor stderr contains "Traceback";
  - when `code` is given, the output has that code's diagnostic with a `file:line:col` position (the plain
    rendering's `error[CODE]: ...` followed by `--> file:line:col`).
RLIMIT_CPU (and a wall-clock timeout) stop a case that hangs, so a regression fails instead of hanging the suite.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import re
import resource
import subprocess
import sys
import threading
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SEEDS = (0, 1, 2, 3)
MAX_CPU_S = 2.0
MAX_RSS_MB = 500
HANG_CPU_S = 30  # RLIMIT_CPU: far past MAX_CPU_S, only so that a hang ends
HANG_WALL_S = 120


def _generators() -> list[tuple[str, object]]:
    out = []
    for path in sorted(HERE.glob("hostile_cases_*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        out += [(path.stem.removeprefix("hostile_cases_"), fn) for fn in module.CASES]
    return out


GENERATORS = _generators()
PARAMS = [(group, fn, seed) for group, fn in GENERATORS for seed in SEEDS]


def _limits() -> None:  # in the child, before exec
    resource.setrlimit(resource.RLIMIT_CPU, (HANG_CPU_S, HANG_CPU_S + 5))


def run_synthc(argv: list[str], cwd: Path) -> tuple[int, str, str, float, float]:
    """(exit code, stdout, stderr, CPU seconds, max RSS in MB) of `python -m synthc ARGV` in cwd."""
    env = dict(os.environ, SYNTHC_CACHE=str(cwd / ".cache"), OPENAI_API_KEY="sk-hostile-fuzz",
               SYNTHC_RETRY_BASE="0.001", SYNTHC_TIMEOUT="0.5", COLUMNS="120")
    env.pop("OPENAI_BASE_URL", None)
    out_path, err_path = cwd / ".stdout", cwd / ".stderr"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "synthc", *argv], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=err, preexec_fn=_limits)
        timer = threading.Timer(HANG_WALL_S, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    rss_mb = usage.ru_maxrss / 1024  # Linux reports KB
    return (proc.returncode, out_path.read_text(errors="replace"), err_path.read_text(errors="replace"), cpu, rss_mb)


@pytest.fixture(scope="session")
def startup_cpu(tmp_path_factory) -> float:
    """The CPU of `python -m synthc --version`: what every case pays before it does any work (best of 3)."""
    d = tmp_path_factory.mktemp("startup")
    return min(run_synthc(["--version"], d)[3] for _ in range(3))


def _has_positioned(code: str, text: str) -> bool:
    """The code with a file:line:col position: in the text rendering, or in `--format json` diagnostics."""
    if re.search(rf"\[{code}\][^\n]*\n\s*--> [^\n]+:\d+:\d+", text):
        return True
    try:
        found = json.loads(text[text.index("{"):]).get("diagnostics", [])
    except (ValueError, AttributeError):
        return False
    return any(d.get("code") == code and d.get("file") and d.get("line") and d.get("col") for d in found)


def test_the_harness_finds_case_modules():
    assert GENERATORS, "no tests/check/hostile_cases_*.py module with a CASES list"
    for group, fn in GENERATORS:
        case = fn(random.Random(0))
        assert set(case) == {"files", "argv", "exits", "code", "name"}, f"{group}.{fn.__name__}: keys {sorted(case)}"
        assert case["exits"] and case["exits"] <= {0, 1, 2}


def _project(case: dict, root: Path) -> Path:
    """A fresh project folder holding the case's files."""
    root.mkdir()
    (root / "synthc.toml").write_text("")
    for rel, content in case["files"].items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, tuple):  # ("symlink", target)
            os.symlink(content[1], p)
            continue
        p.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return root


@pytest.mark.parametrize("group,fn,seed", PARAMS, ids=[f"{g}-{fn.__name__}-{s}" for g, fn, s in PARAMS])
def test_hostile_case(group, fn, seed, tmp_path, startup_cpu):
    case = fn(random.Random(f"{group}:{fn.__name__}:{seed}"))
    rc, out, err, cpu, rss = run_synthc(case["argv"], _project(case, tmp_path / "first"))
    what = f"{case['name']} (synthc {' '.join(case['argv'][:2])}, seed {seed})"
    both = out + err
    assert "Traceback" not in both, f"{what}: a traceback\n{both[-3000:]}"
    assert "Warning" not in err, f"{what}: a Python warning reached stderr\n{err[-2000:]}"
    assert rc in case["exits"], f"{what}: exit {rc}, expected one of {sorted(case['exits'])}\n{both[-3000:]}"
    if case["code"]:
        assert _has_positioned(case["code"], both), \
            f"{what}: no {case['code']} diagnostic with a file:line:col position\n{both[-3000:]}"
    if cpu > MAX_CPU_S + startup_cpu:  # a noisy neighbour inflates CPU time too: the input's cost is the best of 2
        cpu = min(cpu, run_synthc(case["argv"], _project(case, tmp_path / "again"))[3])
    assert cpu <= MAX_CPU_S + startup_cpu, f"{what}: {cpu:.2f} s of CPU (startup {startup_cpu:.2f} s)"
    assert rss <= MAX_RSS_MB, f"{what}: {rss:.0f} MB resident"
