"""Requests (--emit-batch), the JSON contract (--json) and the rich summary."""

from __future__ import annotations

import io
import json
import re

from fake_openai import requests_of
from plan_specs import cat, reviews, spec
from rich.console import Console

from synthc import ir
from synthc.generate.predict import batch_lines, write_batch
from synthc.plan import build_plan, iter_calls
from synthc.plan.batch import pool_k, shared_k
from synthc.plan.cost import token_model
from synthc.profiles import profile_for
from synthc.render.plan import render
from synthc.plan.requests import fill, max_tokens, messages, output_schema

CONTRACT_KEYS = {"dataset", "rows", "seed", "calls", "lower_bound_calls", "rows_per_call", "prompt_tokens_est",
                 "completion_tokens_est", "cost_est_usd", "strata", "marginals"}


def test_fill_placeholders_and_literal_braces():
    row = {"name": "Ada", "n": 3, "ok": True, "x": 2.5}
    assert fill("Hi {name}, {n} {ok} {x} {{name}} {{}}", row) == "Hi Ada, 3 true 2.5 {name} {}"
    assert fill("{missing}", row) == "{missing}"


def test_output_schema_asks_for_exactly_k_rows_with_handles():
    sp = reviews()
    schema = output_schema(sp, sp.prompts[0], 3)
    rows = schema["properties"]["rows"]
    assert rows["minItems"] == rows["maxItems"] == 3
    assert rows["items"]["required"] == ["row", "review"]
    assert rows["items"]["properties"]["row"] == {"type": "integer", "enum": [1, 2, 3]}  # a position, not an id
    assert schema["additionalProperties"] is False and rows["items"]["additionalProperties"] is False


ROWS = [{"id": "r1", "sentiment": "positive", "rating": 5}, {"id": "r2", "sentiment": "negative", "rating": 1},
        {"id": "r3", "sentiment": "positive", "rating": 5}, {"id": "r4", "sentiment": "positive", "rating": 5}]


def test_a_call_says_its_request_and_columns_once_and_each_row_as_an_array_line():
    sp = reviews()
    system, user = messages(sp, sp.prompts[0], ROWS[:2])
    assert system == {"role": "system", "content": "You write realistic reviews."}
    assert user["content"] == (
        "Write 2 rows, each answering this request with its own {placeholders}:\n"
        "Write a {sentiment} product review that rates the product {rating}/5.\n\n"
        "Rows 1-2, one per line as [sentiment, rating]:\n"
        '["positive", 5]\n'
        '["negative", 1]\n\n'
        'Answer {"rows": [...]}: 2 items in row order, each with "row" and:\n'
        "- review: text; 40-120 words")
    assert "r1" not in user["content"] and "r2" not in user["content"]  # ids are never shown


def test_values_every_row_shares_are_filled_into_the_request_once():
    sp = reviews()
    rows = [{"id": "a", "sentiment": "positive", "rating": 5}, {"id": "b", "sentiment": "positive", "rating": 2}]
    _, user = messages(sp, sp.prompts[0], rows)
    assert "Write a positive product review that rates the product {rating}/5." in user["content"]
    assert "Rows 1-2, one per line as [rating]:\n[5]\n[2]\n\n" in user["content"]


def test_a_call_whose_rows_all_ask_the_same_asks_for_that_many_different_answers_without_lines():
    sp = reviews()
    _, user = messages(sp, sp.prompts[0], [ROWS[0], ROWS[2], ROWS[3]])
    assert user["content"] == (
        "Write 3 different rows for this request:\n"
        "Write a positive product review that rates the product 5/5.\n\n"
        'Answer {"rows": [...]}: 3 items in row order, each with "row" and:\n'
        "- review: text; 40-120 words")


def test_rows_asking_the_same_are_one_line_that_wants_that_many_different_answers():
    sp = reviews()
    _, user = messages(sp, sp.prompts[0], ROWS)
    lines = [x for x in user["content"].splitlines() if x.startswith("[")]
    assert lines == ['["1,3-4", "positive", 5]', '[2, "negative", 1]']
    assert "a line with several row numbers wants that many different answers:" in user["content"]
    assert 'Answer {"rows": [...]}: 4 items' in user["content"]
    _, apart = messages(sp, sp.prompts[0], ROWS, merge=False)  # plan.cost's upper bound: a line per row
    assert sum(x.startswith("[") for x in apart["content"].splitlines()) == 4
    judge = sp.prompts[0].model_copy(update={"judge": True})
    _, asked = messages(sp, judge, ROWS)  # a judge answers each row: its rows are never merged
    assert sum(x.startswith("[") for x in asked["content"].splitlines()) == 4
    assert "Rows 1-4, one per line as [sentiment, rating]:" in asked["content"]  # nor its shared values folded
    assert asked["content"].startswith("Answer this question for each of the 4 rows below")


def test_a_one_row_call_sends_the_plain_prompt():
    sp = reviews()
    (single,) = messages(sp, sp.prompts[0].model_copy(update={"system": None}), ROWS[:1])
    assert single["content"] == ("Write a positive product review that rates the product 5/5.\n\n"
                                 "Answer with one JSON object with these fields:\n- review: text; 40-120 words")


def test_a_field_named_row_moves_the_handle_to_underscore_row():
    sp = reviews()
    p = sp.prompts[0].model_copy(update={"outputs": ("row",)})
    sp = sp.model_copy(update={"fields": (*sp.fields[:2], sp.fields[2].model_copy(update={"name": "row"})),
                               "prompts": (p,)})
    assert output_schema(sp, p, 2)["properties"]["rows"]["items"]["required"] == ["_row", "row"]
    user = messages(sp, p, ROWS[:2])[-1]["content"]
    assert 'each with "_row" and:' in user and "as [sentiment, rating]:" in user
    assert "as [_row, sentiment, rating]; a line with several" in messages(sp, p, ROWS)[-1]["content"]


def test_emit_batch_writes_one_openai_request_per_call(tmp_path):
    sp = reviews(120)
    plan = build_plan(sp)
    path = tmp_path / "batch.jsonl"
    n = write_batch(batch_lines(sp, plan, "https://api.openai.com/v1", None, new_only=True), str(path))
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert n == len(lines) == plan.calls
    (pp,) = plan.prompts
    calls = {c.id: c for c in iter_calls(pp, plan.strata)}
    assert [x["custom_id"] for x in lines] == list(calls)
    for line in lines:
        assert set(line) == {"custom_id", "method", "url", "body"}
        assert line["method"] == "POST" and line["url"] == "/v1/chat/completions"
        body = line["body"]
        assert set(body) == {"model", "messages", "response_format", "temperature", "max_tokens", "seed"}
        assert body["model"] == "gpt-4o-mini"
        fmt = body["response_format"]
        assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
        call = calls[line["custom_id"]]
        k = len(call.rows)
        assert fmt["json_schema"]["schema"]["properties"]["rows"]["maxItems"] == k
        user = body["messages"][-1]["content"]
        asked = requests_of(user)  # each row's request, read back from the call's one request and its lines
        assert len(asked) == k
        for n, (s, i) in enumerate(call.rows):
            st, v = plan.strata[s], plan.strata[s].values
            assert f"{st.key}-{i:06d}" not in user  # rows are numbered, their ids never shown
            assert asked[n].startswith(f"Write a {v['sentiment']} product review that rates the product {v['rating']}/5")
        assert user.count("product review that rates the product") == 1  # the request is said once per call
        assert 0 < body["max_tokens"] <= plan.profile.max_output_tokens
    assert len({x["body"]["seed"] for x in lines}) == len(lines)
    again = io.StringIO()
    write_batch(batch_lines(sp, plan, "https://api.openai.com/v1", None, new_only=True), again)
    assert again.getvalue() == path.read_text()


def test_json_contract():
    spec = reviews(200)
    plan = build_plan(spec)
    out = plan.to_json_dict()
    assert CONTRACT_KEYS <= set(out)
    json.dumps(out)  # serialisable as is
    assert out["dataset"] == "test" and out["rows"] == 200 and out["seed"] == 7
    assert out["calls"] == out["lower_bound_calls"] == plan.calls
    assert out["rows_per_call"] == pool_k(25, 200, plan.profile.concurrency,
                                          floor=shared_k(token_model(spec, spec.prompts[0])))
    assert sum(s["rows"] for s in out["strata"]) == 200
    assert all(set(s) >= {"values", "rows"} for s in out["strata"])
    assert set(out["marginals"]) == {"sentiment", "rating"}
    assert out["marginals"]["sentiment"]["negative"] == {"target_share": 0.3, "planned_rows": 60}
    assert out["marginals"]["rating"]["1"]["planned_rows"] == 30
    assert isinstance(out["cost_est_usd"], float)


def test_json_without_prompts():
    plan = build_plan(spec([cat("c", {"x": 0.5, "y": 0.5})], 10))
    out = plan.to_json_dict()
    assert out["calls"] == 0 and out["rows_per_call"] is None and out["cost_est_usd"] == 0.0


def test_render_shows_strata_calls_cost_and_warnings():
    plan = build_plan(reviews(12))
    console = Console(record=True, width=140)
    render(plan, console)
    out = console.export_text()
    assert "Strata (5)" in out and "Calls (round 1)" in out and "Marginals" in out
    assert re.search(r"write\s+│\s+gpt-4o-mini", out)
    assert f"{plan.calls} calls" in out and "$" in out
    assert "warning:" in out and "fewer than 5 rows" in out


def test_render_problem_plan():
    from plan_specs import constraint, eq, implies, lit, op, ref

    rule = constraint("neg_low", implies(eq("s", "neg"), op("<=", ref("r", "number"), lit(1))))
    sp = spec([cat("s", {"neg": 0.5, "pos": 0.5}), cat("r", {1: 0.1, 2: 0.9}, kind="int")], 10, constraints=[rule])
    console = Console(record=True, width=140)
    render(build_plan(sp), console)
    assert "SDS029" in console.export_text()


def test_batch_schema_types_every_output_field():
    outputs = (
        ir.Field(name="label", role="generated", prompt="p", type=ir.Type(kind="enum", values=("bug", "question"))),
        ir.Field(name="score", role="generated", prompt="p", type=ir.Type(kind="int", low=1, high=5)),
        ir.Field(name="tags", role="generated", prompt="p", type=ir.Type(kind="list", item=ir.Type(kind="text")),
                 hints=ir.LengthHints(items=(2, 4))),
        ir.Field(name="ok", role="generated", prompt="p", type=ir.Type(kind="bool")),
    )
    from plan_specs import prompt

    sp = spec([cat("topic", {"a": 0.5, "b": 0.5}), *outputs], 6,
              prompts=[prompt("p", "About {topic}: {{literal}}", ("topic",), tuple(f.name for f in outputs))])
    plan = build_plan(sp, profile=profile_for(sp.dataset.model).model_copy(update={"concurrency": 1}))  # k > 1
    buf = io.StringIO()
    write_batch(batch_lines(sp, plan, "https://api.openai.com/v1", None, new_only=True), buf)
    line = json.loads(buf.getvalue().splitlines()[0])
    item = line["body"]["response_format"]["json_schema"]["schema"]["properties"]["rows"]["items"]
    props = item["properties"]
    assert item["required"] == ["row", "label", "score", "tags", "ok"]
    assert props["label"]["enum"] == ["bug", "question"]
    assert props["score"]["type"] == "integer" and props["score"]["minimum"] == 1
    assert props["tags"]["type"] == "array" and (props["tags"]["minItems"], props["tags"]["maxItems"]) == (2, 4)
    assert props["ok"]["type"] == "boolean"
    assert "\nAbout {topic}: {literal}\n" in line["body"]["messages"][-1]["content"]  # said once, braces unescaped


def test_one_row_calls_ask_for_the_bare_row_without_a_handle():
    sp = reviews()
    schema = output_schema(sp, sp.prompts[0], 1)
    assert "rows" not in schema["properties"] and not {"id", "row"} & set(schema["properties"])
    assert schema["required"] == list(sp.prompts[0].outputs)


def test_max_tokens_is_per_row_in_the_request():
    sp = reviews()
    prompt = sp.prompts[0].model_copy(update={"max_tokens": 300})
    sp = sp.model_copy(update={"prompts": (prompt,)})
    plan = build_plan(sp)
    (pp,) = plan.prompts
    small = max_tokens(pp, prompt, 1, 16_384)
    assert max_tokens(pp, prompt, 4, 16_384) - small == 3 * 300
    assert max_tokens(pp, prompt, 100, 2_000) == 2_000  # never above the model's output limit
