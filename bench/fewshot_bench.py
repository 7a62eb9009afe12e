"""How often the embedded model copies the real rows it is shown, in the two layouts a request can show them in.

The requests are round 1 of examples/package_descriptions/packages.sds (`synthc plan --emit-batch`, three real
rows of the call's own section in each), the first N of them. Each is sent twice to the embedded model
(SmolLM2-135M through llama.cpp, the server `synthc build` starts, the request shaped by the client's
json_object_schema mode as a build shapes it), with the same seed and temperature:

- turns (what synthc sends, LANGUAGE.md "Few-shot examples from real rows"): each real row an earlier user turn
  (its one-row request) answered by an assistant turn (its outputs);
- listed (the baseline, what synthc sent before 2026-12-03): the same rows as JSON lines under "Examples of
  finished rows:" at the top of the one user message.

Counted per layout: answers whose package name is one of the shown rows' (or any of the 2,000 real rows'),
whose synopsis is a shown one word for word, distinct package names, and names that break the example's
`debian_name` rule. The figures are counts out of N answers of one run; the ratio listed/turns of copied names
is the figure to compare across machines (same model, same seeds, so a rerun repeats them).

    .venv/bin/python bench/fewshot_bench.py [--calls 40] [--write]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from openai import OpenAI

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "package_descriptions"
NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
SECTION = re.compile(r"for the (\w+) section")


def round_one(calls: int, spec: Path = EXAMPLE / "packages.sds") -> list[dict]:
    """The first `calls` request bodies of the spec's round 1, as `synthc plan --emit-batch` writes them."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "batch.jsonl"
        subprocess.run([sys.executable, "-m", "synthc", "plan", str(spec), "--emit-batch", str(out)], check=True,
                       capture_output=True, cwd=tmp)
        return [json.loads(line)["body"] for line in out.read_text().splitlines()[:calls]]


def shown(body: dict) -> list[dict]:
    """The real rows a request shows: section from each user turn, outputs from the assistant turn after it."""
    turns = body["messages"][1:-1]
    return [{"section": SECTION.search(u["content"]).group(1), **json.loads(a["content"])}
            for u, a in zip(turns[::2], turns[1::2])]


def listed(body: dict) -> dict:
    """The baseline layout of the same request: the rows as JSON lines at the top of the one user message."""
    msgs = body["messages"]
    lines = "\n".join(json.dumps(r, ensure_ascii=False, sort_keys=True) for r in shown(body))
    last = {"role": "user", "content": "Examples of finished rows:\n" + lines + "\n\n" + msgs[-1]["content"]}
    return {**body, "messages": [msgs[0], last]}


def measure(client: OpenAI, bodies: list[dict], layout: str, real: list[dict]) -> dict:
    from synthc.run.client import apply_mode
    from synthc.run.embedded import MODE

    names, synopses = {r["package"] for r in real}, {r["description"] for r in real}
    counts = {"answers": 0, "copied_shown_name": 0, "copied_any_real_name": 0, "copied_shown_synopsis": 0,
              "bad_name": 0, "failed": 0}
    got, t0 = [], time.perf_counter()
    for body in bodies:
        rows = shown(body)
        request = apply_mode(listed(body) if layout == "listed" else body, MODE)
        try:
            answer = json.loads(client.chat.completions.create(**request).choices[0].message.content)
            name, synopsis = str(answer.get("package", "")), str(answer.get("synopsis", ""))
        except Exception:  # an answer that is not JSON counts as a failure of the layout, not of the bench
            counts["failed"] += 1
            continue
        counts["answers"] += 1
        got.append(name)
        counts["copied_shown_name"] += name in {r["package"] for r in rows}
        counts["copied_any_real_name"] += name in names
        counts["copied_shown_synopsis"] += synopsis in {r["synopsis"] for r in rows}
        counts["bad_name"] += not NAME.match(name)
    counts["distinct_names"] = len(set(got))
    counts["seconds"] = round(time.perf_counter() - t0, 1)
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=40)
    ap.add_argument("--write", action="store_true", help="append the table to bench/RESULTS.md")
    args = ap.parse_args()
    from synthc.run.embedded import MODEL_NAME, EmbeddedServer

    bodies = round_one(args.calls)
    real = [json.loads(line) for line in (EXAMPLE / "data" / "packages.jsonl").read_text().splitlines()]
    with EmbeddedServer() as server:
        client = OpenAI(base_url=server.start(), api_key="embedded", max_retries=0, timeout=600)
        results = {layout: measure(client, bodies, layout, real) for layout in ("listed", "turns")}
    cols = ["answers", "copied_shown_name", "copied_any_real_name", "copied_shown_synopsis", "distinct_names",
            "bad_name", "failed", "seconds"]
    table = ["| layout | " + " | ".join(c.replace("_", " ") for c in cols) + " |",
             "|---|" + "---:|" * len(cols)]
    table += [f"| {k} | " + " | ".join(str(v[c]) for c in cols) + " |" for k, v in results.items()]
    a, b = results["listed"]["copied_shown_name"], results["turns"]["copied_shown_name"]
    ratio = f"{a / b:.1f}x" if b else "all"
    text = "\n".join(table) + (f"\n\nCopied names, listed / turns: {a} / {b} = {ratio} (of {args.calls} calls, "
                               f"{MODEL_NAME}).")
    print(text)
    if args.write:
        with (ROOT / "bench" / "RESULTS.md").open("a", encoding="utf-8") as f:
            f.write("\n## Few-shot layout\n\nRound-1 calls of `examples/package_descriptions/packages.sds` on the "
                    f"embedded model ({MODEL_NAME}), each sent in both layouts with the same seed; counts out of "
                    f"{args.calls} answers.\nReproduce: `.venv/bin/python bench/fewshot_bench.py --write`\n\n"
                    + text + "\n")


if __name__ == "__main__":
    main()
