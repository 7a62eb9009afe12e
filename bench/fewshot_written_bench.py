"""A candidate, not what synthc sends: written `example`s as earlier conversation turns instead of listed.

synthc lists a prompt's written `example`s under "Examples of finished rows:" in the request, and sends real
rows (`examples = NAME(K)`) as turns (LANGUAGE.md "Few-shot examples from real rows"; bench/fewshot_bench.py
measured why). This measures whether written examples would gain the same: round 1 of
examples/product_reviews/reviews.sds (`synthc plan --emit-batch`, two written examples per call), the first N
calls sent to the embedded model as synthc sends them (listed) and rewritten with the two examples as turns
(user turn: the prompt's user text filled with the example's values, the call's `age_band`, which the examples
do not set; assistant turn: the example's title and body), same seeds.

Counted: answers whose title is an example's title word for word, answers whose body is >= 0.5 similar to an
example's (the measure of `max_similarity_to_real`: Jaccard of word 3-shingles, evaluation.private), failed
answers (not JSON), and seconds (turns make the prompt longer, and the embedded model reads a prompt one token
at a time).

    .venv/bin/python bench/fewshot_written_bench.py [--calls 30]
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

from openai import OpenAI

from fewshot_bench import round_one

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "examples" / "product_reviews" / "reviews.sds"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=30)
    args = ap.parse_args()
    from synthc.check import check_file
    from synthc.evaluation.private import RealTexts
    from synthc.plan.requests import fill, messages
    from synthc.run.client import apply_mode
    from synthc.run.embedded import MODE, EmbeddedServer

    spec = check_file(str(SPEC), "reviews.sds").spec
    prompt = spec.prompt("review")
    examples = [dict(e) for e in prompt.examples]
    answer = messages(spec, prompt, [{"id": "x", **examples[0], "age_band": "x"}])[-1]["content"].rsplit("\n\n", 1)[1]

    def turns(body: dict) -> dict:
        msgs = body["messages"]
        own = msgs[-1]["content"].split("\n\n", 1)[1]  # the request without its listed examples
        age = re.search(r"You are aged (.+?)\.", own).group(1)
        out = [msgs[0]]
        for e in examples:
            out.append({"role": "user", "content": fill(prompt.user.text, {"age_band": age, **e}) + "\n\n" + answer})
            out.append({"role": "assistant", "content": json.dumps({"body": e["body"], "title": e["title"]},
                                                                   ensure_ascii=False, sort_keys=True)})
        return {**body, "messages": out + [{"role": "user", "content": own}]}

    shown = RealTexts([e["body"] for e in examples])
    bodies = round_one(args.calls, SPEC)
    with EmbeddedServer() as server:
        client = OpenAI(base_url=server.start(), api_key="embedded", max_retries=0, timeout=600)
        for layout in ("listed", "turns"):
            c = {"answers": 0, "copied_title": 0, "body_similarity_ge_0.5": 0, "failed": 0}
            t0 = time.perf_counter()
            for body in bodies:
                request = apply_mode(body if layout == "listed" else turns(body), MODE)
                try:
                    got = json.loads(client.chat.completions.create(**request).choices[0].message.content)
                except Exception:  # an answer that is not JSON counts as a failure of the layout
                    c["failed"] += 1
                    continue
                c["answers"] += 1
                c["copied_title"] += got.get("title") in {e["title"] for e in examples}
                c["body_similarity_ge_0.5"] += bool(shown.nearest([str(got.get("body", ""))])[0][0] >= 0.5)
            c["seconds"] = round(time.perf_counter() - t0, 1)
            print(layout, json.dumps(c), flush=True)


if __name__ == "__main__":
    main()
