"""shortcut_lift's solver: SAGA (today's) against lbfgs (the solver before issue 21) on planted shortcuts.

    .venv/bin/python bench/lift_solver_bench.py [--rows 1000 5000]

Texts of made-up words with three labels: no shortcut, a length shortcut (80% of each label's texts 15 words
longer per label index) and a punctuation one (70% of label 0 ends with "!"). Prints each solver's lift, their
difference and the CPU seconds of one figure, in one run.
"""

from __future__ import annotations

import argparse
import random
import time

from synthc.quality import shortcuts

VOCAB = [a + b for a in ("ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "po") for b in
         ("ber", "lin", "mor", "tas", "vek", "don", "rus", "pel", "gan", "sto", "wim", "nox", "um", "ar")]
LBFGS = dict(solver="lbfgs", max_iter=1000)


def planted(n: int, shortcut: str, seed: int = 0) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    labels, texts = [], []
    for _ in range(n):
        y = rng.randrange(3)
        m = rng.randint(5, 30) + (15 * y if shortcut == "length" and rng.random() < 0.8 else 0)
        end = "!" if shortcut == "punctuation" and y == 0 and rng.random() < 0.7 else "."
        labels.append(str(y))
        texts.append(" ".join(rng.choice(VOCAB) for _ in range(m)).capitalize() + end)
    return labels, texts


def timed(labels, texts, solver) -> tuple[float, float]:
    shortcuts.SOLVER, saved = solver, shortcuts.SOLVER
    shortcuts.surface_features.cache_clear()
    t = time.process_time()
    try:
        return shortcuts.shortcut_lift(labels, texts, 1), time.process_time() - t
    finally:
        shortcuts.SOLVER = saved


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, nargs="+", default=[1000, 5000])
    a = ap.parse_args()
    print("| rows | shortcut | lbfgs lift | SAGA lift | difference | lbfgs CPU (s) | SAGA CPU (s) | ratio |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for n in a.rows:
        for kind in ("none", "length", "punctuation"):
            labels, texts = planted(n, kind)
            ref, t_ref = timed(labels, texts, LBFGS)
            new, t_new = timed(labels, texts, shortcuts.SOLVER)
            print(f"| {n:,} | {kind} | {ref:.4f} | {new:.4f} | {new - ref:+.4f} | {t_ref:.2f} | {t_new:.2f} "
                  f"| {t_ref / t_new:.0f}x |", flush=True)


if __name__ == "__main__":
    main()
