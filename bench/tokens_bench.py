"""Tokens per row and wall time of `synthc build` against a one-row-per-call script, on the same task, through the
same loopback fake with decode time, in one run (issue 20).

    .venv/bin/python bench/tokens_bench.py [--rows 200 1000] [--concurrency 4 32] [--latency 0.2] [--ms-per-token 10]

The task: two LLM text fields of 20 words each (`question` from the categories, `answer` from the question), so a
row is two dependent calls for the script. The fake (tests/fake_openai.py, with build_bench.py's patch that writes
exactly N words for a "N to N words" description) waits `latency + ms-per-token x completion tokens` before each
answer, on its own thread per request. Tokens are the fake's counts: whitespace-separated words of the messages
and of the answer's content (not a tokenizer's tokens; the same rule for both sides).

- **synthc**: `python -m synthc build --endpoint <fake> --model gpt-4o-mini --concurrency C` in a fresh cache.
- **script**: per row, the requests a simple script sends (the `openai` client, a semaphore of C): the system
  message and the user template filled with the row's values plus one line asking for the field, then the same
  for the answer with the question it got; one JSON-schema field per call. Rows drawn i.i.d. from the targets.
- **decode-bound limit**: the larger of (total completion tokens x ms per token + calls x latency) / C and the
  longest chain of dependent calls (synthc: the slowest question call plus the slowest answer call; the script:
  the slowest row's two calls).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import build_bench  # noqa: E402  (patches the fake: exact word counts, a listen backlog for 32 clients)
from fake_openai import FakeOpenAI  # noqa: E402

MODEL = "gpt-4o-mini"
WORDS = 50  # the task: about 104 completion tokens per row for two fields
PRODUCTS = {"router": 0.3, "laptop": 0.25, "printer": 0.2, "phone": 0.15, "camera": 0.1}
TONES = {"polite": 0.5, "annoyed": 0.3, "confused": 0.2}
SYSTEM_ASK = "You write messages that customers send to the support desk of an electronics shop."
SYSTEM_REPLY = "You are a support agent of an electronics shop: friendly, precise, and brief."
ASK = "Write a {tone} question a customer asks about their {product}, as they would type it into the support form."
REPLY = "Write the support agent's answer to this question about a {product}: {question}"


def spec_text(rows: int) -> str:
    shares = lambda d: ", ".join(f'"{k}": {round(v * 100)}%' for k, v in d.items())  # noqa: E731
    return f"""dataset support {{
  rows = {rows}
  seed = 1
  model = "{MODEL}"
}}

field product: category ~ {{{shares(PRODUCTS)}}}
field tone: category ~ {{{shares(TONES)}}}
field question: text from ask {{ words = {WORDS}..{WORDS} }}
field answer: text from reply {{ words = {WORDS}..{WORDS} }}

prompt ask {{
  system = "{SYSTEM_ASK}"
  user = "{ASK}"
}}

prompt reply {{
  system = "{SYSTEM_REPLY}"
  user = "{REPLY}"
}}
"""


class DecodingFake(FakeOpenAI):
    """Each answer waits latency + ms_per_token x its completion tokens; records (schema name, completion tokens)."""

    latency = 0.2
    ms_per_token = 10.0

    def __post_init__(self) -> None:
        super().__post_init__()
        self.answered: list[tuple[str, int]] = []
        self._mine = threading.Lock()

    def answer(self, body, fault=None):
        status, headers, payload = super().answer(body, fault)
        tokens = payload.get("usage", {}).get("completion_tokens", 0) if status == 200 else 0
        time.sleep(self.latency + self.ms_per_token / 1000 * tokens)
        name = ((body.get("response_format") or {}).get("json_schema") or {}).get("name", "")
        with self._mine:
            self.answered.append((name, tokens))
        return status, headers, payload


# ---- synthc -----------------------------------------------------------------------------------------------------


def run_synthc(fake: DecodingFake, work: Path, rows: int, conc: int, old: str | None = None) -> dict:
    work.mkdir(exist_ok=True)
    spec = work / "support.sds"
    spec.write_text(spec_text(rows), encoding="utf-8")
    (work / "synthc.toml").write_text("")
    env = dict(os.environ, OPENAI_API_KEY="dummy", SYNTHC_CACHE=str(work / "cache"))
    env.pop("OPENAI_BASE_URL", None)
    if old:  # an older revision's package on PYTHONPATH shadows the editable install (bench/compare_build.py)
        env["PYTHONPATH"] = old
    plan = json.loads(subprocess.run([sys.executable, "-m", "synthc", "plan", str(spec), "--json"], env=env,
                                     capture_output=True, text=True, check=True).stdout)
    mark = _mark(fake)
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "synthc", "build", str(spec), "--out", str(work / "out"),
                           "--endpoint", fake.base_url, "--model", MODEL, "--concurrency", str(conc), "--json"],
                          env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if done.returncode not in (0, 1):
        print(done.stdout[-2000:], done.stderr[-2000:], file=sys.stderr)
    got = _since(fake, mark)
    per = {p["prompt"]: p["rows"] for p in plan["prompts"]}
    chain = sum(max((t for n, t in got["answered"] if n == f"{p}_rows"), default=0) for p in ("ask", "reply"))
    return {**got, "wall": wall, "exit": done.returncode, "planned_calls": plan["calls"],
            "prompt_est": plan["prompt_tokens_est"], "completion_est": plan["completion_tokens_est"],
            "rows_asked": sum(per.values()) // 2, "chain_tokens": chain, "chain_calls": 2}


# ---- the one-row-per-call script ---------------------------------------------------------------------------------


def draw(n: int, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    pick = lambda d: rng.choices(list(d), weights=list(d.values()))[0]  # noqa: E731
    return [{"product": pick(PRODUCTS), "tone": pick(TONES)} for _ in range(n)]


async def script(base_url: str, rows: list[dict], conc: int) -> None:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=base_url, api_key="dummy")
    gate = asyncio.Semaphore(conc)

    async def ask(system: str, user: str, field: str) -> str:
        schema = {"type": "object", "additionalProperties": False, "required": [field],
                  "properties": {field: {"type": "string", "description": f"{WORDS} to {WORDS} words"}}}
        async with gate:
            r = await client.chat.completions.create(
                model=MODEL, temperature=1.0, max_tokens=200,
                messages=[{"role": "system", "content": system},
                          {"role": "user", "content": f"{user}\nAnswer in JSON: {field}, {WORDS} words."}],
                response_format={"type": "json_schema", "json_schema": {"name": field, "schema": schema,
                                                                        "strict": True}})
        return json.loads(r.choices[0].message.content)[field]

    async def one(row: dict) -> None:
        question = await ask(SYSTEM_ASK, ASK.format(**row), "question")
        await ask(SYSTEM_REPLY, REPLY.format(question=question, **row), "answer")

    await asyncio.gather(*(one(r) for r in rows))
    await client.close()


def run_script(fake: DecodingFake, rows: int, conc: int) -> dict:
    mark = _mark(fake)
    t = time.perf_counter()
    asyncio.run(script(fake.base_url, draw(rows), conc))
    wall = time.perf_counter() - t
    got = _since(fake, mark)
    chain = max(t for _, t in got["answered"]) * 2  # every call of a row decodes the same number of words
    return {**got, "wall": wall, "exit": 0, "rows_asked": rows, "chain_tokens": chain, "chain_calls": 2}


# ---- measuring ------------------------------------------------------------------------------------------------


def _mark(fake: DecodingFake) -> tuple[int, int, int, int]:
    return fake.calls, fake.prompt_tokens, fake.completion_tokens, len(fake.answered)


def _since(fake: DecodingFake, mark) -> dict:
    c, p, k, a = mark
    return {"calls": fake.calls - c, "prompt": fake.prompt_tokens - p, "completion": fake.completion_tokens - k,
            "answered": fake.answered[a:]}


def limit(r: dict, conc: int, latency: float, ms: float) -> float:
    """The decode-bound limit: the pool kept busy, or the longest chain of dependent calls."""
    pooled = (r["completion"] * ms / 1000 + r["calls"] * latency) / conc
    chain = r["chain_tokens"] * ms / 1000 + r["chain_calls"] * latency
    return max(pooled, chain)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[200, 1000])
    ap.add_argument("--concurrency", type=int, nargs="+", default=[4, 32])
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--ms-per-token", type=float, default=10.0)
    ap.add_argument("--json", type=Path, help="also write the raw figures here")
    ap.add_argument("--old", help="also build with an older synthc from this PYTHONPATH (bench/compare_build.py)")
    a = ap.parse_args()
    DecodingFake.latency, DecodingFake.ms_per_token = a.latency, a.ms_per_token
    head = ("| rows | conc | method | calls | rows asked | prompt tok/row | completion tok/row | wall (s) "
            "| decode-bound limit (s) | wall / limit |")
    lines = [head, "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    raw = []
    for n in a.rows:
        for conc in a.concurrency:
            with tempfile.TemporaryDirectory(prefix="synthc-tokens-") as tmp, DecodingFake() as fake:
                s = run_synthc(fake, Path(tmp) / "new", n, conc)
                o = run_synthc(fake, Path(tmp) / "old", n, conc, a.old) if a.old else None
                b = run_script(fake, n, conc)
            for name, r in (("synthc", s), ("synthc (old)", o), ("script", b)):
                if r is None:
                    continue
                lim = limit(r, conc, a.latency, a.ms_per_token)
                r.update(limit=lim, rows=n, conc=conc, method=name)
                lines.append(f"| {n:,} | {conc} | {name} | {r['calls']:,} | {r['rows_asked']:,} "
                             f"| {r['prompt'] / n:.1f} | {r['completion'] / n:.1f} | {r['wall']:.1f} | {lim:.1f} | {r['wall'] / lim:.2f} |")
            lines.append(f"| {n:,} | {conc} | **synthc / script** | {s['calls'] / b['calls']:.3f}x | | "
                         f"{s['prompt'] / b['prompt']:.2f}x | {s['completion'] / b['completion']:.3f}x "
                         f"| {s['wall'] / b['wall']:.2f}x | | |")
            print(f"rows={n} conc={conc}: synthc exit {s['exit']}, {s['calls']} calls (planned {s['planned_calls']}); "
                  f"script {b['calls']} calls", file=sys.stderr, flush=True)
            raw += [{k: v for k, v in r.items() if k != "answered"} for r in (s, o, b) if r is not None]
    print("\n".join(lines))
    if a.json:
        a.json.write_text(json.dumps(raw, indent=1))


if __name__ == "__main__":
    main()
