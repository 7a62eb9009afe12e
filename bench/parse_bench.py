"""Front-end timing: parse, and parse+check, of a generated ~5,000-line spec (target: check under 1 s).

    .venv/bin/python bench/parse_bench.py            # prints the figures and updates bench/RESULTS.md
    .venv/bin/python bench/parse_bench.py --no-write --keep /tmp/big.sds
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import re
import statistics
import tempfile
import time
from pathlib import Path

from synthc.check import check_file
from synthc.syntax import parse

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
COMMAND = ".venv/bin/python bench/parse_bench.py"


def block(i: int) -> str:
    """About 100 lines that use every kind of declaration, with names made unique by `i`."""
    return f'''
# ---- block {i} ------------------------------------------------------------
field region_{i}: category ~ {{
  "north": 25%
  "south": 25%
  "east": 1/4
  "west": 0.25
}} {{ description = "where the customer lives" }}
field plan_{i}: category ["free", "pro", "team"]
field trial_{i}: bool ~ 20%
field age_{i}: int in 18..90 ~ normal(mean = 41, sd = 13)
field income_{i}: float in 0..400000 ~ lognormal(mu = 10.6, sigma = 0.7)
field visits_{i}: int in 0..40 ~ poisson(lambda = 4.5)
field signup_{i}: date in 2023-01-01..2024-12-31
field seats_{i}: int in 1..50 given plan_{i} {{
  "free": {{1: 100%}}
  "pro": {{1: 50%, 2: 30%, 3: 20%}}
  "team": uniform
}}
field spend_{i}: float in 0..5000 given trial_{i} {{
  true: normal(mean = 20, sd = 10)
  false: lognormal(mu = 5, sigma = 1)
}}
field band_{i} = if age_{i} < 30 then "young" else if age_{i} < 60 then "middle" else "older"
field heavy_{i} = visits_{i} >= 10 and not trial_{i}
field per_seat_{i} = spend_{i} / seats_{i}

joint region_{i}, plan_{i} {{
  ("north", "free"): 10%
  ("north", "pro"): 10%
  ("north", "team"): 5%
  ("south", "free"): 15%
  ("south", "pro"): 10%
  ("east", "free"): 10%
  ("east", "team"): 15%
  ("west", "free"): 10%
  ("west", "pro"): 10%
  ("west", "team"): 5%
}}

fragment voice_{i} = "Write like a real customer: plain words, specific details."
fragment rules_{i} = voice_{i} + " Never mention a brand or a price."

field title_{i}: text from review_{i} {{ chars = 10..80 }}
field body_{i}: text from review_{i} {{ words = 40..160, description = "the review" }}
field tags_{i}: list[enum ["bug", "praise", "pricing", "support"]] from review_{i} {{ items = 1..3 }}
field meta_{i}: object {{
  mood: enum ["happy", "neutral", "angry"]
  summary: text {{ words = 5..20 }}
}} from review_{i}

prompt review_{i} {{
  system = rules_{i} + " You write reviews of a software product."
  user = """Write a review by a {{band_{i}}} customer from the {{region_{i}}} on the {{plan_{i}}} plan,
who visits {{visits_{i}}} times a month and pays for {{seats_{i}}} seats."""
  example = {{region_{i}: "north", plan_{i}: "pro", title_{i}: "Solid", body_{i}: "Works well."}}
  temperature = 0.8
  max_tokens = 600
  rows_per_call = auto
}}

def short_{i}(t) = word_count(t) < 40
def consistent_{i}(p, s) = p == "free" => s == 1

constraint seats_ok_{i}: consistent_{i}(plan_{i}, seats_{i})
constraint trial_free_{i}: trial_{i} => plan_{i} in ["free", "pro"]
constraint long_{i}: not short_{i}(body_{i})
constraint titled_{i}: length(title_{i}) in 10..80 and not matches(title_{i}, "^(Title|Review):")
constraint lower_{i}: lower(trim(body_{i})) != "" or contains(body_{i}, "!")
constraint spend_ok_{i}: spend_{i} >= 0 and abs(per_seat_{i}) <= 5000
constraint dated_{i}: signup_{i} >= 2023-01-01
constraint uniq_{i}: unique(title_{i})
constraint varied_{i}: distinct_ratio(body_{i}) >= 0.95
constraint avg_age_{i}: mean(age_{i}) in 35..50 and median(visits_{i}) >= 2
constraint spread_{i}: quantile(income_{i}, 0.9) <= 300000 and min(age_{i}) >= 18 and max(age_{i}) <= 90
constraint close_{i}: tvd(region_{i}) <= 2% and drift(plan_{i}) < 0.05
constraint trials_{i}: share(trial_{i}) in 15%..25% and count() >= 100
'''


def generate(lines: int) -> str:
    header = 'dataset bench {\n  rows = 10000\n  seed = 1\n  formats = [jsonl, parquet]\n}\n'
    parts, i = [header], 0
    while sum(p.count("\n") for p in parts) < lines:
        parts.append(block(i))
        i += 1
    return "".join(parts)


def timed(fn, runs: int) -> list[float]:
    fn()  # warm-up: builds the LALR tables once, as a long-lived process would
    out = []
    for _ in range(runs):
        gc.collect()  # start each run from a clean heap, not from the previous run's garbage
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def without_gc(fn, *args):
    """The front end allocates many small objects that all stay alive; pausing gc shows what collection costs."""
    gc.disable()
    try:
        return fn(*args)
    finally:
        gc.enable()


def first_call(path: Path) -> float:
    """A cold `check` in a fresh interpreter, including building the parser: what one CLI run pays."""
    import subprocess
    import sys

    code = ("import time; t = time.perf_counter(); from synthc.check import check_file; "
            f"check_file({str(path)!r}); print(time.perf_counter() - t)")
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lines", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--keep", metavar="FILE", help="also write the generated spec here")
    ap.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    args = ap.parse_args()

    text = generate(args.lines)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.sds"
        path.write_text(text, encoding="utf-8")
        if args.keep:
            Path(args.keep).write_text(text, encoding="utf-8")
        result = check_file(path)
        assert result.ok, "the generated spec must check: " + "; ".join(d.message for d in result.diagnostics[:3])
        spec = result.spec
        parse_t = timed(lambda: parse(text, "bench.sds"), args.runs)
        check_t = timed(lambda: check_file(path), args.runs)
        nogc_t = timed(lambda: without_gc(check_file, path), args.runs)
        cold_t = [first_call(path) for _ in range(3)]

    n_lines = text.count("\n")
    stats = dict(lines=n_lines, bytes=len(text.encode()), fields=len(spec.fields), prompts=len(spec.prompts),
                 constraints=len(spec.constraints), joints=len(spec.joints))
    rows = [("parse (`synthc.syntax.parse`)", parse_t), ("parse + check (`synthc.check.check_file`)", check_t),
            ("parse + check with the garbage collector paused (`gc.disable()`)", nogc_t)]
    table = ["| step | min (s) | median (s) |", "|---|---:|---:|"]
    table += [f"| {name} | {min(t):.3f} | {statistics.median(t):.3f} |" for name, t in rows]
    table.append(f"| parse + check, first call in a fresh process (imports + grammar build), 3 processes "
                 f"| {min(cold_t):.3f} | {statistics.median(cold_t):.3f} |")
    warm, cold = statistics.median(check_t), statistics.median(cold_t)
    verdict = (f"{'met' if warm < 1 else 'NOT met'} in a running process ({warm:.2f} s median); "
               f"{'met' if cold < 1 else 'NOT met'} for a fresh `synthc check` process ({cold:.2f} s median, "
               "of which imports and building the parser are the difference)")
    section = "\n".join([
        "## Front end",
        "",
        f"Parse and check of a generated spec: {stats['lines']:,} lines ({stats['bytes'] / 1024:.0f} KiB), "
        f"{stats['fields']} fields, {stats['prompts']} prompts, {stats['joints']} joint tables, "
        f"{stats['constraints']} constraints (every type, distribution and function). Wall time "
        f"(time.perf_counter) over {args.runs} runs after one warm-up, on CPython {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, {platform.machine()}, load average {os.getloadavg()[0]:.1f} when it ran.",
        f"Reproduce: `{COMMAND}` (`--keep FILE` saves the spec).",
        "",
        *table,
        "",
        f"Target (a 5,000-line spec checked in under 1 s): {verdict}.",
        "",
    ])
    print(section)
    if not args.no_write:
        write_section(section)


def write_section(section: str) -> None:
    """Replace the `## Front end` section of RESULTS.md (or append it), leaving the other sections as they are."""
    current = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmarks\n"
    m = re.search(r"^## Front end\n.*?(?=^## |\Z)", current, re.M | re.S)
    if m:
        updated = current[:m.start()] + section + ("\n" if current[m.end():] else "") + current[m.end():]
    else:
        updated = current.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(updated, encoding="utf-8")


if __name__ == "__main__":
    main()
