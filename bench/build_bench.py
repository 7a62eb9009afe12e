"""synthc build vs a naive one-call-per-row-per-field loop on the reviews example, against the loopback fake
OpenAI server with 200 ms per call: calls, calls vs L, tokens per row, TVD per categorical field, wall time,
and synthc's no-op rebuild time and the rebuild after a share edit (calls made vs a full build's). One run each.

    .venv/bin/python bench/build_bench.py [--rows 200 10000] [--write]

The fake honours the "N to M words" hint of a text field's schema description (its own texts are 2-6 words,
which the reviews spec rejects); the spec copy drops the two constraints that tie body length to the `length`
category (the fake cannot read the row's requested length). Everything else of the spec is kept.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import fake_openai  # noqa: E402
from fake_openai import FakeOpenAI  # noqa: E402

SPEC = ROOT / "examples" / "product_reviews" / "reviews.sds"
MODEL = "gpt-4o-mini"
LATENCY = 0.2
# Rating given sentiment, as in reviews.sds (the naive loop samples it from this conditional).
RATING = {"positive": {4: 0.40, 5: 0.60}, "neutral": {2: 0.15, 3: 0.70, 4: 0.15}, "negative": {1: 0.55, 2: 0.45}}
# Row-level constraints the fake cannot satisfy: they need the row's `length` category.
DROPPED = ("short_is_short", "long_is_long")

# ---- the fake: 200 ms per call, texts of the requested word count ---------------------------------------

# 1,800 made-up words: enough that 10,000 two-word titles rarely collide (unique(product, title) must hold).
_VOCAB = [a + b + c for a in ("ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "po", "da", "fe", "gu", "hi", "ju")
          for b in ("ber", "lin", "mor", "tas", "vek", "don", "rus", "pel", "gan", "sto", "wim", "nox")
          for c in ("", "a", "el", "in", "o", "um", "ar", "is", "et", "y")]
_WORDS_HINT = re.compile(r"(\d+) to (\d+) words")
_orig_instance = fake_openai._instance


def _instance(s: dict, rng: random.Random, ids, top: bool = False):
    """Strings whose description says "N to M words" get N..min(M, N+60) words (keeps median body length ~45)."""
    m = _WORDS_HINT.search(s.get("description") or "") if s.get("type") == "string" and "enum" not in s else None
    if m:
        lo, hi = int(m.group(1)), int(m.group(2))
        return " ".join(rng.choice(_VOCAB) for _ in range(rng.randint(lo, min(hi, lo + 60)))).capitalize() + "."
    return _orig_instance(s, rng, ids, top)


fake_openai._instance = _instance  # the module's own recursion looks the name up, so nested strings get it too


class _Server(fake_openai.ThreadingHTTPServer):
    request_queue_size = 256  # the default listen backlog of 5 resets connections when 32 clients connect at once


fake_openai.ThreadingHTTPServer = _Server


class SlowFake(FakeOpenAI):
    """Every chat answer waits LATENCY seconds first (each request has its own server thread)."""

    def answer(self, body, fault=None):
        time.sleep(LATENCY)
        return super().answer(body, fault)


# ---- synthc -----------------------------------------------------------------------------------------------


def spec_copy(work: Path, rows: int) -> Path:
    text = SPEC.read_text(encoding="utf-8").replace('model = "embedded"', f'model = "{MODEL}"')
    text = re.sub(r"^  rows = \d+$", f"  rows = {rows}", text, count=1, flags=re.M)
    text = "\n".join(l for l in text.splitlines() if not any(l.startswith(f"constraint {d}:") for d in DROPPED))
    (work / "synthc.toml").write_text("")  # the project root: no profiles
    p = work / "reviews.sds"
    p.write_text(text + "\n", encoding="utf-8")
    return p


def synthc(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "synthc", *args], env=env, capture_output=True, text=True)


def run_synthc(fake: SlowFake, spec: Path, work: Path, conc: int, env: dict) -> dict:
    plan = json.loads(synthc(["plan", str(spec), "--json"], env).stdout)
    args = ["build", str(spec), "--out", str(work / "out"), "--endpoint", fake.base_url, "--model", MODEL,
            "--concurrency", str(conc), "--json"]
    c0, p0, k0 = fake.calls, fake.prompt_tokens, fake.completion_tokens
    t = time.perf_counter()
    done = synthc(args, env)
    wall = time.perf_counter() - t
    if done.returncode != 0:
        print(done.stdout[-3000:], done.stderr[-3000:], file=sys.stderr)
    report = json.loads(done.stdout)
    calls, prompt, completion = fake.calls - c0, fake.prompt_tokens - p0, fake.completion_tokens - k0
    c1 = fake.calls
    t = time.perf_counter()
    again = synthc(args, env)
    noop = time.perf_counter() - t
    noop_calls = fake.calls - c1
    # an edit a pull request makes: 5 points of share move from positive to negative reviews
    text = spec.read_text(encoding="utf-8")
    spec.write_text(text.replace('"positive": 40%', '"positive": 35%').replace('"negative": 35%', '"negative": 40%'),
                    encoding="utf-8")
    full = json.loads(synthc(["plan", str(spec), "--json"], env).stdout)["calls"]
    c2 = fake.calls
    t = time.perf_counter()
    edited = synthc(args, env)
    edit = {"calls": fake.calls - c2, "wall": time.perf_counter() - t, "full": full, "exit": edited.returncode}
    return {"edit": edit,"exit": done.returncode, "calls": calls, "L": plan["lower_bound_calls"], "planned": plan["calls"],
            "rounds": report.get("rounds"), "failed_calls": report.get("failed_calls"), "prompt": prompt,
            "completion": completion, "wall": wall,
            "tvd": report["tvd"], "noop": noop, "noop_calls": noop_calls, "noop_exit": again.returncode,
            "targets": {f: {k: v["target_share"] for k, v in m.items()} for f, m in plan["marginals"].items()},
            "system": system_prompt(spec, work, env), "rows": report.get("rows")}


def system_prompt(spec: Path, work: Path, env: dict) -> str:
    """synthc's system message for the prompt, so the naive loop sends the same instructions."""
    batch = work / "round1.jsonl"
    synthc(["plan", str(spec), "--emit-batch", str(batch)], env)
    first = json.loads(batch.read_text().splitlines()[0])
    return next(m["content"] for m in first["body"]["messages"] if m["role"] == "system")


# ---- the naive loop ---------------------------------------------------------------------------------------

USER = ("Write a {sentiment} review of a {product} you bought, mostly about {aspect}.\nYou are aged {age_band}. "
        "You gave it {rating} out of 5 stars, but do not mention the star rating or any score in the text.\n"
        "Length: {length} (short is one to three sentences, medium a paragraph, long two or three paragraphs).\n")
FIELDS = {"title": "Write only the review's title: the review's headline, as the customer typed it; 2 to 10 words",
          "body": "Write only the review's body: the review text; 15 to 180 words"}


def naive_rows(n: int, targets: dict, seed: int = 42) -> list[dict]:
    """Every categorical field drawn i.i.d. from its marginal; rating from its conditional on sentiment."""
    rng = random.Random(seed)
    pick = lambda d: rng.choices(list(d), weights=list(d.values()))[0]  # noqa: E731
    rows = []
    for _ in range(n):
        row = {f: pick(targets[f]) for f in ("product", "sentiment", "aspect", "length", "age_band", "verified")}
        row["rating"] = pick(RATING[row["sentiment"]])
        rows.append(row)
    return rows


async def naive_loop(base_url: str, rows: list[dict], system: str, conc: int) -> None:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=base_url, api_key="dummy")  # the client's default 2 retries
    gate = asyncio.Semaphore(conc)

    async def one_row(row: dict) -> None:
        async with gate:
            for name, ask in FIELDS.items():  # title, then body: one call each
                schema = {"type": "object", "additionalProperties": False, "required": [name],
                          "properties": {name: {"type": "string", "description": ask.split(": ", 1)[1]}}}
                await client.chat.completions.create(
                    model=MODEL, temperature=0.9, max_tokens=400,
                    messages=[{"role": "system", "content": system},
                              {"role": "user", "content": USER.format(**row) + ask + "."}],
                    response_format={"type": "json_schema",
                                     "json_schema": {"name": name, "schema": schema, "strict": True}})

    await asyncio.gather(*(one_row(r) for r in rows))
    await client.close()


def tvd(rows: list[dict], field: str, target: dict) -> float:
    got = Counter(str(r[field]).lower() for r in rows)
    return 0.5 * sum(abs(got[str(k).lower()] / len(rows) - p) for k, p in target.items())


def run_naive(fake: SlowFake, n: int, targets: dict, system: str, conc: int) -> dict:
    rows = naive_rows(n, {f: {_key(k): p for k, p in t.items()} for f, t in targets.items()})
    c0, p0, k0 = fake.calls, fake.prompt_tokens, fake.completion_tokens
    t = time.perf_counter()
    asyncio.run(naive_loop(fake.base_url, rows, system, conc))
    wall = time.perf_counter() - t
    errors = sum(r.status != 200 for r in fake.chat_requests[c0:])
    return {"calls": fake.calls - c0, "errors": errors, "prompt": fake.prompt_tokens - p0,
            "completion": fake.completion_tokens - k0, "wall": wall,
            "tvd": {f: tvd(rows, f, t) for f, t in targets.items()}}


def _key(k: str):
    """Plan JSON keys are strings; rating and verified are not."""
    return {"true": True, "false": False}.get(k, int(k) if k.isdigit() else k)


# ---- driver -----------------------------------------------------------------------------------------------


def bench(n: int, conc: int) -> tuple[dict, dict]:
    with tempfile.TemporaryDirectory(prefix="synthc-bench-") as tmp, SlowFake() as fake:
        work = Path(tmp)
        env = dict(os.environ, OPENAI_API_KEY="dummy", SYNTHC_CACHE=str(work / "cache"))
        env.pop("OPENAI_BASE_URL", None)
        s = run_synthc(fake, spec_copy(work, n), work, conc, env)
        b = run_naive(fake, n, s["targets"], s["system"], conc)
    return s, b


def table(results: list[tuple[int, int, dict, dict]]) -> str:
    out = ["| rows | concurrency | method | calls | calls/row | calls / L | prompt tok/row | completion tok/row "
           "| max TVD (field) | wall (s) | no-op rebuild (s) | share-edit rebuild: calls of a full build's (s) |",
           "|---:|---:|---|---:|---:|---:|---:|---:|---|---:|---:|---:|"]
    for n, conc, s, b in results:
        e = s["edit"]
        edit = f"{e['calls']:,} of {e['full']:,} ({e['wall']:.2f})"
        for name, r, noop, ed in (("synthc", s, f"{s['noop']:.2f} ({s['noop_calls']} calls)", edit),
                                  ("naive", b, "n/a", "n/a")):
            f, v = max(r["tvd"].items(), key=lambda kv: kv[1])
            out.append(f"| {n:,} | {conc} | {name} | {r['calls']:,} | {r['calls'] / n:.3f} | {r['calls'] / s['L']:.2f} "
                       f"| {r['prompt'] / n:.0f} | {r['completion'] / n:.0f} | {v:.3f} ({f}) | {r['wall']:.2f} "
                       f"| {noop} | {ed} |")
        ratio = lambda k: b[k] / s[k] if s[k] else float("inf")  # noqa: E731
        tv = f"{max(b['tvd'].values()):.3f} vs {max(s['tvd'].values()):.3f}"
        out.append(f"| {n:,} | {conc} | **naive / synthc** | {ratio('calls'):.1f}x | | | "
                   f"{b['prompt'] / s['prompt']:.1f}x | {b['completion'] / s['completion']:.2f}x | "
                   f"{tv} | {ratio('wall'):.1f}x | | |")
    return "\n".join(out)


def tvd_table(results) -> str:
    fields = sorted(results[0][2]["tvd"])
    out = ["| rows | method | " + " | ".join(fields) + " |", "|---:|---|" + "---:|" * len(fields)]
    for n, _, s, b in results:
        for name, r in (("synthc", s), ("naive", b)):
            cells = " | ".join(f"{r['tvd'].get(f, float('nan')):.3f}" for f in fields)
            out.append(f"| {n:,} | {name} | {cells} |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[200, 10000])
    ap.add_argument("--concurrency", type=int, nargs="+", default=None, help="one per --rows (default 8, 32 >= 10k)")
    ap.add_argument("--json", type=Path, help="also dump the raw results here")
    a = ap.parse_args()
    concs = a.concurrency or [8 if n < 10000 else 32 for n in a.rows]
    results = []
    for n, conc in zip(a.rows, concs):
        s, b = bench(n, conc)
        print(f"rows={n} conc={conc}: synthc exit {s['exit']} rounds {s['rounds']} calls {s['calls']} "
              f"(planned {s['planned']}, L {s['L']}, failed {s['failed_calls']}) no-op exit {s['noop_exit']}",
              file=sys.stderr, flush=True)
        print(f"rows={n} conc={conc}: naive calls {b['calls']} (HTTP errors {b['errors']})", file=sys.stderr,
              flush=True)
        results.append((n, conc, s, b))
    if a.json:
        a.json.write_text(json.dumps([{"rows": n, "conc": c, "synthc": {k: v for k, v in s.items() if k != "system"},
                                       "naive": b} for n, c, s, b in results], indent=1, default=str))
    print(table(results))
    print()
    print(tvd_table(results))


if __name__ == "__main__":
    main()
