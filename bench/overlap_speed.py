"""The near-copy index against the one it replaced, on eval_bench's sides, in one run: nearest real text of
100,000 synthetic texts among 10,000 real ones, and near_unique's pairs within the 100,000.

    .venv/bin/python bench/overlap_speed.py [--synthetic 100000] [--real 10000]

Before: word 3-shingle Jaccard by sparse products (quality.similarity.NearestIndex / pairs_above). After: the word
overlap of quality.overlap.OverlapIndex (sparse products over the rarer words, popcounts over the 128 most frequent).
Both sides as bench/eval_bench.py builds them (Debian synopses, words shuffled).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time

from eval_bench import DATA, rows
from synthc.quality.overlap import OverlapIndex, copy_words
from synthc.quality.similarity import NearestIndex, pairs_above
from synthc.quality.tokens import shingles


def timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--synthetic", type=int, default=100_000)
    ap.add_argument("--real", type=int, default=10_000)
    a = ap.parse_args()
    base = [json.loads(x) for x in DATA.read_text(encoding="utf-8").splitlines()]
    rng = random.Random(11)
    real = [r["description"] for r in rows(a.real, base, rng, "description")]
    syn = [r["synopsis"] for r in rows(a.synthetic, base, rng, "synopsis")]
    print(f"{a.synthetic:,} synthetic + {a.real:,} real texts, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}")
    print("| step | wall (s) | CPU (s) |\n|---|---:|---:|")
    for name, fn in (
            ("nearest real, word 3-shingle Jaccard (before)",
             lambda: NearestIndex([shingles(t) for t in real]).query([shingles(t) for t in syn])),
            ("nearest real, word overlap (after)",
             lambda: OverlapIndex([copy_words(t) for t in real]).nearest([copy_words(t) for t in syn])),
            ("near_unique pairs > 0.8 within the synthetic, word 3-shingle Jaccard (before)",
             lambda: pairs_above([shingles(t) for t in syn], 0.8)),
            ("near_unique pairs > 0.8 within the synthetic, word overlap (after)",
             lambda: OverlapIndex([copy_words(t) for t in syn]).pairs(0.8))):
        _, wall, cpu = timed(fn)
        print(f"| {name} | {wall:.2f} | {cpu:.2f} |")


if __name__ == "__main__":
    main()
