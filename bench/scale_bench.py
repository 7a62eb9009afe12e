"""synthc at scale (issue 21): a build of 10^4, 10^5 (and 10^6) rows against the loopback fake, measured on the
build process alone: its CPU, CPU per row, peak RSS, and the wall and CPU after the fake's last answer; then a
no-op rebuild of each (0 calls) and `synthc plan` with the full cache.

    .venv/bin/python bench/scale_bench.py [--rows 10000 100000] [--concurrency 16] [--latency 0.01]
                                          [--profile DIR] [--python PATH] [--no-plan] [--no-noop]

The task is bench/build_bench.py's: the reviews example with `model = "gpt-4o-mini"` (25 rows per call), its
judge, and every constraint but the two that need the row's `length` category; the fake writes texts of the
hinted word count. The fake answers each call after `--latency` seconds (10 ms: the calls are not what is
measured). synthc runs as its own process (`python -m synthc`): its CPU and peak RSS come from wait4's rusage,
and the fake samples the process's CPU (/proc/PID/stat) as it answers, so "after the last answer" is the CPU
and wall the build spent from the last answer to its exit (checks, reports, outputs). `--profile DIR` runs each
synthc process under cProfile and writes DIR/<rows>-<step>.prof; `--python` picks the interpreter (another
checkout's venv: today's engine next to a changed one).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_bench  # noqa: E402  (its fake: texts of the hinted length, a deep listen backlog)
from build_bench import MODEL, spec_copy  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_of(pid: int) -> float | None:
    """User + system CPU seconds of a live process (None once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICK


class TimedFake(build_bench.fake_openai.FakeOpenAI):
    """Answers after `latency` seconds and notes, at each answer, the time and the watched process's CPU."""

    latency: float = 0.01
    pid: int | None = None
    last: tuple[float, float | None] | None = None

    def answer(self, body, fault=None):
        time.sleep(self.latency)
        out = super().answer(body, fault)
        self.last = (time.monotonic(), cpu_of(self.pid) if self.pid else None)
        return out


@dataclass
class Run:
    exit: int
    wall: float
    cpu: float
    peak_rss_mib: float
    calls: int
    after_wall: float | None  # from the last answer to the exit (None: no call)
    after_cpu: float | None
    stdout: str


def run_synthc(fake: TimedFake, args: list[str], env: dict, python: str, prof: Path | None) -> Run:
    cmd = [python, *(["-m", "cProfile", "-o", str(prof)] if prof else []), "-m", "synthc", *args]
    c0 = fake.calls
    fake.last = None
    t0 = time.monotonic()
    with tempfile.TemporaryFile("w+") as out:
        p = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.DEVNULL, text=True)
        fake.pid = p.pid
        _, status, usage = os.wait4(p.pid, 0)
        t1 = time.monotonic()
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        stdout = out.read()
    fake.pid = None
    cpu = usage.ru_utime + usage.ru_stime
    after_wall = after_cpu = None
    if fake.last is not None:
        after_wall = t1 - fake.last[0]
        after_cpu = cpu - fake.last[1] if fake.last[1] is not None else None
    return Run(p.returncode, t1 - t0, cpu, usage.ru_maxrss / 1024, fake.calls - c0, after_wall, after_cpu, stdout)


def bench(rows: int, conc: int, latency: float, python: str, profile: Path | None, plan: bool = True,
          noop: bool = True) -> dict:
    with tempfile.TemporaryDirectory(prefix="synthc-scale-") as tmp, TimedFake() as fake:
        fake.latency = latency
        work = Path(tmp)
        env = dict(os.environ, OPENAI_API_KEY="dummy", SYNTHC_CACHE=str(work / "cache"))
        env.pop("OPENAI_BASE_URL", None)
        spec = spec_copy(work, rows)
        args = ["build", str(spec), "--out", str(work / "out"), "--endpoint", fake.base_url, "--model", MODEL,
                "--concurrency", str(conc), "--json"]
        prof = (lambda step: profile / f"{rows}-{step}.prof") if profile else (lambda step: None)
        first = run_synthc(fake, args, env, python, prof("build"))
        noop = run_synthc(fake, args, env, python, prof("noop")) if noop else None
        plan = run_synthc(fake, ["plan", str(spec), "--endpoint", fake.base_url, "--model", MODEL, "--json"], env,
                          python, prof("plan")) if plan else None
        report = json.loads(first.stdout) if first.exit in (0, 1) else {}
        return {"rows": rows, "concurrency": conc, "build": first, "noop": noop, "plan": plan,
                "written": report.get("rows"), "checks_failed": [c["name"] for c in report.get("checks", [])
                                                                 if not c.get("passed")]}


def _f(v, fmt: str) -> str:
    return "–" if v is None else format(v, fmt)


def table(results: list[dict]) -> str:
    out = ["| rows | calls | synthc CPU (s) | CPU per row (ms) | peak RSS (MiB) | after the last answer: wall / CPU (s) "
           "| no-op rebuild: calls, CPU (s), peak RSS (MiB) | plan with the cache: wall (s), peak RSS (MiB) |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        b, n, p = r["build"], r["noop"], r["plan"]
        out.append(f"| {r['rows']:,} | {b.calls:,} | {b.cpu:.1f} | {1000 * b.cpu / r['rows']:.3f} | {b.peak_rss_mib:.0f} "
                   f"| {_f(b.after_wall, '.2f')} / {_f(b.after_cpu, '.2f')} | {f'{n.calls}, {n.cpu:.1f}, {n.peak_rss_mib:.0f}' if n else 'not run'} "
                   f"| {f'{p.wall:.2f}, {p.peak_rss_mib:.0f}' if p else 'not run'} |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--latency", type=float, default=0.01, help="seconds the fake waits before each answer")
    ap.add_argument("--python", default=sys.executable, help="the interpreter that runs synthc")
    ap.add_argument("--profile", type=Path, help="write a cProfile file per synthc process into this folder")
    ap.add_argument("--no-plan", action="store_true", help="skip `synthc plan` with the full cache (issue 21 item 3)")
    ap.add_argument("--no-noop", action="store_true", help="skip the no-op rebuild")
    a = ap.parse_args()
    if a.profile:
        a.profile.mkdir(parents=True, exist_ok=True)
    print(f"load average before: {os.getloadavg()[0]:.2f} (cores: {os.cpu_count()})", file=sys.stderr)
    results = []
    for n in a.rows:
        r = bench(n, a.concurrency, a.latency, a.python, a.profile, not a.no_plan, not a.no_noop)
        b = r["build"]
        print(f"rows={n}: exit {b.exit} ({r['written']} rows written, failed checks: {r['checks_failed']}), no-op "
              f"exit {r['noop'].exit if r['noop'] else '-'}, plan exit {r['plan'].exit if r['plan'] else '-'}; load average {os.getloadavg()[0]:.2f}",
              file=sys.stderr, flush=True)
        results.append(r)
    print(table(results))


if __name__ == "__main__":
    main()
