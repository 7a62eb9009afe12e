"""Times `synthc eval` (docs/EVAL.md) on 100,000 synthetic + 10,000 real rows.

    .venv/bin/python bench/eval_bench.py [--synthetic 100000] [--real 10000] [--seeds 3]

Both sides are built deterministically (random.Random(11)) from the 2,000 shipped Debian synopses
(examples/package_descriptions/data/packages.jsonl): row k takes synopsis k mod 2000 with its section, its words
shuffled and, for one row in three, one word dropped; 1% of the synthetic rows are exact copies of real rows, so
the private figures have something to find. The spec maps `section` and `description -> synopsis` with
`holdout = 20%` and has the constraints max_similarity_to_real and tstr_lift, so the timed run is everything
`synthc eval` does: load both files, faithful (TVD, KS, vocabulary, discriminator on 5,000 + 5,000, per stratum),
private (nearest real text of every synthetic text), useful (3 models x 3 repetitions), the constraints (the
same figures again, through validate's check) and the two files. Each stage is also timed alone, and the
baseline is `synthc validate` of the same data file without the evaluation constraints, in the same run.
Target: under 60 s for the whole eval.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "examples" / "package_descriptions" / "data" / "packages.jsonl"
SPEC = """dataset pk {
  rows = 100
  seed = 13
}

field section: category ["admin", "games", "graphics", "net", "science", "sound", "text"]
field synopsis: text from describe { words = 1..40 }

prompt describe { user = "Write the one-line synopsis of a Debian package in the {section} section." }

reference real from "real.jsonl" {
  section -> section
  description -> synopsis
  holdout = 20%
}
"""
BASELINE = "baseline: synthc validate of DATA (no evaluation constraints)"
WHOLE = "**whole `synthc eval` (tasks.eval.run: all of the above again, the constraints, the files)**"
CONSTRAINTS = """constraint no_copies: max_similarity_to_real(synopsis) <= 0.8
constraint helps: tstr_lift(section, synopsis) >= 0
"""


def rows(n: int, base: list[dict], rng: random.Random, column: str) -> list[dict]:
    out = []
    for k in range(n):
        r = base[k % len(base)]
        w = r["description"].split()
        rng.shuffle(w)
        if k % 3 == 0 and len(w) > 2:
            w.pop()
        out.append({"section": r["section"], column: " ".join(w)})
    return out


def write(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--synthetic", type=int, default=100_000)
    ap.add_argument("--real", type=int, default=10_000)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    from synthc.check import check_file
    from synthc.evaluation.faithful import faithful
    from synthc.evaluation.sides import synthetic_file
    from synthc.tasks.eval import load_real, run
    from synthc.validate import validate_file

    base = [json.loads(x) for x in DATA.read_text(encoding="utf-8").splitlines()]
    rng = random.Random(11)
    real = rows(args.real, base, rng, "description")
    syn = rows(args.synthetic, base, rng, "synopsis")
    for k in range(0, len(syn), 100):  # 1%: exact copies of real rows
        syn[k] = {"section": real[k % len(real)]["section"], "synopsis": real[k % len(real)]["description"]}
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        (root / "synthc.toml").write_text("")
        write(root / "real.jsonl", real)
        write(root / "syn.jsonl", syn)
        (root / "plain.sds").write_text(SPEC, encoding="utf-8")
        (root / "pk.sds").write_text(SPEC + CONSTRAINTS, encoding="utf-8")
        plain = check_file(root / "plain.sds", "plain.sds").spec
        spec = check_file(root / "pk.sds", "pk.sds").spec
        times: dict[str, tuple[float, float]] = {}

        def timed(name: str, step):
            t, c = time.perf_counter(), time.process_time()
            out = step()
            times[name] = (time.perf_counter() - t, time.process_time() - c)
            return out

        timed(BASELINE, lambda: validate_file(plain, root / "syn.jsonl"))
        side, rd = timed("load both sides", lambda: (synthetic_file(spec, root / "syn.jsonl"),
                                                      load_real(spec, root / "pk.sds", None, args.seeds)))
        timed("faithful", lambda: faithful(spec, side, rd.side, 13))
        timed("private (nearest real text of every synthetic text)",
              lambda: rd.texts("synopsis").nearest(side.column("synopsis")))
        timed(f"useful ({args.seeds} repetitions x 3 models)",
              lambda: rd.useful(side.column("section"), side.column("synopsis"), list(side.rows), "section", "synopsis"))
        result = timed(WHOLE, lambda: run(spec, root / "pk.sds", str(root / "syn.jsonl"), seeds=args.seeds,
                                          out=str(root / "out")))
        total = times[WHOLE][0]
        ev = result.report
    base_t = times[BASELINE][0]
    print(f"{args.synthetic:,} synthetic + {args.real:,} real rows, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    print("| step | wall (s) | CPU of this process (s) | wall x validate |")
    print("|---|---:|---:|---:|")
    for k, (v, cpu) in times.items():
        print(f"| {k} | {v:.2f} | {cpu:.2f} | {v / base_t:.1f} |")
    p = ev["private"]["texts"]["synopsis"]
    u = ev["useful"]
    print(f"\nfigures: AUC {ev['faithful']['fields']['synopsis']['auc']}, above 0.8: {p['above']:,} "
          f"(planted {len(range(0, args.synthetic, 100)):,}), lift {u['lift']['mean']}, exit {result.exit_code}")
    print(f"target (under 60 s): {'met' if total < 60 else 'NOT met'} ({total:.1f} s)")


if __name__ == "__main__":
    main()
