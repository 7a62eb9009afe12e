"""Loading and counting 1,000,000 reference rows through the path `synthc check` takes (check.reference: DuckDB
scans the file into a table, checks columns, types, domains and missing values, counts the usable rows per
stratum with the holdout test and draws the few-shot pool), for JSONL and Parquet.

The file is the shipped examples/package_descriptions/data/packages.jsonl (2,000 real rows) repeated to 1e6 rows
in a temporary folder (Parquet written from it by DuckDB); the spec is examples/package_descriptions/packages.sds
pointed at it (complete, downsample, 20% holdout, examples = real(3)). Baselines in the same run: DuckDB's bare
`SELECT count(*)` of the same file (the floor: reading it at all), and a Python loop of json.loads over the JSONL
lines (what loading the rows into Python would cost before any check).

    .venv/bin/python bench/reference_bench.py [--rows 1000000] [--runs 3] [--write]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "package_descriptions"
TARGET = 2.0  # seconds, for 1e6 rows


def make_files(folder: Path, rows: int) -> dict[str, Path]:
    lines = (EXAMPLE / "data" / "packages.jsonl").read_bytes().splitlines(keepends=True)
    jsonl = folder / "data" / "rows.jsonl"
    jsonl.parent.mkdir(parents=True)
    with jsonl.open("wb") as f:
        whole, rest = divmod(rows, len(lines))
        block = b"".join(lines)
        for _ in range(whole):
            f.write(block)
        f.write(b"".join(lines[:rest]))
    parquet = folder / "data" / "rows.parquet"
    con = duckdb.connect()
    con.execute(f"COPY (SELECT * FROM read_json('{jsonl}', format = 'newline_delimited')) TO '{parquet}' "
                "(FORMAT parquet)")
    con.close()
    (folder / "synthc.toml").write_text("")
    return {"jsonl": jsonl, "parquet": parquet}


def spec_for(folder: Path, fmt: str) -> Path:
    text = (EXAMPLE / "packages.sds").read_text(encoding="utf-8").replace("data/packages.jsonl", f"data/rows.{fmt}")
    spec = folder / f"bench_{fmt}.sds"
    spec.write_text(text, encoding="utf-8")
    return spec


def timed(fn, runs: int) -> tuple[float, float, object]:
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--write", action="store_true", help="append the table to bench/RESULTS.md")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from synthc.check import check_file
    from synthc.check.reference import reader

    results = []
    with tempfile.TemporaryDirectory(prefix="synthc-refbench-") as tmp:
        folder = Path(tmp)
        files = make_files(folder, args.rows)
        check_file(spec_for(folder, "jsonl"))  # warm-up: imports, the grammar
        for fmt, path in files.items():
            spec = spec_for(folder, fmt)

            def check():
                r = check_file(spec)
                assert r.spec is not None, [d.message for d in r.diagnostics]
                return r.spec.reference

            def bare():
                con = duckdb.connect()
                try:
                    return con.execute(f"SELECT count(*) FROM {reader(fmt)}", [str(path)]).fetchone()[0]
                finally:
                    con.close()

            lo, med, ref = timed(check, args.runs)
            assert ref.rows == args.rows, ref.rows
            blo, bmed, n = timed(bare, args.runs)
            assert n == args.rows
            results.append((fmt, path.stat().st_size, ref.rows, ref.usable, lo, med, blo, bmed))
        jlo, jmed, n = timed(lambda: sum(1 for line in files["jsonl"].open("rb") if json.loads(line)), 1)
        assert n == args.rows

    load = os.getloadavg()[0]
    head = (f"`synthc check` of `examples/package_descriptions/packages.sds` over {args.rows:,} reference rows "
            f"(the shipped 2,000 repeated), wall time (time.perf_counter), min and median of {args.runs} runs after a "
            f"warm-up, on CPython {platform.python_version()}, {os.cpu_count()} CPUs, {platform.machine()}, load "
            f"average {load:.1f} when it ran.\nReproduce: `.venv/bin/python bench/reference_bench.py --write`")
    table = ["| file | size (MiB) | rows | usable | check min (s) | check median (s) | DuckDB count(*) median (s) | "
             "check / count(*) |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for fmt, size, rows, usable, lo, med, blo, bmed in results:
        table.append(f"| {fmt} | {size / 2**20:,.1f} | {rows:,} | {usable:,} | {lo:.3f} | {med:.3f} | {bmed:.3f} | "
                     f"{med / bmed:.1f}x |")
    worst = max(r[5] for r in results)
    verdict = (f"Target (1e6 reference rows loaded and counted in under {TARGET:.0f} s): "
               f"{'met' if worst < TARGET else 'NOT met'} ({worst:.2f} s median for the slower format). "
               f"Loading the JSONL lines into Python with json.loads alone takes {jmed:.2f} s "
               f"({jmed / results[0][5]:.1f}x the whole check of that file).")
    text = "\n".join([head, "", *table, "", verdict])
    print(text)
    if args.write:
        with (ROOT / "bench" / "RESULTS.md").open("a", encoding="utf-8") as f:
            f.write("\n## Reference data\n\n" + text + "\n")


if __name__ == "__main__":
    main()
