"""Times `validate_file` on generated review-like rows (categorical, text and numeric columns).

    .venv/bin/python bench/validate_bench.py [--rows 1000000] [--repeat 3] [--dir DIR]

The rows are made by DuckDB from hashes of the row number (deterministic, no model), written once to Parquet
and JSONL, then each file is validated `--repeat` times against the spec below; the best time is reported
with the load / checks split. Target: under 2 s on 1e6 rows.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

from synthc.check import check_file
from synthc.validate import validate_rows
from synthc.validate.checks import run_checks
from synthc.validate.load import load_file

SPEC = """
dataset reviews { rows = 1000000 seed = 7 }
field product: category ["headphones", "laptop", "phone"]
field sentiment: category ~ {"positive": 50%, "neutral": 20%, "negative": 30%}
field rating: int in 1..5 given sentiment {
  "positive": {4: 40%, 5: 60%}
  "neutral": {3: 100%}
  "negative": {1: 1/2, 2: 1/2}
}
field age: int in 18..90 ~ normal(mean = 40, sd = 12)
field title: text from review { words = 3..12 }
field body: text from review { words = 40..120 }
prompt review { user = "Write a {sentiment} review of a {product}, rated {rating}/5." }
constraint neg_low: sentiment == "negative" => rating <= 2
constraint long_enough: word_count(body) in 40..120
constraint no_links: not matches(body, "https?://")
constraint no_repeats: not contains(body, "awful awful")
constraint title_short: length(title) <= 120 and trim(title) == title
constraint uniq: unique(title)
constraint varied: distinct_ratio(body) >= 0.99
constraint avg: mean(rating) >= 3
constraint ages: quantile(age, 0.9) <= 70
constraint negatives: share(sentiment == "negative") in 25%..35%
constraint drift_ok: tvd(sentiment) <= 2%
"""

WORDS = ["good", "bad", "sound", "battery", "screen", "fast", "slow", "price", "great", "awful", "fine", "love",
         "hate", "works", "broke", "after", "a", "week", "the", "it", "and", "is", "not", "very", "quite", "case"]


def generate(con, rows: int, out: Path) -> dict[str, Path]:
    """Writes the rows to out/rows.parquet and out/rows.jsonl."""
    words = "[" + ", ".join(f"'{w}'" for w in WORDS) + "]"
    n = len(WORDS)
    # u(k): a uniform number in [0, 1) from the row number and a salt, the same on every run
    u = lambda k: f"((hash(i * 7919 + {k}) % 1000000) / 1000000.0)"  # noqa: E731
    text = lambda k, lo, span: (  # noqa: E731
        f"array_to_string(list_transform(range({lo} + (hash(i + {k}) % {span})::INTEGER), "
        f"lambda j: {words}[1 + (hash(i * 31 + j * 17 + {k}) % {n})::INTEGER]), ' ')")
    con.execute(f"""
        CREATE OR REPLACE TABLE gen AS
        SELECT ['headphones', 'laptop', 'phone'][1 + (hash(i) % 3)::INTEGER] AS product,
               CASE WHEN {u(1)} < 0.5 THEN 'positive' WHEN {u(1)} < 0.7 THEN 'neutral' ELSE 'negative' END
                   AS sentiment,
               {u(2)} AS r,
               18 + (hash(i + 3) % 50)::INTEGER AS age,
               {text(4, 3, 10)} || ' ' || i AS title,
               {text(5, 40, 80)} AS body
        FROM range({rows}) t(i)""")
    con.execute("""
        CREATE OR REPLACE TABLE rows AS
        SELECT product, sentiment,
               CASE sentiment WHEN 'positive' THEN (CASE WHEN r < 0.4 THEN 4 ELSE 5 END)
                              WHEN 'neutral' THEN 3 ELSE (CASE WHEN r < 0.5 THEN 1 ELSE 2 END) END AS rating,
               age, title,
               -- about a fifth of the bodies get paragraph breaks: whitespace other than single spaces
               CASE WHEN hash(length(title)) % 3 = 0 THEN replace(body, ' the ', chr(10) || chr(10) || 'the ')
                    ELSE body END AS body
        FROM gen""")
    paths = {"parquet": out / "rows.parquet", "jsonl": out / "rows.jsonl"}
    con.execute(f"COPY rows TO '{paths['parquet']}' (FORMAT parquet)")
    con.execute(f"COPY rows TO '{paths['jsonl']}' (FORMAT json)")
    return paths


def timed(spec, path: Path) -> tuple[float, float, float, object]:
    """Wall seconds of the load and of the checks, CPU seconds of both (all DuckDB threads), the report."""
    c0, t0 = time.process_time(), time.perf_counter()
    loaded = load_file(spec, path)
    t1 = time.perf_counter()
    report = run_checks(spec, loaded, source=str(path))
    t2 = time.perf_counter()
    cpu = time.process_time() - c0
    loaded.con.close()
    return t1 - t0, t2 - t1, cpu, report


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", type=Path, default=None, help="keep the generated files here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.dir or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        spec_path = out / "reviews.sds"
        spec_path.write_text(SPEC)
        checked = check_file(spec_path)
        assert checked.ok, [d.message for d in checked.diagnostics]
        spec = checked.spec
        t = time.perf_counter()
        paths = {"parquet": out / "rows.parquet", "jsonl": out / "rows.jsonl"}
        if not (args.dir and all(p.exists() for p in paths.values())):  # --dir keeps them for the next run
            paths = generate(duckdb.connect(), args.rows, out)
        print(f"generated {args.rows:,} rows in {time.perf_counter() - t:.1f}s; "
              + ", ".join(f"{k} {os.path.getsize(p) / 1e6:.0f} MB" for k, p in paths.items()))
        print(f"cpus {os.cpu_count()}, duckdb {duckdb.__version__}")
        for fmt, path in paths.items():
            runs = [timed(spec, path) for _ in range(args.repeat)]
            load, checks, cpu, report = min(runs, key=lambda r: r[0] + r[1])
            failed = [c.name for c in report.failed]
            median = statistics.median(a + b for a, b, _, _ in runs)
            print(f"{fmt:8} best of {args.repeat}: {load + checks:.2f}s (load {load:.2f}s + checks {checks:.2f}s, "
                  f"{cpu:.2f} CPU s), median {median:.2f}s; rows {report.rows:,}; {len(report.checks)} checks, "
                  f"failed: {failed or 'none'}")
        # the build's path: rows held as Python dicts (they go through a temporary JSONL file)
        con = duckdb.connect()
        cur = con.execute(f"SELECT * FROM read_parquet('{paths['parquet']}') LIMIT 100000")
        names = [d[0] for d in cur.description]
        dicts = [dict(zip(names, r)) for r in cur.fetchall()]
        t = time.perf_counter()
        validate_rows(spec, dicts)
        print(f"validate_rows on {len(dicts):,} dicts: {time.perf_counter() - t:.2f}s")
        # where the check time goes: each check on its own, on the Parquet load (run_checks counts the row checks
        # together in one scan, timed after them)
        loaded = load_file(spec, paths["parquet"])
        from synthc.validate import checks as checks_module
        from synthc.validate.checks import count_violations, dataset_check, marginal, row_check
        from synthc.validate.targets import target_shares
        targets = {f.name: target_shares(spec, f.name) for f in spec.fields if f.categorical and f.role == "sampled"}
        for c in spec.constraints:
            t = time.perf_counter()
            row_check(c, loaded) if c.kind == "row" else dataset_check(c, loaded, targets)
            print(f"  {c.name:12} {time.perf_counter() - t:.3f}s")
        t = time.perf_counter()
        count_violations([c for c in spec.constraints if c.kind == "row"], loaded)
        print(f"  {'row checks in one scan':12} {time.perf_counter() - t:.3f}s")
        if hasattr(checks_module, "type_checks"):  # the per-field type checks, all fields in one scan
            t = time.perf_counter()
            checks_module.type_checks(spec, loaded)
            print(f"  {'type checks in one scan':12} {time.perf_counter() - t:.3f}s")
        t = time.perf_counter()
        for name, target in targets.items():
            marginal(name, target, loaded)
        print(f"  {'marginals':12} {time.perf_counter() - t:.3f}s")


if __name__ == "__main__":
    main()
