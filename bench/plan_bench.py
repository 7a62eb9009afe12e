"""Planner benchmark: wall time and peak memory of `build_plan` over rows x strata.

    .venv/bin/python bench/plan_bench.py            # the grid below, table on stdout
    .venv/bin/python bench/plan_bench.py --write    # ... and into bench/RESULTS.md under "## Planner"

Each case runs in its own process, so peak RSS (ru_maxrss) is that case's own. The spec: F independent
categorical fields with V values each (V^F strata, shares drawn with a fixed seed), a conditional field on
the first one (with a zero share, so some cells are structurally empty), one numeric field and one prompt writing a text
field (gpt-4o-mini profile: 25 rows per call). Target: 1e6 rows over 10,000 strata in under 5 s.
"""

from __future__ import annotations

import json
import os
import platform
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

from synthc import ir

# (rows, fields F, values per field V): strata = 2 V^F - V^(F-1) (the conditional field's two values, minus
# the cells its zero share removes): 11, 99, 946, 10,011 and 99,937. Not the full product of rows x strata:
# the rows sweep at 10k strata, the strata sweep at 1e6 rows, and the corners.
GRID = [
    (1_000, 2, 71), (10_000, 2, 71), (100_000, 2, 71), (1_000_000, 2, 71), (10_000_000, 2, 71),
    (1_000_000, 1, 6), (1_000_000, 1, 50), (1_000_000, 2, 22), (1_000_000, 3, 37),
    (1_000, 3, 37), (10_000_000, 3, 37),
]
BUDGET_S = 5.0


def bench_spec(rows: int, n_fields: int, n_values: int) -> ir.Spec:
    rng = random.Random(f"bench:{n_fields}:{n_values}")
    fields = []
    for j in range(n_fields):
        weights = [rng.uniform(1, 3) for _ in range(n_values)]
        total = sum(weights)
        values = tuple(f"f{j}v{i}" for i in range(n_values))
        fields.append(ir.Field(name=f"f{j}", role="sampled", categorical=True,
                               type=ir.Type(kind="category", values=values),
                               dist=ir.Dist(kind="shares", shares=tuple(
                                   ir.Share(value=v, share=w / total) for v, w in zip(values, weights)))))
    # A two-valued field given the first field, and a rule tying them: stratification with real structure.
    first = fields[0].type.values
    cases = tuple(ir.Case(when=v, dist=ir.Dist(kind="shares", shares=(
        ir.Share(value="short", share=0.5 if i else 0.0), ir.Share(value="long", share=0.5 if i else 1.0))))
        for i, v in enumerate(first))
    fields.append(ir.Field(name="length", role="sampled", categorical=True,
                           type=ir.Type(kind="category", values=("short", "long")),
                           given=ir.Conditional(on="f0", cases=cases), depends_on=("f0",)))
    fields.append(ir.Field(name="score", role="sampled", type=ir.Type(kind="float", low=0.0, high=10.0),
                           dist=ir.Dist(kind="normal", params={"mean": 6.0, "sd": 2.0})))
    fields.append(ir.Field(name="body", role="generated", type=ir.Type(kind="text"), prompt="write",
                           hints=ir.LengthHints(words=(30, 80)), depends_on=tuple(f.name for f in fields[:2])))
    inputs = tuple(f.name for f in fields if f.role == "sampled")
    text = "Write a text about " + ", ".join("{" + n + "}" for n in inputs) + "."
    prompt = ir.Prompt(name="write", user=ir.Template(text=text, fields=inputs), inputs=inputs, outputs=("body",))
    return ir.Spec(dataset=ir.Dataset(name="bench", rows=rows, seed=1, model="gpt-4o-mini", formats=("jsonl",)),
                   fields=tuple(fields), prompts=(prompt,))


def run_case(rows: int, n_fields: int, n_values: int) -> dict:
    from synthc.plan import build_plan

    spec = bench_spec(rows, n_fields, n_values)
    t0 = time.perf_counter()
    plan = build_plan(spec)
    wall = time.perf_counter() - t0
    assert plan.ok, plan.problems
    assert sum(s.rows for s in plan.strata) == rows
    assert plan.calls == plan.lower_bound_calls
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cells = 2 * n_values ** n_fields - n_values ** (n_fields - 1)
    return {"rows": rows, "cells": cells, "strata": len(plan.strata), "calls": plan.calls,
            "seconds": round(wall, 3), "peak_mib": round(peak_kib / 1024, 1)}


def table(results: list[dict]) -> str:
    lines = ["| strata (cells) | rows | strata with rows | calls | plan time (s) | peak RSS (MiB) |",
             "|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r['cells']:,} | {r['rows']:,} | {r['strata']:,} | {r['calls']:,} | {r['seconds']:.3f} "
                     f"| {r['peak_mib']:.0f} |")
    return "\n".join(lines)


def write_results(text: str) -> None:
    path = Path(__file__).with_name("RESULTS.md")
    old = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    head = "## Planner"
    if head in old:
        before, rest = old.split(head, 1)
        nxt = rest.find("\n## ")
        after = rest[nxt:] if nxt >= 0 else "\n"
        new = before + text + after
    else:
        new = old.rstrip("\n") + "\n\n" + text + "\n"
    path.write_text(new, encoding="utf-8")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--case":
        print(json.dumps(run_case(*map(int, sys.argv[2:5]))))
        return
    results = []
    for rows, f, v in GRID:
        out = subprocess.run([sys.executable, __file__, "--case", str(rows), str(f), str(v)],
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout)
        results.append(r)
        print(f"{r['rows']:>11,} rows {r['cells']:>8,} strata  {r['seconds']:7.3f} s  {r['peak_mib']:7.0f} MiB",
              file=sys.stderr)
    results.sort(key=lambda r: (r["cells"], r["rows"]))
    target = next(r for r in results if r["rows"] == 1_000_000 and r["cells"] == 10_011)
    verdict = "met" if target["seconds"] < BUDGET_S else "NOT met"
    machine = f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs, {platform.machine()}"
    text = (f"## Planner\n\n`build_plan` wall time (time.perf_counter) and peak RSS of the whole process "
            f"(getrusage, one process per case, includes the interpreter and pydantic, ~50 MiB) on {machine}.\n"
            f"Reproduce: `.venv/bin/python bench/plan_bench.py --write`\n\n{table(results)}\n\n"
            f"Target (1e6 rows over ~10,000 strata in under {BUDGET_S:g} s): {verdict} "
            f"({target['seconds']:.2f} s for {target['cells']:,} strata).\n\n"
            "Strata (cells) counts every allowed combination; with fewer rows than cells, many get no row. The plan\n"
            "holds per-stratum quotas and call batches, not rows, so time and memory grow with strata, barely with\n"
            "rows (row ids and numeric values are computed on demand, e.g. by --emit-batch).\n")
    print(text)
    if "--write" in sys.argv:
        write_results(text)


if __name__ == "__main__":
    main()
