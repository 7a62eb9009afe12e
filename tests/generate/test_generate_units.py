"""The build's parts on their own: acceptance in DuckDB, rejection tallies, row selection, prompts in stages,
the lock's planning stats, the endpoint order, and the report's markdown."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from fake_openai import FakeOpenAI, requests_of
from synthc.generate.accept import Rejections, broken, row_constraints
from synthc.endpoint import EndpointError, choose
from synthc.generate.executor import Budget, Executor
from synthc.generate.select import select_rows
from synthc.check import check_file
from synthc.emit.lock import make_lock, plan_stats
from synthc.emit.report import bar, cell, report_md
from synthc.plan import AcceptanceStats, build_plan
from synthc.run.cache import AnswerCache
from synthc.run.client import Answer

TWO_PROMPTS = """dataset two {
  rows = 8
  seed = 1
  model = "gpt-4o-mini"
}

field topic: category ~ {
  "a": 50%
  "b": 50%
}
field title: text from head { words = 1..6 }
field body: text from write { words = 2..6 }
field size = word_count(title)

prompt head {
  user = "A title about {topic}."
  rows_per_call = 2
}

prompt write {
  user = "A body for the title {title}."
  rows_per_call = 2
}

constraint short_title: size <= 3
constraint short_body: word_count(body) <= 4
"""


def _spec(tmp_path: Path, text: str):
    p = tmp_path / "s.sds"
    p.write_text(text)
    result = check_file(p)
    assert result.ok, result.diagnostics
    return result.spec


class InProcess:
    """A client answering like the fake server, without HTTP; records every body it was asked."""

    endpoint = "http://in-process/v1"

    def __init__(self):
        self.fake = FakeOpenAI()
        self.bodies: list[dict] = []

    async def complete(self, body):
        self.bodies.append(body)
        _, _, payload = self.fake.answer(body)
        choice = payload["choices"][0]
        return Answer(choice["message"]["content"], choice["finish_reason"], payload["usage"]["prompt_tokens"],
                      payload["usage"]["completion_tokens"], payload["model"])


# ---- acceptance -----------------------------------------------------------------------------------------------


def test_broken_names_each_rows_broken_constraints_and_null_breaks(tmp_path):
    spec = _spec(tmp_path, TWO_PROMPTS)
    rows = [{"_id": "r1", "topic": "a", "title": "x", "size": 1, "body": "one two"},
            {"_id": "r2", "topic": "a", "title": "x y z w", "size": 4, "body": "one two three four five"},
            {"_id": "r3", "topic": "b", "title": "x", "size": None, "body": "ok"}]
    got = broken(spec, rows, row_constraints(spec))
    assert got == {"r1": [], "r2": ["short_title", "short_body"], "r3": ["short_title"]}


def test_rejections_keep_the_smallest_examples_whatever_the_order():
    names = [("k", i) for i in (9, 3, 7, 1, 5)]
    a, b = Rejections(), Rejections()
    for key in names:
        a.add("c", key, {"_id": f"{key[1]}"})
    for key in reversed(names):
        b.add("c", key, {"_id": f"{key[1]}"})
    assert a.to_json() == b.to_json() == {"c": {"count": 5, "examples": [{"_id": "1"}, {"_id": "3"}, {"_id": "5"}]}}


# ---- stages and selection -------------------------------------------------------------------------------------


def test_a_prompt_reading_anothers_output_waits_and_skips_rejected_rows(tmp_path):
    spec = _spec(tmp_path, TWO_PROMPTS)
    plan = build_plan(spec)
    client = InProcess()
    # the fake's 2-6 words meet both constraints about 24% of the time, at the yield floor: stages, not the breaker
    budget = Budget(max_rounds=20, min_yield=0.05)
    out = asyncio.run(Executor(spec, plan, client, AnswerCache(tmp_path / "c"), budget=budget).run())
    assert out.stopped is None and not out.shortfall
    rows = select_rows(spec, plan, out.accepted)
    assert len(rows) == 8 and all(r["size"] == len(r["title"].split()) <= 3 for r in rows)
    assert all(len(r["body"].split()) <= 4 for r in rows)
    asked = [t for b in client.bodies if b["response_format"]["json_schema"]["name"] == "write_rows"
             for ask in requests_of(b["messages"][-1]["content"])
             for t in re.findall(r"A body for the title (.*)\.", ask)]
    assert asked and all(len(t.split()) <= 3 for t in asked)  # no body was paid for under a rejected title
    assert out.rejected.counts["short_title"] > 0
    # stage order inside each round: no write call before the head calls of its round
    kinds = [b["response_format"]["json_schema"]["name"] for b in client.bodies]
    assert kinds[0] == "head_rows"


def test_selection_takes_the_first_quota_rows_by_index(tmp_path):
    spec = _spec(tmp_path, TWO_PROMPTS)
    plan = build_plan(spec)
    s0 = plan.strata[0]
    accepted = {0: {i: {"title": f"t{i}", "body": "b"} for i in (7, 2, s0.rows + 5, 0, 4)}}
    rows = select_rows(spec, plan, accepted)
    ids = [int(r["_id"].rsplit("-", 1)[1]) for r in rows]
    assert ids == sorted((7, 2, s0.rows + 5, 0, 4))[: s0.rows]
    assert all(r["size"] == 1 and r["topic"] == s0.values["topic"] for r in rows)


# ---- lock -----------------------------------------------------------------------------------------------------


def test_plan_stats_reuse_the_last_plan_for_an_unchanged_spec():
    measured = AcceptanceStats(rate=0.5, by_stratum={"k": 0.4})
    planned = AcceptanceStats(rate=0.8)
    lock = make_lock(spec_sha256="s", ir_sha256="ir1", model="m", endpoint="e", seed=1, calls={},
                     dataset_sha256="d", acceptance=measured, planned_with=planned)
    lock = json.loads(json.dumps(lock))
    assert plan_stats(lock, "ir1") == planned
    assert plan_stats(lock, "ir2") == measured
    assert plan_stats(None, "ir1") == AcceptanceStats()


# ---- endpoint -------------------------------------------------------------------------------------------------


def test_the_endpoint_order_is_flag_then_profile_then_environment_then_embedded(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    spec = tmp_path / "s.sds"
    spec.write_text("")
    (tmp_path / "synthc.toml").write_text('[profiles.fast]\nendpoint = "http://toml:1/v1"\nmodel = "q"\n'
                                          'api_key_env = "MY_KEY"\nconcurrency = 3\n')
    assert choose("embedded", spec).embedded
    assert choose("embedded", spec).identity == "embedded"
    with pytest.raises(EndpointError, match="--endpoint"):
        choose("gpt-4o", spec)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    env = choose("gpt-4o", spec)
    assert (env.base_url, env.source, env.model) == ("https://api.openai.com/v1", "environment", "gpt-4o")
    assert choose("embedded", spec).embedded  # the environment is for hosted models only
    toml = choose("fast", spec)
    assert (toml.base_url, toml.model, toml.concurrency, toml.api_key_env) == ("http://toml:1/v1", "q", 3, "MY_KEY")
    monkeypatch.setenv("MY_KEY", "sk-secret-9")
    assert toml.api_key() == "sk-secret-9" and "sk-secret-9" not in repr(toml)
    flag = choose("fast", spec, endpoint="http://flag:2/v1", model="m2", concurrency=9)
    assert (flag.base_url, flag.model, flag.concurrency, flag.profile.name) == ("http://flag:2/v1", "m2", 9, "fast")


def test_a_wrong_synthc_toml_is_an_error(tmp_path):
    spec = tmp_path / "s.sds"
    spec.write_text("")
    (tmp_path / "synthc.toml").write_text('[profiles.fast]\nendpoitn = "http://x"\n')
    with pytest.raises(EndpointError, match="endpoitn"):
        choose("fast", spec)


# ---- report ---------------------------------------------------------------------------------------------------


def test_bars_scale_in_eighths_and_cells_cannot_break_a_table():
    assert bar(0.5, 0.5) == "█" * 20
    assert bar(0.25, 0.5) == "█" * 10
    assert bar(1 / 160, 1.0) == "▏"
    assert bar(0.0, 1.0) == ""
    assert cell("a|b\nc <script>") == "a\\|b c &lt;script&gt;"
    assert len(cell("x" * 500)) == 80


def test_report_md_shows_failed_checks_marginals_and_rejections():
    report = {
        "dataset": "d", "rows": 2, "rounds": 2, "calls": 3, "calls_full_rebuild": 5, "cache_hits": 2,
        "failed_calls": 0, "prompt_tokens": 10, "completion_tokens": 5, "cost_usd": None,
        "prompt_tokens_full_rebuild": 20, "completion_tokens_full_rebuild": 9, "cost_usd_full_rebuild": None,
        "model": "m", "acceptance_rate": 0.5,
        "checks": [{"name": "ok", "kind": "row", "passed": True, "violations": 0, "sql": "SELECT 1", "values": {}},
                   {"name": "uniq", "kind": "dataset", "passed": False, "violations": 1, "sql": "SELECT 2",
                    "examples": [{"title": "a|b", "copies": 2}], "values": {}}],
        "marginals": {"s": {"x": {"target": 0.5, "actual": 0.5, "count": 1},
                            "y": {"target": 0.5, "actual": 0.25, "count": 1}}},
        "tvd": {"s": 0.125},
        "rejected": {"fits": {"count": 4, "examples": [{"_id": "k-000001", "values": {"note": "too long"}}]}},
    }
    md = report_md(report)
    assert "❌ **1 of 2 checks failed**" in md
    assert "| ❌ | uniq | dataset | 1 |" in md
    assert "title = a\\|b" in md
    assert "| y | 50.0% | 25.0% | -25.0 pp | 1 | `██████████` |" in md
    assert "| fits | 4 |" in md and "`k-000001`: note = too long" in md
    assert "```sql\nSELECT 2\n```" in md
    assert "| cost | unknown | unknown |" in md


def test_progress_draws_bars_on_a_terminal_and_lines_elsewhere():
    import io

    from rich.console import Console

    from synthc.generate.progress import PlainProgress, make_progress

    term = Console(file=io.StringIO(), force_terminal=True, width=120)
    bars = make_progress(term)
    plain_out = io.StringIO()
    plain = make_progress(Console(file=plain_out, force_terminal=False))
    assert isinstance(plain, PlainProgress) and not isinstance(bars, PlainProgress)
    for p in (bars, plain):
        p.round(1, 2)
        p.call(False, Answer("{}", "stop", 10, 5), 0.001)
        p.call(True, Answer("{}", "stop", 10, 5), 0.0)
        p.rows(3, 4)
        p.round(2, 1)
        p.call(False, None, None)
        p.close()
    assert "round 2" in term.file.getvalue()
    lines = plain_out.getvalue().splitlines()
    assert lines == ["synthc: round 1: 2 of 2 calls, 1 from cache; 3/4 rows accepted; 15 tokens, $0.0010",
                     "synthc: round 2: 1 of 1 calls, 1 failed; 3/4 rows accepted; 15 tokens, $0.0010"]
