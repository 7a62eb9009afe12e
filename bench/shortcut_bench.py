"""shortcut_lift at growing sizes: the whole column (SAMPLE raised above n) against the seeded 5,000-row sample.

.venv/bin/python bench/shortcut_bench.py [--rows 20000]
Prints seconds for both and their ratio, and both figures (a planted length shortcut on a third of the rows).
"""

from __future__ import annotations

import argparse
import random
import time

from synthc.quality import shortcuts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20000)
    n = ap.parse_args().rows
    rng = random.Random(1)
    vocab = [f"w{i}" for i in range(5000)]
    labels = [rng.choice("abc") for _ in range(n)]
    texts = [" ".join(rng.choice(vocab) for _ in range(8 if y == "a" else 30)) for y in labels]
    cap = shortcuts.SAMPLE
    shortcuts.SAMPLE = n + 1
    t = time.perf_counter()
    whole = shortcuts.shortcut_lift(labels, texts, 1)
    t_whole = time.perf_counter() - t
    shortcuts.SAMPLE = cap
    t = time.perf_counter()
    sampled = shortcuts.shortcut_lift(labels, texts, 1)
    t_sampled = time.perf_counter() - t
    print(f"rows {n}: whole {t_whole:.2f} s (lift {whole:.3f}), sample of {cap} {t_sampled:.2f} s "
          f"(lift {sampled:.3f}), ratio {t_whole / t_sampled:.1f}x")


if __name__ == "__main__":
    main()
