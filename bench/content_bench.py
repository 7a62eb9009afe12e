"""The content figures on 10^5 and 10^6 rows (issue 21): each figure's CPU, the seeded sample included.

    .venv/bin/python bench/content_bench.py [--rows 100000 1000000]

A DuckDB table `data` of N rows (texts of 15-75 words drawn by DuckDB from 1,800 made-up words, a label of three
values) stands for a built dataset. Each figure is measured as the checks measure it: the sample DuckDB picks
(quality/sample.py), then the figure in Python (the shortcut_lift cell fits once: its memo is cold).
"""

from __future__ import annotations

import argparse
import os
import time

import duckdb

from synthc.quality import sample
from synthc.quality.diversity import compression_ratio, distinct_n, self_similarity
from synthc.quality.neardup import near_duplicate_rejects
from synthc.quality.shortcuts import shortcut_lift

WORDS = [a + b + c for a in ("ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "po", "da", "fe", "gu", "hi", "ju")
         for b in ("ber", "lin", "mor", "tas", "vek", "don", "rus", "pel", "gan", "sto", "wim", "nox")
         for c in ("", "a", "el", "in", "o", "um", "ar", "is", "et", "y")]


def table(n: int) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SELECT setseed(0.5)")
    con.execute(f"""CREATE TABLE data AS
        SELECT i, ['a', 'b', 'c'][1 + i % 3] AS topic,
               array_to_string(list_transform(range(15 + (hash(i) % 61)::INT),
                   lambda x: ?[1 + (hash(i * 131 + x) % {len(WORDS)})::INT]), ' ') AS note
        FROM range({n}) r(i) ORDER BY i""", [WORDS])
    return con


def timed(f):
    t = time.process_time()
    out = f()
    return out, time.process_time() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    a = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}")
    print("| rows | sample | distinct_3 | compression_ratio | self_similarity | shortcut_lift | near-duplicates on the "
          "sample |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n in a.rows:
        con = table(n)
        cells = []
        for name, f in (("distinct_3", lambda t: distinct_n(t, 3)), ("compression", compression_ratio),
                        ("self_similarity", self_similarity)):
            _, s = timed(lambda: f([r[0] for r in sample.sampled(con, "data", ["note"], 1)[0]]))
            cells.append(f"{s:.2f} s")
        rows = sample.sampled(con, "data", ["topic", "note"], 1)[0]
        _, s = timed(lambda: shortcut_lift([r[0] for r in sample.sampled(con, "data", ["topic", "note"], 1)[0]],
                                           [r[1] for r in rows], 1))
        cells.append(f"{s:.2f} s")
        _, s = timed(lambda: near_duplicate_rejects([r[0] for r in sample.sampled(con, "data", ["note"], 1)[0]], 0.8, 1))
        cells.append(f"{s:.2f} s")
        print(f"| {n:,} | {min(n, sample.SAMPLE):,} | " + " | ".join(cells) + " |", flush=True)
        con.close()



if __name__ == "__main__":
    main()
