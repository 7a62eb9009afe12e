"""The round engine against a loopback fake with decode time: today's engine (a git revision, default 868bf3f)
vs this tree's chunked engine with rows per call cut to fill the pool (`WAVES` = 1, 2, 3) or not cut (`limit`:
k = the profile's limit, spares in free room). Two prompts of one text field each, the second reading the first's
output (a title, then a body for it). Prints per variant: round-1 calls, calls made, prompt and completion tokens
per row, wall, the calls' span (first request to last answer: the engine's part), synthc's CPU (the build process only) and peak
RSS, and the time from the last answer to the end;
and the decode-bound limit of the calls made (the larger of (completion tokens x ms per token + calls x latency) /
concurrency and the longest chain: the slowest call of each prompt, one after the other).

    .venv/bin/python bench/engine_bench.py --rows 200 1000 --conc 4 32            # wall, decode time
    .venv/bin/python bench/engine_bench.py --engine-only --rows 10000 100000 --conc 16 --variants base w1

`--engine-only` runs the round engine alone (plan, then `Executor.run` with an in-process client answering as
the fake does, no HTTP, no sleeping) in a subprocess per variant and prints its CPU (the fake's own answer time
subtracted) and the process's peak RSS: what the engine costs per row, without the checks and reports after it.

The build runs in a subprocess (`python -c` with the variant's WAVES set before `synthc.cli.main`, which prints
its own CPU time and peak RSS); `base` runs the revision's `compiler/` as package `synthc` from a temporary folder
on PYTHONPATH.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))
import build_bench  # noqa: E402,F401  (texts of the hinted word counts, a listen backlog for 32 clients)
from fake_openai import FakeOpenAI  # noqa: E402

MODEL = "bench-model"
SPEC = """dataset engine {{
  rows = {rows}
  seed = 3
  model = "bench"
}}

field topic: category ~ {{
  "tools": 25%
  "garden": 25%
  "kitchen": 25%
  "travel": 25%
}}
field tone: category ~ {{
  "plain": 40%
  "warm": 35%
  "dry": 25%
}}
field title: text from head {{ words = 8..12 }}
field body: text from write {{ words = 8..12 }}

prompt head {{
  user = "Write a {{tone}} headline about {{topic}}."
}}

prompt write {{
  user = "Write a {{tone}} note about {{topic}} under the headline: {{title}}"
}}
"""
# The build process itself: sets WAVES (no effect on the base revision), runs the CLI, and prints its own CPU
# seconds and peak RSS (KiB) on its last stderr line.
RUN = ("import resource, sys; import synthc.plan.batch as b; b.WAVES = int(sys.argv[1]); from synthc.cli import main\n"
       "try:\n    code = main(sys.argv[2:])\nfinally:\n    u = resource.getrusage(resource.RUSAGE_SELF)\n"
       "    print(f'\\nBENCH {u.ru_utime + u.ru_stime} {u.ru_maxrss}', file=sys.stderr)\nsys.exit(code)")
WAVES = {"base": 0, "limit": 0, "w1": 1, "w2": 2, "w3": 3}


ENGINE = """
import asyncio, json, resource, sys, time
sys.path.insert(0, sys.argv[1])
import synthc.plan.batch as b
b.WAVES = int(sys.argv[2])
from fake_openai import FakeOpenAI
from synthc.check import check_file
from synthc.generate.executor import Budget, Executor
from synthc.plan import build_plan
from synthc.profiles import generic
from synthc.run.cache import AnswerCache
from synthc.run.client import Answer

class InProcess:
    endpoint = "http://in-process/v1"
    def __init__(self):
        self.fake, self.spent = FakeOpenAI(), 0.0
    async def complete(self, body):
        t = time.process_time()
        _, _, p = self.fake.answer(body)
        self.spent += time.process_time() - t
        c = p["choices"][0]
        return Answer(c["message"]["content"], c["finish_reason"], p["usage"]["prompt_tokens"],
                      p["usage"]["completion_tokens"], p["model"])

spec = check_file(sys.argv[3]).spec
conc = int(sys.argv[5])
profile = generic("bench").model_copy(update={"max_rows_per_call": 25, "concurrency": conc})
t0 = time.process_time()
plan = build_plan(spec, None, profile)
client = InProcess()
engine = Executor(spec, plan, client, AnswerCache(sys.argv[4]), budget=Budget(max_rounds=5), workers=max(4, 2 * conc))
out = asyncio.run(engine.run())
cpu = time.process_time() - t0 - client.spent
print(json.dumps({"cpu": cpu, "fake": client.spent, "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "calls": out.counters.calls, "rounds": out.counters.rounds,
                  "accepted": sum(len(v) for v in out.accepted.values()),
                  "peak_in_flight": getattr(engine, "peak_rows_in_flight", None)}))
"""


def engine_only(variant: str, rows: int, conc: int, base: Path | None) -> dict:
    """The round engine alone, in its own process: CPU without the fake's answering, and peak RSS."""
    with tempfile.TemporaryDirectory(prefix="engine-only-") as tmp:
        spec = Path(tmp) / "engine.sds"
        spec.write_text(SPEC.format(rows=rows))
        env = {**os.environ, **({"PYTHONPATH": str(base)} if variant == "base" else {})}
        done = subprocess.run([sys.executable, "-c", ENGINE, str(ROOT / "tests"), str(WAVES[variant]), str(spec),
                               str(Path(tmp) / "cache"), str(conc)], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            print(done.stderr[-2000:], file=sys.stderr)
            return {}
        return json.loads(done.stdout.strip().splitlines()[-1])


class DecodeFake(FakeOpenAI):
    """Every chat answer takes `latency` + `ms_per_token` x its completion tokens (each request has its own
    server thread, so answers overlap as on a real server with free slots)."""

    latency = 0.2
    ms_per_token = 10.0

    def __post_init__(self):
        super().__post_init__()
        self.timings: list[tuple[bool, float]] = []  # (is a head call, seconds it took)
        self.last_answer = 0.0

    def answer(self, body, fault=None):
        status, headers, payload = super().answer(body, fault)
        took = self.latency + self.ms_per_token / 1000 * payload.get("usage", {}).get("completion_tokens", 0)
        time.sleep(took)
        with self._lock:
            self.timings.append(("headline" in json.dumps(body["messages"]), took))
            self.last_answer = time.monotonic()
        return status, headers, payload


def base_tree(rev: str, into: Path) -> Path:
    """The revision's compiler as package `synthc` (with its stdlib) under `into`."""
    for part in ("compiler", "stdlib"):
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, part], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    (into / "compiler").rename(into / "synthc")
    (into / "stdlib").rename(into / "synthc" / "stdlib")
    return into


def synthc(variant: str, args: list[str], env: dict, base: Path | None) -> tuple[subprocess.CompletedProcess, float]:
    """One synthc command of a variant in its own process, and its wall time."""
    if variant == "base":
        env = {**env, "PYTHONPATH": str(base)}
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", RUN, str(WAVES[variant]), *args], env=env, capture_output=True,
                          text=True)
    return done, time.perf_counter() - t


def one(variant: str, rows: int, conc: int, args, base: Path | None) -> dict:
    with tempfile.TemporaryDirectory(prefix="engine-bench-") as tmp, DecodeFake() as fake:
        fake.latency, fake.ms_per_token = args.latency, args.ms_per_token
        work = Path(tmp)
        (work / "synthc.toml").write_text(f'[profiles.bench]\nendpoint = "{fake.base_url}"\nmodel = "{MODEL}"\n'
                                          f"max_rows_per_call = 25\nconcurrency = {conc}\n")
        spec = work / "engine.sds"
        spec.write_text(SPEC.format(rows=rows))
        env = {**os.environ, "SYNTHC_CACHE": str(work / "cache"), "OPENAI_API_KEY": "sk-bench"}
        env.pop("OPENAI_BASE_URL", None)
        plan = json.loads(synthc(variant, ["plan", str(spec), "--json"], env, base)[0].stdout)
        done, wall = synthc(variant, ["build", str(spec), "--out", str(work / "out"), "--concurrency", str(conc),
                                      "--json"], env, base)
        end = time.monotonic()
        tail = done.stderr.strip().splitlines()[-1].split()
        cpu, rss = float(tail[1]), int(tail[2]) / 1024
        if done.returncode != 0:
            print(done.stderr[-2000:], file=sys.stderr)
        report = json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}
        heads = [t for h, t in fake.timings if h]
        writes = [t for h, t in fake.timings if not h]
        calls = len(fake.timings)
        bound = max((fake.completion_tokens * args.ms_per_token / 1000 + calls * args.latency) / conc,
                    max(heads, default=0) + max(writes, default=0))
        return {"variant": variant, "rows": rows, "conc": conc, "exit": done.returncode,
                "k": plan.get("rows_per_call"), "planned": plan.get("calls"), "calls": calls,
                "rounds": report.get("rounds"), "prompt_per_row": fake.prompt_tokens / rows,
                "completion_per_row": fake.completion_tokens / rows, "wall": wall, "limit": bound, "cpu": cpu,
                "cpu_ms_per_row": 1000 * cpu / rows, "rss": rss,
                "after_last": end - fake.last_answer if fake.last_answer else 0.0,
                "span": fake.last_answer - min((q.at for q in fake.chat_requests), default=fake.last_answer)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, nargs="+", default=[200, 1000])
    ap.add_argument("--conc", type=int, nargs="+", default=[4, 32])
    ap.add_argument("--variants", nargs="+", default=["base", "limit", "w1", "w2", "w3"])
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--ms-per-token", type=float, default=10.0)
    ap.add_argument("--base", default="868bf3f", help="the revision of today's engine")
    ap.add_argument("--engine-only", action="store_true", help="the round engine alone: CPU and peak RSS")
    args = ap.parse_args()
    if args.engine_only:
        head = ("| rows | conc | variant | calls | rounds | engine CPU s | CPU ms/row | peak RSS MiB | fake CPU s "
                "| peak rows in flight |")
        line = ("| {rows:,} | {conc} | {v} | {r[calls]} | {r[rounds]} | {r[cpu]:.1f} | {per:.3f} | {r[rss]:.0f} "
                "| {r[fake]:.1f} | {r[peak_in_flight]} |")
    else:
        head = ("| rows | conc | variant | k | calls planned | calls | rounds | prompt tok/row | completion tok/row "
                "| wall s | calls span s | limit s | span/limit | CPU s | CPU ms/row | peak RSS MiB "
                "| after last answer s | exit |")
        line = ("| {rows:,} | {conc} | {v} | {r[k]} | {r[planned]} | {r[calls]} | {r[rounds]} | {r[prompt_per_row]:.1f} "
                "| {r[completion_per_row]:.1f} | {r[wall]:.1f} | {r[span]:.1f} | {r[limit]:.1f} "
                "| {ratio:.2f} | {r[cpu]:.1f} | {r[cpu_ms_per_row]:.2f} | {r[rss]:.0f} | {r[after_last]:.2f} "
                "| {r[exit]} |")
    print(head)
    print("|" + " --- |" * (head.count("|") - 1))
    with tempfile.TemporaryDirectory(prefix="engine-base-") as tmp:
        base = base_tree(args.base, Path(tmp)) if "base" in args.variants else None
        for rows in args.rows:
            for conc in args.conc:
                for v in args.variants:
                    r = engine_only(v, rows, conc, base) if args.engine_only else one(v, rows, conc, args, base)
                    if r:
                        print(line.format(rows=rows, conc=conc, v=v, r=r, per=1000 * r["cpu"] / rows,
                                          ratio=r.get("span", 0) / r.get("limit", 1) if "limit" in r else 0),
                              flush=True)


if __name__ == "__main__":
    main()
