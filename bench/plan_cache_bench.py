"""`synthc plan` and `synthc diff` with a full cache (issue 21 item 3): round 1 priced from the row store's index
against the same round replayed row by row, in one run.

    .venv/bin/python bench/plan_cache_bench.py [--rows 10000 100000] [--concurrency 16] [--latency 0.005]
                                               [--no-replay-above N] [--in-process-above N]
                                               [--synthetic-above N]

For each row count: bench/scale_bench.py's reviews task is built against the loopback fake (the build writes the
answers, the row store and its index), then each of these runs as its own synthc process, timed from outside
(wall) and by wait4 (CPU, peak RSS):

- `plan --json` with no cache folder, and with an empty one;
- `plan --json` and `diff SPEC SPEC --json` with the full cache: read from the index;
- the same two with the index moved aside: the replay (`generate.predict.replayed`, the engine over every row),
  which is what both did before the index. Skipped above `--no-replay-above` rows (default: never).

`--in-process-above N`: above N rows the cache is written by the build's round engine in a process of its own
with the fake answering in-process (no HTTP; `Executor.run`, then the row store's entries and index as `synthc
build` writes them; no checks, reports or outputs, which `plan` does not read): a 10^6-row `synthc build` takes
too long and too much memory on this machine (issue 21).

`--synthetic-above N`: above N rows nothing is built: the row store gets one placeholder entries file and the index
that a build of this task writes when the fake's answers all pass (every prompt holds and passes round 1's rows;
`synthetic_index` below). `plan` and `diff` read only the index on that path, never the entries, so their time is
what it would be after a real build, but the replay cannot run (there are no entries) and is skipped. At the row
counts that are built, the script compares the synthetic index with the one the build wrote ("synthetic = built").

The figures the two print (`this_build`, the diff's `plan` object) must be equal; the script says so and stops
if they differ.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_bench import MODEL, spec_copy  # noqa: E402

from synthc.check import check_file  # noqa: E402
from synthc.generate.accept import row_constraints  # noqa: E402
from synthc.plan.carry import contexts, stratum_digest, union  # noqa: E402
from synthc.plan.judges import engine_spec  # noqa: E402
from synthc.plan.stages import schedule  # noqa: E402
from synthc.run.rowstore import RowStore  # noqa: E402
from synthc.tasks.build import BuildOptions, prepare  # noqa: E402
from scale_bench import Run, TimedFake, run_synthc  # noqa: E402


IN_PROCESS = """
import asyncio, json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from build_bench import fake_openai
from synthc.check import check_file
from synthc.generate.executor import Budget, Executor
from synthc.run.client import Answer
from synthc.run.rowstore import RowStore
from synthc.tasks.build import BuildOptions, prepare

class InProcess:
    def __init__(self, endpoint):
        self.endpoint, self.fake, self.calls = endpoint, fake_openai.FakeOpenAI(), 0
    async def complete(self, body):
        self.calls += 1
        _, _, p = self.fake.answer(body)
        c = p["choices"][0]
        return Answer(c["message"]["content"], c["finish_reason"], p["usage"]["prompt_tokens"],
                      p["usage"]["completion_tokens"], p["model"])

path = Path(sys.argv[2])
spec = check_file(path, path.name).spec
prep = prepare(spec, path, BuildOptions(offline=True, endpoint=sys.argv[3], model=sys.argv[4]))
client = InProcess(prep.endpoint.identity)
t0 = time.monotonic()
out = asyncio.run(Executor(spec, prep.plan, client, prep.cache, budget=Budget(min_yield=0.0), workers=32,
                           store=RowStore(prep.cache.root)).run())
assert out.stopped is None, out.stopped
RowStore(prep.cache.root).add(out.new_rows, out.index.to_json(prep.plan.strata))
print(json.dumps({"calls": client.calls, "wall": time.monotonic() - t0,
                  "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def build_in_process(spec: Path, endpoint: str, env: dict, python: str) -> Run:
    """The cache of a finished build, written by the round engine with the fake in-process (see above)."""
    t = time.monotonic()
    done = subprocess.run([python, "-c", IN_PROCESS, str(Path(__file__).resolve().parent), str(spec), endpoint,
                           MODEL], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(done.stderr[-3000:])
    got = json.loads(done.stdout)
    return Run(0, time.monotonic() - t, 0.0, got["rss"], got["calls"], None, None, done.stdout)


def synthetic_index(spec_path: Path, endpoint: str) -> dict:
    """The index a finished build of this task writes when every answer passes: at every stage, each stratum holds
    and passes the rows round 1 asks (the first prompt's segments); no constraint over planned values."""
    spec = check_file(spec_path, spec_path.name).spec
    prep = prepare(spec, spec_path, BuildOptions(offline=True, endpoint=endpoint, model=MODEL))
    espec = engine_spec(spec)
    sched = schedule(espec, prep.plan.prompts, row_constraints(espec, prep.plan))
    ctx = contexts(espec, prep.plan, prep.endpoint.identity, sched)
    rows: dict[int, list] = {}
    for b in sched.stages[0].pp.batches:
        for seg in b.segments:
            rows.setdefault(seg.stratum, []).append([seg.start, seg.start + seg.count])
    strata = {prep.plan.strata[si].key: {"v": stratum_digest(prep.plan.strata[si]), "held": union(r, []),
                                         "ok": union(r, [])} for si, r in sorted(rows.items())}
    return {"stages": {c: strata for c in ctx.stages}, "dead": {}}


def write_synthetic(cache: Path, index: dict) -> None:
    store = RowStore(cache)
    store.dir.mkdir(parents=True)
    (store.dir / "placeholder.json").write_text('{"version": 1, "rows": {}}\n')
    store.add({}, index)


def built_index(cache: Path) -> dict:
    merged = RowStore(cache).index()
    return {"stages": {c: {k: {"v": v, "held": h, "ok": o} for k, (v, h, o) in by.items()}
                       for c, by in merged.stages.items()},
            "dead": {c: {k: {"v": v, "dead": d} for k, (v, d) in by.items()} for c, by in merged.dead.items()}}


def bench(rows: int, conc: int, latency: float, python: str, replay: bool, in_process: bool,
          synthetic: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="synthc-plan-") as tmp, TimedFake() as fake:
        fake.latency = latency
        work = Path(tmp)
        cache = work / "cache"
        env = dict(os.environ, OPENAI_API_KEY="dummy", SYNTHC_CACHE=str(cache))
        env.pop("OPENAI_BASE_URL", None)
        spec = spec_copy(work, rows)
        named = ["--endpoint", fake.base_url, "--model", MODEL]
        out: dict = {"rows": rows}
        if synthetic:
            write_synthetic(cache, synthetic_index(spec, fake.base_url))
            build, replay = Run(0, 0.0, 0.0, 0.0, 0, None, None, ""), False
        elif in_process:
            build = build_in_process(spec, fake.base_url, env, python)
        else:
            build = run_synthc(fake, ["build", str(spec), "--out", str(work / "out"), *named, "--concurrency",
                                      str(conc), "--json"], env, python, None)
        plan_args, diff_args = ["plan", str(spec), *named, "--json"], ["diff", str(spec), str(spec), *named, "--json"]
        out["build"] = build
        if not synthetic:
            out["synthetic_same"] = synthetic_index(spec, fake.base_url) == built_index(cache)
        out["no_cache"] = run_synthc(fake, plan_args, dict(env, SYNTHC_CACHE=str(work / "none")), python, None)
        (work / "empty").mkdir()
        out["empty_cache"] = run_synthc(fake, plan_args, dict(env, SYNTHC_CACHE=str(work / "empty")), python, None)
        out["plan_index"] = run_synthc(fake, plan_args, env, python, None)
        out["diff_index"] = run_synthc(fake, diff_args, env, python, None)
        if replay:
            shutil.move(cache / "rows" / "index", work / "index-aside")
            out["plan_replay"] = run_synthc(fake, plan_args, env, python, None)
            out["diff_replay"] = run_synthc(fake, diff_args, env, python, None)
            shutil.move(work / "index-aside", cache / "rows" / "index")
            same_plan = _this_build(out["plan_index"]) == _this_build(out["plan_replay"])
            same_diff = _diff_plan(out["diff_index"]) == _diff_plan(out["diff_replay"])
            out["same"] = same_plan and same_diff
        out["this_build"] = _this_build(out["plan_index"])
        return out


def _this_build(run: Run):
    return json.loads(run.stdout).get("this_build") if run.exit == 0 else f"exit {run.exit}"


def _diff_plan(run: Run):
    try:
        return json.loads(run.stdout)["plan"]
    except (ValueError, KeyError):
        return f"exit {run.exit}"


def _cell(r: dict, key: str) -> str:
    run = r.get(key)
    return "–" if run is None else f"{run.wall:.2f} / {run.cpu:.2f} / {run.peak_rss_mib:.0f}"


def table(results: list[dict]) -> str:
    cols = [("no_cache", "plan, no cache"), ("empty_cache", "plan, empty cache"), ("plan_index", "plan, index"),
            ("plan_replay", "plan, replay"), ("diff_index", "diff, index"), ("diff_replay", "diff, replay")]
    out = ["| rows | cache written by | build calls | " + " | ".join(f"{name}: wall / CPU (s) / RSS (MiB)" for _, name in cols)
           + " | plan replay / index (CPU) | same figures | synthetic = built |",
           "|---:|---|---:|" + "---:|" * len(cols) + "---:|---|---|"]
    for r in results:
        ratio = (f"{r['plan_replay'].cpu / r['plan_index'].cpu:.1f}x" if "plan_replay" in r else "–")
        out.append(f"| {r['rows']:,} | {r['built']} | {r['build'].calls:,} | " + " | ".join(_cell(r, k) for k, _ in cols)
                   + f" | {ratio} | {r.get('same', '–')} | {r.get('synthetic_same', '–')} |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--latency", type=float, default=0.005, help="seconds the fake waits before each answer")
    ap.add_argument("--python", default=sys.executable, help="the interpreter that runs synthc")
    ap.add_argument("--no-replay-above", type=int, default=None, metavar="N",
                    help="skip the replay (minutes at 10^5 rows and more) above N rows")
    ap.add_argument("--synthetic-above", type=int, default=None, metavar="N",
                    help="above N rows, no build: a placeholder row store and the index an all-passing build writes")
    ap.add_argument("--in-process-above", type=int, default=None, metavar="N",
                    help="above N rows, write the cache with the round engine in-process (no synthc build)")
    a = ap.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} (cores: {os.cpu_count()})", file=sys.stderr)
    results = []
    for n in a.rows:
        replay = a.no_replay_above is None or n <= a.no_replay_above
        in_process = a.in_process_above is not None and n > a.in_process_above
        synthetic = a.synthetic_above is not None and n > a.synthetic_above
        r = bench(n, a.concurrency, a.latency, a.python, replay, in_process, synthetic)
        r["built"] = "synthetic index" if synthetic else "in-process engine" if in_process else "synthc build"
        print(f"rows={n}: build exit {r['build'].exit}, {r['build'].calls} calls; this_build {r['this_build']}; "
              f"same figures: {r.get('same', 'not compared')}; synthetic index = built: "
              f"{r.get('synthetic_same', 'not compared')}; load average {os.getloadavg()[0]:.2f}",
              file=sys.stderr, flush=True)
        results.append(r)
        if r.get("same") is False:
            print(table(results))
            sys.exit("the index and the replay disagree")
    print(table(results))


if __name__ == "__main__":
    main()
