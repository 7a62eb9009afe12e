"""Extract a small, deterministic sample of Debian package descriptions for examples/package_descriptions/.

The text is human-written: each `Description` line is the package's synopsis, written by its Debian maintainer.
Source: this machine's apt lists, read through `apt-cache dumpavail` (or a saved copy of its output).

    python scripts/extract_debian.py                       # runs `apt-cache dumpavail`
    python scripts/extract_debian.py --input dumpavail.txt # a saved copy
    python scripts/extract_debian.py --rows 2000 --seed 13 --out examples/package_descriptions/data/packages.jsonl

Deterministic: packages are de-duplicated by name (the first stanza wins, as apt lists them), sorted by name,
and a seeded sample (random.Random(seed).sample over the sorted list) keeps the sections' natural imbalance.
The output is sorted by package name, one JSON object per line: package, section, description.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

SECTIONS = ("admin", "games", "graphics", "net", "science", "sound", "text")


def stanzas(text: str):
    """Each package stanza of a Packages/dumpavail text as a dict of its single-line fields."""
    for block in text.split("\n\n"):
        fields = {}
        for line in block.splitlines():
            if line and not line[0].isspace() and ":" in line:
                k, v = line.split(":", 1)
                fields[k] = v.strip()
        if "Package" in fields:
            yield fields


def extract(text: str, rows: int, seed: int, sections=SECTIONS) -> list[dict]:
    seen: dict[str, dict] = {}
    for s in stanzas(text):
        name, section, desc = s.get("Package"), s.get("Section"), s.get("Description")
        if name in seen or section not in sections or not desc:
            continue
        seen[name] = {"package": name, "section": section, "description": desc}
    pool = [seen[n] for n in sorted(seen)]
    picked = random.Random(seed).sample(pool, min(rows, len(pool)))
    return sorted(picked, key=lambda r: r["package"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--input", help="a saved `apt-cache dumpavail` output (default: run apt-cache)")
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--out", default="examples/package_descriptions/data/packages.jsonl")
    a = ap.parse_args(argv)
    if a.input:
        text = Path(a.input).read_text(encoding="utf-8")
    else:
        text = subprocess.run(["apt-cache", "dumpavail"], check=True, capture_output=True, text=True).stdout
    out = extract(text, a.rows, a.seed)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    with open(a.out, "w", encoding="utf-8", newline="\n") as f:
        for r in out:
            f.write(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n")
    counts = Counter(r["section"] for r in out)
    print(f"{len(out)} rows -> {a.out}: " + ", ".join(f"{k} {counts[k]}" for k in sorted(counts)), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
