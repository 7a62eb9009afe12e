"""Real data of any size (issue 21, item 4): a reference file of 10^6 and 10^7 rows completed to a spec's targets
and checked, against the loopback fake, measured per synthc process: wall, CPU and peak RSS (wait4's rusage).

    .venv/bin/python bench/realdata_bench.py [--rows 1000000 10000000] [--keep DIR] [--python PATH]

The reference file is generated here (a scale test, not real data; it is written to a temporary folder and never
to the repository): N rows of `section` (7 values; `text` has only 60 rows, so the completed dataset needs
synthetic rows there), `package` (a made-up name) and `description` (4 to 20 words drawn from a Zipf-like
vocabulary of 30,000 words, so common words are common and most texts are distinct). The spec completes it to
1,400 rows with `downsample = true`, `holdout = 20%`, `examples = real(3)` and `max_similarity_to_real(synopsis)
<= 0.8`. Steps, each its own process: `synthc check`, `synthc build` (which builds the index of the real texts
under the cache on its first use), `synthc eval` of the output (which reuses the index), and a no-op rebuild.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale_bench import TimedFake, run_synthc  # noqa: E402

MODEL = "gpt-4o-mini"
SECTIONS = ["admin", "games", "graphics", "net", "science", "sound", "text"]
RARE = 60  # rows of `text` in the file

SPEC = """dataset packages {
  rows = 1400
  seed = 13
  model = "gpt-4o-mini"
}

field section: category ["admin", "games", "graphics", "net", "science", "sound", "text"]
field package: text from describe { words = 1..1 }
field synopsis: text from describe { words = 3..12 }

prompt describe {
  user = "Invent a new Debian package for the {section} section: its name and its one-line synopsis."
  examples = real(3)
}

reference real from "data/packages.jsonl" {
  section -> section
  package -> package
  description -> synopsis
  complete = true
  downsample = true
  holdout = 20%
}

constraint no_copies: max_similarity_to_real(synopsis) <= 0.8
"""


def generate(path: Path, rows: int, seed: int = 21) -> None:
    """N rows of JSONL, written in blocks (bounded memory)."""
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(30_000)]
    cum, total = [], 0.0
    for i in range(len(vocab)):
        total += 1 / (i + 1)
        cum.append(total)
    rare_at = set(rng.sample(range(rows), RARE))
    others = SECTIONS[:-1]
    with open(path, "w", encoding="utf-8") as out:
        block = []
        for i in range(rows):
            section = "text" if i in rare_at else others[i % len(others)]
            words = rng.choices(vocab, cum_weights=cum, k=rng.randint(4, 20))
            block.append(json.dumps({"section": section, "package": f"pkg{i}", "description": " ".join(words)}))
            if len(block) == 100_000:
                out.write("\n".join(block) + "\n")
                block = []
        if block:
            out.write("\n".join(block) + "\n")


def bench(rows: int, keep: Path | None, python: str = sys.executable) -> dict:
    tmp = tempfile.mkdtemp(prefix="synthc-reference-", dir=keep)
    work = Path(tmp)
    (work / "data").mkdir()
    (work / "synthc.toml").write_text("")
    t0 = time.monotonic()
    generate(work / "data" / "packages.jsonl", rows)
    gen = time.monotonic() - t0
    size = (work / "data" / "packages.jsonl").stat().st_size
    spec = work / "packages.sds"
    spec.write_text(SPEC, encoding="utf-8")
    env = dict(os.environ, OPENAI_API_KEY="dummy", SYNTHC_CACHE=str(work / "cache"))
    env.pop("OPENAI_BASE_URL", None)
    out = {"rows": rows, "file_mib": size / 2**20, "generate_s": gen}
    with TimedFake() as fake:
        build = ["build", str(spec), "--out", str(work / "out"), "--endpoint", fake.base_url, "--model", MODEL,
                 "--json"]
        out["check"] = run_synthc(fake, ["check", str(spec)], env, python, None)
        out["build"] = run_synthc(fake, build, env, python, None)
        out["eval"] = run_synthc(fake, ["eval", str(spec), str(work / "out" / "packages.jsonl"), "--out",
                                        str(work / "eval"), "--json"], env, python, None)
        out["noop"] = run_synthc(fake, build, env, python, None)
    report = json.loads(out["build"].stdout) if out["build"].exit in (0, 1) else {}
    out["written"] = report.get("rows")
    out["real"] = (report.get("real") or {}).get("rows_real"), (report.get("real") or {}).get("rows_synthetic")
    out["failed"] = [c["name"] for c in report.get("checks", []) if not c.get("passed")]
    return out


def table(results: list[dict]) -> str:
    out = ["| reference rows | file | step | exit | calls | wall (s) | CPU (s) | peak RSS (MiB) |",
           "|---:|---:|---|---:|---:|---:|---:|---:|"]
    for r in results:
        for step in ("check", "build", "eval", "noop"):
            x = r[step]
            out.append(f"| {r['rows']:,} | {r['file_mib']:.0f} MiB | {step} | {x.exit} | {x.calls} | {x.wall:.1f} "
                       f"| {x.cpu:.1f} | {x.peak_rss_mib:.0f} |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--python", default=sys.executable, help="the interpreter that runs synthc (PYTHONPATH may point "
                                                              "it at another checkout: today's engine)")
    ap.add_argument("--keep", type=Path, help="make the work folders here and keep them (default: a temp folder, "
                                              "removed)")
    a = ap.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} (cores: {os.cpu_count()})", file=sys.stderr)
    results = []
    for n in a.rows:
        r = bench(n, a.keep, a.python)
        print(f"rows={n}: file {r['file_mib']:.0f} MiB generated in {r['generate_s']:.0f} s; build exit "
              f"{r['build'].exit}, {r['written']} rows written (real, synthetic: {r['real']}), failed checks "
              f"{r['failed']}; load average {os.getloadavg()[0]:.2f}", file=sys.stderr, flush=True)
        if r["build"].exit not in (0, 1):
            print(r["build"].stdout[-2000:], file=sys.stderr)
        results.append(r)
    print(table(results))


if __name__ == "__main__":
    main()
