"""Times near-duplicate detection (compiler/quality/neardup.py) on planted near-copies and measures its recall.

    .venv/bin/python bench/neardup_bench.py [--rows 100000] [--words 60] [--threshold 0.8] [--sample 5000]

Texts are drawn deterministically (random.Random(7)) from a word list of 5,000 made-up words; 2% of the rows are
near-copies of an earlier row with 1 to 3 words replaced (word overlap 58/61 to 60/61). The timed step is
near_pairs on all rows through MinHash LSH (exact_max=0 forces the LSH path) with exact verification of the word
overlap (quality.overlap). It is checked two ways: every
planted copy above the threshold found, and against comparing every pair of the first --sample rows directly
(overlap of copy_words sets), which also finds any accidental pairs.
Target: 100,000 rows of 60 words in under 30 s.
"""

from __future__ import annotations

import argparse
import os
import random
import time

from synthc.quality.neardup import near_pairs
from synthc.quality.overlap import copy_words, overlap

SYLLABLES = ["ka", "lo", "mi", "ne", "su", "ta", "ri", "po", "ve", "da", "zu", "shi", "an", "el", "or", "um"]


def word_list(n: int, rng: random.Random) -> list[str]:
    out: set[str] = set()
    while len(out) < n:
        out.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(out)


def make_texts(rows: int, words: int, rng: random.Random) -> tuple[list[str], list[tuple[int, int]]]:
    vocab = word_list(5000, rng)
    texts: list[list[str]] = []
    planted = []
    for i in range(rows):
        if i > 10 and rng.random() < 0.02:
            j = rng.randrange(i)
            copy = list(texts[j])
            for _ in range(rng.randint(1, 3)):
                copy[rng.randrange(words)] = rng.choice(vocab)
            texts.append(copy)
            planted.append((i, j))
        else:
            texts.append([rng.choice(vocab) for _ in range(words)])
    return [" ".join(t) for t in texts], planted


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--words", type=int, default=60)
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--sample", type=int, default=5000)
    a = ap.parse_args()
    texts, planted = make_texts(a.rows, a.words, random.Random(7))
    t0, c0 = time.perf_counter(), time.process_time()
    found = near_pairs(texts, a.threshold, seed=7, exact_max=0)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    found_set = {(i, j) for i, j, _ in found}
    sets = {}

    def sh(k):
        if k not in sets:
            sets[k] = copy_words(texts[k])
        return sets[k]

    true_planted = [(i, j) for i, j in planted if overlap(sh(i), sh(j)) > a.threshold]
    hit = sum(p in found_set for p in true_planted)
    sample = texts[:a.sample]
    ws = [copy_words(t) for t in sample]
    exact = {(i, j) for i in range(len(ws)) for j in range(i) if overlap(ws[i], ws[j]) > a.threshold}
    in_sample = {(i, j) for i, j in found_set if i < a.sample}
    print(f"rows {a.rows:,}, {a.words} words, threshold {a.threshold}")
    print(f"near_pairs (MinHash LSH + exact verification): {elapsed:.1f} s wall, {cpu:.1f} s CPU, "
          f"{len(found):,} pairs (load average {os.getloadavg()[0]:.1f})")
    print(f"planted copies above the threshold: {len(true_planted):,}, found {hit:,} "
          f"(recall {hit / max(len(true_planted), 1):.4f})")
    print(f"every pair of the first {a.sample:,} rows compared: {len(exact):,} pairs, LSH found "
          f"{len(exact & in_sample):,} (recall {len(exact & in_sample) / max(len(exact), 1):.4f}), "
          f"false pairs {len(in_sample - exact)}")


if __name__ == "__main__":
    main()
