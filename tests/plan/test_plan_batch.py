"""Calls: rows per call, packing to the lower bound, spare rows, top-up rounds, tokens and cost."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from plan_specs import cat, prompt, reviews, spec, text

from synthc import ir
from synthc.plan import AcceptanceStats, build_plan, iter_calls, top_up
from synthc.plan.batch import CONFIDENCE, TOPUP_FACTOR, pack, rows_per_call, spare_rows
from synthc.plan.judges import engine_spec
from synthc.plan.model import call_ceiling
from synthc.plan.cost import TokenModel, token_model
from synthc.profiles import BUILTIN, ModelProfile, profile_for


def exact_tail(n: int, m: int, p_num: int, p_den: int) -> float:
    """P(Binomial(m, p) >= n) with integers only (p = p_num / p_den)."""
    q_num = p_den - p_num
    hits = sum(math.comb(m, j) * p_num ** j * q_num ** (m - j) for j in range(n, m + 1))
    return hits / p_den ** m


@pytest.mark.parametrize("n", [1, 5, 30, 100, 400])
@pytest.mark.parametrize("p", [(9, 10), (1, 2), (99, 100)])
def test_spare_rows_is_the_smallest_binomial_quantile(n, p):
    s = spare_rows(n, p[0] / p[1])
    assert exact_tail(n, n + s, *p) >= CONFIDENCE
    assert s == 0 or exact_tail(n, n + s - 1, *p) < CONFIDENCE


def test_spare_rows_normal_approximation_for_large_quotas():
    n = 3000
    s = spare_rows(n, 0.9)
    assert exact_tail(n, n + s + 1, 9, 10) >= CONFIDENCE
    assert exact_tail(n, n + s - 2, 9, 10) < CONFIDENCE  # within a row of the exact quantile


def test_spare_rows_edge_cases():
    assert spare_rows(0, 0.9) == 0
    assert spare_rows(100, 1.0) == 0
    assert spare_rows(100, 0.5) > spare_rows(100, 0.9) > spare_rows(100, 0.99)


def test_acceptance_stats_size_spares_per_stratum():
    one = profile_for("gpt-4o-mini").model_copy(update={"concurrency": 1, "max_rows_per_call": 30})
    base = build_plan(reviews(200), profile=one)  # k = 30: 7 calls hold 210 rows, room for 10 spares
    key = base.strata[0].key
    stats = AcceptanceStats(rate=0.99, by_stratum={key: 0.5})
    plan = build_plan(reviews(200), stats=stats, profile=one)
    wanted = {s.key: spare_rows(s.rows, 0.5 if s.key == key else 0.99) for s in plan.strata}
    assert all(s.spare <= wanted[s.key] for s in plan.strata)
    assert plan.stratum(key).spare > base.stratum(key).spare
    perfect = build_plan(reviews(200), stats=AcceptanceStats(rate=1.0), profile=one)
    assert perfect.spare_rows == 0 and perfect.calls == math.ceil(200 / 30)


def test_spares_fill_the_free_room_of_the_calls_the_quota_needs():
    """Round 1 makes ceil(quota / k) calls whatever the spares want; they fill the room those calls leave."""
    for conc, k_max in ((1, 30), (4, 25), (16, 25), (1, 7)):
        profile = profile_for("gpt-4o-mini").model_copy(update={"concurrency": conc, "max_rows_per_call": k_max})
        plan = build_plan(reviews(200), stats=AcceptanceStats(rate=0.5), profile=profile)
        pp = plan.prompts[0]
        assert pp.calls == math.ceil(200 / pp.rows_per_call), (conc, k_max)
        assert plan.spare_rows == pp.calls * pp.rows_per_call - 200
        assert sum(s.rows for s in plan.strata) == 200  # quotas (hence marginals) untouched


def test_rows_per_call_fill_the_pool():
    """k = min(k_limit, max(k_shared, ceil(quota / (concurrency x WAVES)))): enough calls for every slot, but never
    so few rows that the part of the prompt said once per call outweighs the rows' part."""
    from synthc.plan.batch import WAVES, shared_k
    from synthc.plan.cost import token_model

    spec = reviews(200)
    floor = shared_k(token_model(spec, spec.prompts[0]))
    assert floor > 1  # the shared part of this prompt is longer than a row's line
    limit = floor + 20  # the profile's most rows per call, above the floor
    seen = set()
    for conc in (1, 4, 16, 32, 200):
        profile = profile_for("gpt-4o-mini").model_copy(update={"concurrency": conc, "max_rows_per_call": limit})
        pp = build_plan(spec, profile=profile).prompts[0]
        assert pp.rows_per_call == max(1, min(limit, max(floor, math.ceil(200 / (conc * WAVES)))))
        assert pp.calls == math.ceil(200 / pp.rows_per_call)  # the spares ride in the free room
        seen.add(pp.rows_per_call)
    assert floor in seen and limit in seen  # both the floor and the limit were reached


# ---- packing ----------------------------------------------------------------------------------------


def check_packing(quotas, k):
    batches = pack(quotas, k)
    calls = []
    for b in batches:
        if b.calls > 1:
            (seg,) = b.segments
            assert seg.count == b.calls * k
            calls += [[(seg.stratum, seg.start + c * k + i) for i in range(k)] for c in range(b.calls)]
        else:
            calls.append([(seg.stratum, seg.start + i) for seg in b.segments for i in range(seg.count)])
    total = sum(n for _, _, n in quotas)
    assert len(calls) == math.ceil(total / k)
    assert all(0 < len(c) <= k for c in calls)
    covered = Counter(r for c in calls for r in c)
    assert covered == Counter((s, st + i) for s, st, n in quotas for i in range(n))
    # Whole calls first: only a stratum's remainder (fewer than k rows) shares calls with other strata.
    mixed = Counter()
    for c in calls:
        if len({x for x, _ in c}) > 1:
            mixed.update(x for x, _ in c)
    for s, _, n in quotas:
        assert mixed[s] <= n % k
    return calls


@pytest.mark.parametrize("k", [1, 3, 7, 25])
def test_pack_meets_the_lower_bound(k):
    quotas = [(i, 0, n) for i, n in enumerate([0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 6, 6, 6])]
    check_packing(quotas, k)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 60), max_size=30), st.integers(1, 30))
def test_pack_meets_the_lower_bound_for_any_quotas(sizes, k):
    check_packing([(i, 3 * i, n) for i, n in enumerate(sizes)], k)


def test_pack_honours_start_offsets():
    calls = check_packing([(0, 10, 4), (1, 3, 2)], 3)
    assert (0, 10) in calls[0] + calls[1] and (1, 4) in [r for c in calls for r in c]


def test_plan_calls_equal_lower_bound_and_cover_requested_rows():
    plan = build_plan(reviews(997))
    (pp,) = plan.prompts
    assert pp.calls == pp.lower_bound_calls == math.ceil(sum(s.requested for s in plan.strata) / pp.rows_per_call)
    seen = Counter()
    for call in iter_calls(pp, plan.strata):
        assert len(call.rows) <= pp.rows_per_call
        seen.update(call.rows)
    assert seen == Counter((i, j) for i, s in enumerate(plan.strata) for j in range(s.requested))
    assert len({c.id for c in iter_calls(pp, plan.strata)}) == pp.calls


def test_system_message_values_keep_calls_apart():
    sp = reviews(103)
    p = sp.prompts[0].model_copy(update={"system": ir.Template(text="You are {sentiment}.", fields=("sentiment",))})
    sp = sp.model_copy(update={"prompts": (p,)})
    plan = build_plan(sp)
    (pp,) = plan.prompts
    for call in iter_calls(pp, plan.strata):
        assert len({plan.strata[s].values["sentiment"] for s, _ in call.rows}) == 1
    per_value = Counter()
    for s in plan.strata:
        per_value[s.values["sentiment"]] += s.requested
    assert pp.calls == pp.lower_bound_calls == sum(math.ceil(n / pp.rows_per_call) for n in per_value.values())


# ---- rows per call ----------------------------------------------------------------------------------

TOKENS = TokenModel(prompt_per_call=100, prompt_per_row=30, completion_per_call=8, completion_per_row=200)


def profile(**kw) -> ModelProfile:
    base = dict(name="p", model="m", max_rows_per_call=25, context_tokens=128_000, max_output_tokens=16_384)
    return ModelProfile(**(base | kw))


def test_rows_per_call_takes_the_tightest_limit():
    pr = reviews().prompts[0]
    assert rows_per_call(pr, profile(), TOKENS)[0] == 25
    assert rows_per_call(pr.model_copy(update={"rows_per_call": 5}), profile(), TOKENS)[0] == 5
    k, warnings = rows_per_call(pr.model_copy(update={"rows_per_call": 50}), profile(), TOKENS)
    assert k == 25 and "the model profile" in warnings[0]
    k, warnings = rows_per_call(pr, profile(max_output_tokens=2000), TOKENS)
    assert k == math.floor((2000 / 1.25 - 8) / 200) and not warnings  # auto: no complaint
    k, warnings = rows_per_call(pr.model_copy(update={"rows_per_call": 20}), profile(max_output_tokens=2000), TOKENS)
    assert k == math.floor((2000 / 1.25 - 8) / 200) and "output token limit" in warnings[0]
    # max_tokens is per row: it does not cut rows per call, but a cap below a row's estimate is warned about
    assert rows_per_call(pr.model_copy(update={"max_tokens": 1000}), profile(), TOKENS) == (25, [])
    k, warnings = rows_per_call(pr.model_copy(update={"max_tokens": 150}), profile(), TOKENS)
    assert k == 25 and any("max_tokens = 150 per row" in w for w in warnings)
    k, _ = rows_per_call(pr, profile(context_tokens=3000), TOKENS)
    assert k == math.floor((3000 - 100 - 1.25 * 8) / (30 + 1.25 * 200))
    k, warnings = rows_per_call(pr, profile(max_output_tokens=100), TOKENS)
    assert k == 1 and any("may be cut off" in w for w in warnings)


def test_embedded_profile_makes_one_call_per_row():
    plan = build_plan(reviews(40, model="embedded"))
    (pp,) = plan.prompts
    assert pp.rows_per_call == 1 and pp.calls == pp.rows == 40 + plan.spare_rows
    assert plan.cost_est_usd == 0.0


def test_longer_answers_mean_fewer_rows_per_call():
    def plan_for(words):
        sp = reviews(100)
        fields = tuple(f.model_copy(update={"hints": ir.LengthHints(words=words)}) if f.name == "review" else f
                       for f in sp.fields)
        return build_plan(sp.model_copy(update={"fields": fields}), profile=profile(max_output_tokens=8000))

    short, long = plan_for((10, 20)), plan_for((400, 800))
    assert short.prompts[0].completion_tokens_per_row < long.prompts[0].completion_tokens_per_row
    assert long.prompts[0].rows_per_call < short.prompts[0].rows_per_call
    assert long.calls > short.calls


# ---- tokens and cost --------------------------------------------------------------------------------


def test_cost_follows_the_profile_prices():
    plan = build_plan(reviews(500))
    (pp,) = plan.prompts
    prices = BUILTIN["gpt-4o-mini"]
    assert pp.prompt_tokens_est == pp.calls * pp.prompt_tokens_per_call + pp.rows * pp.prompt_tokens_per_row
    assert pp.completion_tokens_est == pp.calls * pp.completion_tokens_per_call + pp.rows * pp.completion_tokens_per_row
    want = pp.prompt_tokens_est * prices.input_usd_per_mtok / 1e6 + pp.completion_tokens_est * prices.output_usd_per_mtok / 1e6
    assert plan.cost_est_usd == pytest.approx(want, abs=1e-6)


def test_unknown_model_has_no_cost():
    plan = build_plan(reviews(100, model="my-local-llama"))
    assert plan.profile == profile_for("my-local-llama")
    assert plan.cost_est_usd is None and plan.to_json_dict()["cost_est_usd"] is None
    assert plan.prompt_tokens_est > 0


def test_prompt_tokens_grow_with_the_template():
    sp = reviews(100)
    long_user = ir.Template(text=sp.prompts[0].user.text + " Mention the weather." * 50, fields=("sentiment", "rating"))
    longer = sp.prompts[0].model_copy(update={"user": long_user})
    a, b = token_model(sp, sp.prompts[0]), token_model(sp, longer)
    # 50 sentences of ~20 chars: said once per call of several rows (docs/BUILD.md "Request format"), and in the
    # plain prompt of a one-row call; a row's line holds only its values
    assert b.prompt_per_call > a.prompt_per_call + 200 and b.prompt_one_row > a.prompt_one_row + 200
    assert b.prompt_per_row == a.prompt_per_row


def test_prompt_model_override_uses_that_profile():
    sp = reviews(100)
    p = sp.prompts[0].model_copy(update={"model": "embedded"})
    plan = build_plan(sp.model_copy(update={"prompts": (p,)}))
    assert plan.prompts[0].profile == "embedded" and plan.prompts[0].rows_per_call == 1


def test_prompt_reading_another_prompts_output_waits():
    sp = spec([cat("topic", {"a": 0.5, "b": 0.5}), text("title", "titles", (3, 8)), text("body", "bodies", (50, 90))], 30,
              prompts=[prompt("titles", "A title about {topic}.", ("topic",), ("title",)),
                       prompt("bodies", "A text titled {title}.", ("title",), ("body",))])
    plan = build_plan(sp)
    assert [p.after for p in plan.prompts] == [(), ("titles",)]
    assert plan.calls == plan.lower_bound_calls == sum(p.lower_bound_calls for p in plan.prompts)


# ---- later rounds -----------------------------------------------------------------------------------


def test_top_up_requests_only_what_is_missing_after_the_requested_rows():
    sp = reviews(200)
    plan = build_plan(sp)
    full, short = plan.strata[0], plan.strata[1]
    accepted = {s.key: s.rows for s in plan.strata} | {short.key: short.rows - 7}
    (pp,) = top_up(sp, plan, accepted)
    rows = [r for call in iter_calls(pp, plan.strata) for r in call.rows]
    assert {plan.strata[s].key for s, _ in rows} == {short.key}
    assert len(rows) == 7 + spare_rows(7, 0.9)
    assert min(i for _, i in rows) == short.requested  # fresh ids: after every row of round 1
    assert pp.calls == pp.lower_bound_calls == math.ceil(len(rows) / pp.rows_per_call)
    assert full.key in accepted


def test_expensive_spares_are_reported():
    many = spec([cat(f"f{j}", {f"v{i}": 0.25 for i in range(4)}) for j in range(3)], 64)
    plan = build_plan(many, AcceptanceStats(rate=0.5))  # 64 one-row strata, half the rows rejected
    assert plan.spare_rows > 32 and any("spare rows" in w for w in plan.warnings)
    assert not any("spare rows" in w for w in build_plan(many).warnings)  # at p = 0.9 one-row strata need none
    assert not any("spare rows" in w for w in build_plan(reviews(1000)).warnings)


_REVIEWS_200 = reviews(200)
_PLAN_200 = build_plan(_REVIEWS_200, None, profile_for("gpt-4o-mini"))


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_a_top_up_never_asks_past_its_bound_or_the_ceiling(data):
    """For any acceptance so far and any measured rates (0 included), a top-up asks at most TOPUP_FACTOR rows per
    missing row, and with a ceiling its calls never exceed it."""
    sp, plan = _REVIEWS_200, _PLAN_200
    accepted = {s.key: data.draw(st.integers(0, s.rows), label=s.key) for s in plan.strata[:40]}
    accepted |= {s.key: s.rows for s in plan.strata[40:]}
    rate = data.draw(st.floats(0, 1), label="rate")
    by = {s.key: data.draw(st.floats(0, 1)) for s in plan.strata[:5]}
    ceiling = data.draw(st.one_of(st.none(), st.integers(0, 40)), label="ceiling")
    pps = top_up(sp, plan, accepted, None, AcceptanceStats(rate=rate, by_stratum=by), ceiling=ceiling)
    asked = Counter(plan.strata[si].key for pp in pps for call in iter_calls(pp, plan.strata) for si, _ in call.rows)
    for s in plan.strata:
        assert asked[s.key] <= TOPUP_FACTOR * (s.rows - accepted[s.key])
    if ceiling is not None:
        assert sum(pp.calls for pp in pps) <= ceiling
    else:  # sized with a rate of at least the floor: never 100x the missing rows
        missing = sum(s.rows - accepted[s.key] for s in plan.strata)
        assert sum(asked.values()) <= TOPUP_FACTOR * missing


def test_a_tight_ceiling_still_asks_for_what_fits():
    sp, plan = _REVIEWS_200, _PLAN_200
    accepted = {s.key: 0 for s in plan.strata}  # nothing accepted: the floor rate sizes the spares
    unbounded = top_up(sp, plan, accepted, None, AcceptanceStats(rate=0.0))
    assert sum(pp.calls for pp in unbounded) > 3
    (pp,) = top_up(sp, plan, accepted, None, AcceptanceStats(rate=0.0), ceiling=3)
    assert 0 < pp.calls <= 3
    assert not any(p.calls for p in top_up(sp, plan, accepted, None, AcceptanceStats(rate=0.0), ceiling=0))


def test_plan_states_its_ceiling():
    assert _PLAN_200.max_calls == call_ceiling(_PLAN_200.calls) == 3 * _PLAN_200.calls + 10
    assert _PLAN_200.to_json_dict()["max_calls"] == _PLAN_200.max_calls


# ---- later prompts and chunks -----------------------------------------------------------------------

TWO_STAGES = """dataset support {{
  rows = {rows}
  seed = 1
  model = "gpt-4o-mini"
}}
field tone: category ~ {{"polite": 50%, "annoyed": 50%}}
field question: text from ask {{ words = 50..50 }}
field answer: text from reply {{ words = 50..50 }}
prompt ask {{ user = "Write a {{tone}} question a customer asks the support desk." }}
prompt reply {{ user = "Answer this question: {{question}}" }}
"""


def _checked(tmp_path, text: str):
    from synthc.check import check_file

    path = tmp_path / "s.sds"
    path.write_text(text)
    result = check_file(path)
    assert result.ok, result.diagnostics
    return result.spec


@pytest.mark.parametrize("rows", [200, 1000])
def test_a_writer_after_the_first_prompt_asks_at_most_half_a_chunk_per_call(tmp_path, rows):
    from synthc.plan.batch import chunk_calls, pool_k, shared_k

    sp = _checked(tmp_path, TWO_STAGES.format(rows=rows))
    plan = build_plan(sp)
    ask, reply = plan.prompts
    profile = profile_for("gpt-4o-mini")
    floor = shared_k(token_model(sp, sp.prompts[1]))
    k_pool = pool_k(rows_per_call(sp.prompts[1], profile, token_model(sp, sp.prompts[1]))[0], rows,
                    profile.concurrency, floor=floor)
    assert reply.rows_per_call == min(k_pool, max(floor, math.ceil(ask.rows_per_call / 2)))
    if rows == 1000:  # the pool alone would put a whole chunk in one call: the cut is what sizes it
        assert ask.rows_per_call > 2 * floor and k_pool >= ask.rows_per_call > reply.rows_per_call
    assert chunk_calls(sp, plan.prompts) == 1
    # each call of the first prompt (a chunk) is asked by ceil(its rows / k) calls of the second
    chunks = [len(c.rows) for c in iter_calls(ask, plan.strata)]
    assert reply.calls == sum(math.ceil(n / reply.rows_per_call) for n in chunks)
    assert all(len(c.rows) <= reply.rows_per_call for c in iter_calls(reply, plan.strata))


def test_a_chunk_spans_enough_first_prompt_calls_for_a_later_prompts_k():
    """judged.sds on the embedded model: one-row reviews, a 3-row judge on another model. A chunk is 3 review
    calls, so the judge makes its lower bound of calls, not one call per review."""
    from synthc.check import check_file
    from synthc.plan.batch import chunk_calls

    result = check_file(Path(__file__).parents[2] / "specs" / "plan" / "judged.sds")
    plan = build_plan(result.spec)
    by = {pp.prompt: pp for pp in plan.prompts}
    assert by["review"].rows_per_call == 1 and by["realism"].rows_per_call == 3
    assert chunk_calls(engine_spec(result.spec), plan.prompts) == 3
    assert by["realism"].calls == by["realism"].lower_bound_calls == math.ceil(by["realism"].rows / 3)
    assert sum(len(c.rows) for c in iter_calls(by["realism"], plan.strata)) == by["realism"].rows
