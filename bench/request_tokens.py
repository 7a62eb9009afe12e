"""Prompt tokens per row of the examples' requests, this tree against an older revision (the request format of
issue 20): what `synthc plan --json` estimates, and what the round-1 requests `plan --emit-batch` writes hold
(message characters / 4, the planner's own rule), per row they ask for, next to the plan's estimate for the same
prompts (those the batch holds) and its estimate over every prompt and judge per dataset row. No call is made.

    git archive 868bf3f compiler stdlib | tar -x -C /tmp/old && mkdir -p /tmp/oldpath \
      && ln -sfn /tmp/old/compiler /tmp/oldpath/synthc && ln -sfn /tmp/old/stdlib /tmp/old/compiler/stdlib
    .venv/bin/python bench/request_tokens.py [/tmp/oldpath] [--model gpt-4o-mini]

`--model` sizes every spec for that model (the embedded model's calls are one row each, whose plain prompt the
new format keeps byte for byte); the batch holds the calls whose inputs are known before any answer (a prompt
reading another's outputs is not in it).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPECS = ["quickstart/quickstart.sds", "product_reviews/reviews.sds", "support_tickets/tickets.sds",
         "instructions/sql_tutor.sds", "package_descriptions/packages.sds"]


def measure(spec: Path, model: str, pythonpath: str | None) -> dict:
    env = dict(os.environ, OPENAI_API_KEY="dummy")
    env.pop("OPENAI_BASE_URL", None)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    with tempfile.TemporaryDirectory() as tmp:
        env["SYNTHC_CACHE"] = str(Path(tmp) / "cache")
        base = [sys.executable, "-m", "synthc", "plan", str(spec), "--model", model]
        plan = json.loads(subprocess.run(base + ["--json"], env=env, capture_output=True, text=True,
                                         check=True).stdout)
        batch = Path(tmp) / "b.jsonl"
        subprocess.run(base + ["--emit-batch", str(batch)], env=env, capture_output=True, text=True, check=True)
        chars = rows = 0
        for line in batch.read_text(encoding="utf-8").splitlines():
            body = json.loads(line)["body"]
            chars += sum(len(m["content"]) for m in body["messages"])
            schema = body["response_format"]["json_schema"]["schema"]
            rows += schema["properties"]["rows"]["maxItems"] if "rows" in schema["properties"] else 1
    first = [p for p in plan["prompts"] if not p.get("after") and not p.get("judge")]  # the batch's prompts
    return {"calls": plan["calls"], "est": sum(p["prompt_tokens_est"] for p in first) / sum(p["rows"] for p in first),
            "all": plan["prompt_tokens_est"] / plan["rows"], "sent": chars / 4 / rows if rows else float("nan")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old", nargs="?", default="/tmp/oldpath")
    ap.add_argument("--model", default="gpt-4o-mini")
    a = ap.parse_args()
    print(f"| spec ({a.model}) | calls | requests sent, tok/row asked: old | new | new/old "
          "| plan's estimate of them: old | new | all prompts and judges, est. tok/dataset row: old | new |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in SPECS:
        spec = ROOT / "examples" / name
        old, new = measure(spec, a.model, a.old), measure(spec, a.model, None)
        print(f"| {name} | {new['calls']:,} | {old['sent']:.0f} | {new['sent']:.0f} | {new['sent'] / old['sent']:.2f} "
              f"| {old['est']:.0f} | {new['est']:.0f} | {old['all']:.0f} | {new['all']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
