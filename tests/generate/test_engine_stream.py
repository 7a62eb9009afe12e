"""The round engine as a stream of chunks (docs/BUILD.md "The round engine"): a later prompt's calls start before
the earlier prompt's last call, the rows in flight stay under the engine's bound, the calls made are the plan's,
and the same answers give the same accepted rows whatever the pool size."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from fake_openai import FakeOpenAI
from synthc.check import check_file
from synthc.generate.executor import Budget, Executor
from synthc.generate.select import select_rows
from synthc.plan import build_plan
from synthc.run.cache import AnswerCache
from synthc.run.client import Answer

SPEC = """dataset two {
  rows = 40
  seed = 5
  model = "gpt-4o-mini"
}

field topic: category ~ {
  "a": 50%
  "b": 50%
}
field title: text from head { words = 1..6 }
field body: text from write { words = 2..6 }

prompt head {
  user = "A title about {topic}."
  rows_per_call = 2
}

prompt write {
  user = "A body for the title {title}."
  rows_per_call = 2
}
"""


class Logged:
    """A client answering like the fake server, in process; logs each request as it starts and as it ends.
    Every answer yields to the event loop first, so other calls run meanwhile."""

    endpoint = "http://in-process/v1"

    def __init__(self):
        self.fake = FakeOpenAI()
        self.log: list[tuple[str, str]] = []  # ("start" | "end", prompt)

    async def complete(self, body):
        prompt = "write" if "A body for" in json.dumps(body) else "head"
        self.log.append(("start", prompt))
        for _ in range(3):
            await asyncio.sleep(0)
        _, _, payload = self.fake.answer(body)
        self.log.append(("end", prompt))
        choice = payload["choices"][0]
        return Answer(choice["message"]["content"], choice["finish_reason"], payload["usage"]["prompt_tokens"],
                      payload["usage"]["completion_tokens"], payload["model"])


def _spec(tmp_path: Path, text: str = SPEC):
    p = tmp_path / "s.sds"
    p.write_text(text)
    result = check_file(p)
    assert result.ok, result.diagnostics
    return result.spec


def _run(tmp_path: Path, workers: int, cache: str = "c", text: str = SPEC):
    spec = _spec(tmp_path, text)
    plan = build_plan(spec)
    client = Logged()
    engine = Executor(spec, plan, client, AnswerCache(tmp_path / cache), budget=Budget(max_rounds=5),
                      workers=workers)
    out = asyncio.run(engine.run())
    assert out.stopped is None and not out.shortfall
    return spec, plan, client, engine, out


def test_a_later_prompt_starts_before_the_earlier_prompts_last_call_ends(tmp_path):
    _, plan, client, _, _ = _run(tmp_path, workers=2)
    first_write = client.log.index(("start", "write"))
    last_head_end = max(n for n, e in enumerate(client.log) if e == ("end", "head"))
    assert first_write < last_head_end  # no barrier: a write call began while head calls were still running


def test_rows_in_flight_never_pass_the_bound(tmp_path):
    _, plan, _, engine, _ = _run(tmp_path, workers=2)
    assert engine.rows_bound < plan.rows  # the bound is smaller than the round: it had to hold chunks back
    assert 0 < engine.peak_rows_in_flight <= engine.rows_bound


def test_round_one_makes_the_plans_calls_per_prompt(tmp_path):
    _, plan, client, _, out = _run(tmp_path, workers=3)
    made = {p: sum(1 for e in client.log if e == ("start", p)) for p in ("head", "write")}
    assert made == {pp.prompt: pp.calls for pp in plan.prompts}
    assert out.counters.rounds == 1


def test_the_same_answers_give_the_same_rows_at_any_pool_size(tmp_path):
    spec, plan, _, _, one = _run(tmp_path, workers=1, cache="c1")
    _, _, _, _, many = _run(tmp_path, workers=8, cache="c8")
    assert select_rows(spec, plan, one.accepted) == select_rows(spec, plan, many.accepted)
    assert one.calls == many.calls


def test_a_chunk_spans_the_first_prompts_calls_a_later_call_needs(tmp_path):
    # one-row head calls read by 3-row write calls: a chunk is 3 head calls, so write makes its lower bound
    text = SPEC.replace("rows_per_call = 2\n}\n\nprompt write", "rows_per_call = 1\n}\n\nprompt write").replace(
        "A body for the title {title}.\"\n  rows_per_call = 2", "A body for the title {title}.\"\n  rows_per_call = 3")
    _, plan, client, _, out = _run(tmp_path, workers=3, text=text)
    by = {pp.prompt: pp for pp in plan.prompts}
    assert (by["head"].rows_per_call, by["write"].rows_per_call) == (1, 3)
    assert by["write"].calls == by["write"].lower_bound_calls < by["head"].calls
    made = {p: sum(1 for e in client.log if e == ("start", p)) for p in ("head", "write")}
    assert made == {pp.prompt: pp.calls for pp in plan.prompts}
    assert out.counters.rounds == 1
