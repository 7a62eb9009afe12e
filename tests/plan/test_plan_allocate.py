"""Allocation: which rows exist (raking, controlled rounding, forbidden cells, infeasibility, numeric values)."""

from __future__ import annotations

import math
from pathlib import Path
import statistics
from collections import Counter

import pytest
from plan_specs import (cat, constraint, derived, eq, given, implies, joint, joint_only, lit, num, num_given, op,
                        ref, reviews, spec)

from synthc import ir
from synthc.evaluate import holds
from synthc.plan import RowSource, build_plan
from synthc.plan import allocate as allocate_mod
from synthc.plan.numeric import NumericDist, vdc
from synthc.plan.rounding import largest_remainder, round_table

REVIEW_SHARES = {"positive": 0.5, "neutral": 0.2, "negative": 0.3}
RATING_GIVEN = {"positive": {4: 0.4, 5: 0.6}, "neutral": {3: 1.0}, "negative": {1: 0.5, 2: 0.5}}


def planned(plan, name: str) -> dict:
    return {v.value: v.planned_rows for m in plan.marginals if m.field == name for v in m.values}


def cells(plan, *names) -> Counter:
    out = Counter()
    for s in plan.strata:
        out[tuple(s.values[n] for n in names)] += s.rows
    return out


def neg_low(limit=2):
    return constraint("neg_low", implies(eq("sentiment", "negative"), op("<=", ref("rating", "number"), lit(limit))))


def test_reviews_example_has_exact_marginals_and_conditionals():
    plan = build_plan(reviews(200))
    assert plan.ok
    assert sum(s.rows for s in plan.strata) == 200
    assert planned(plan, "sentiment") == {v: round(200 * s) for v, s in REVIEW_SHARES.items()}
    want_rating = Counter()
    for sentiment, cases in RATING_GIVEN.items():
        for rating, p in cases.items():
            want_rating[rating] += 200 * REVIEW_SHARES[sentiment] * p
    assert planned(plan, "rating") == {r: round(x) for r, x in want_rating.items()}
    got = cells(plan, "sentiment", "rating")
    for sentiment, cases in RATING_GIVEN.items():
        for rating, p in cases.items():
            assert got[(sentiment, rating)] == round(200 * REVIEW_SHARES[sentiment] * p)
    assert set(got) == {(s, r) for s, cases in RATING_GIVEN.items() for r in cases}


@pytest.mark.parametrize("n", [1, 7, 199, 201, 1001])
def test_reviews_any_n_within_one_row(n):
    plan = build_plan(reviews(n))
    assert sum(s.rows for s in plan.strata) == n
    for v, share in REVIEW_SHARES.items():
        assert abs(planned(plan, "sentiment").get(v, 0) - n * share) < 1
    got = cells(plan, "sentiment", "rating")
    for sentiment, cases in RATING_GIVEN.items():
        for rating, p in cases.items():
            assert abs(got[(sentiment, rating)] - n * REVIEW_SHARES[sentiment] * p) < 1


def two_fields(neg: float, low: float, n: int = 200):
    ratings = {1: low / 2, 2: low / 2, 3: 0.2, 4: (0.8 - low) / 2, 5: (0.8 - low) / 2}
    return spec([cat("sentiment", {"positive": 0.7 - neg, "neutral": 0.3, "negative": neg}),
                 cat("rating", ratings, kind="int")], n, constraints=[neg_low()])


def test_infeasible_targets_are_sds029_with_nearest_shares():
    # The issue's example: 30% negative reviews, negatives must rate <= 2, ratings 1-2 only get 20%.
    plan = build_plan(two_fields(neg=0.3, low=0.2))
    assert not plan.ok and not plan.strata and plan.calls == 0
    (p,) = plan.problems
    assert p.code == "SDS029"
    assert {"field:sentiment", "field:rating", "constraint:neg_low"} <= set(p.subjects)
    assert "nearest achievable shares" in p.hint
    assert "negative 30.0% ->" in p.hint
    # The suggested shares must really be achievable: negatives at most the mass of ratings 1-2.
    neg_after = float(p.hint.split("negative 30.0% -> ")[1].split("%")[0]) / 100
    low_after = sum(float(p.hint.split(f"{r} 10.0% -> ")[1].split("%")[0]) / 100 for r in (1, 2))
    assert neg_after <= low_after + 1e-3


def test_targets_on_the_edge_of_feasibility_are_accepted():
    # 20% negatives and 20% ratings 1-2: feasible only with every low rating negative.
    plan = build_plan(two_fields(neg=0.2, low=0.2))
    assert plan.ok, plan.problems
    got = cells(plan, "sentiment", "rating")
    assert sum(n for (s, r), n in got.items() if s == "negative") == 40
    assert all(r <= 2 for (s, r), n in got.items() if s == "negative" and n)
    assert all(s == "negative" for (s, r), n in got.items() if r <= 2 and n)


def test_forbidden_cells_get_no_rows_and_margins_stay_exact():
    rule = constraint("no_mix", ir.Expr(kind="op", type="bool", op="not", args=(
        op("and", eq("color", "red"), eq("size", "small")),)))
    sp = spec([cat("color", {"red": 0.4, "blue": 0.6}), cat("size", {"small": 0.5, "large": 0.5})], 100,
              constraints=[rule])
    plan = build_plan(sp)
    assert plan.ok
    assert not [s for s in plan.strata if holds(rule.expr, s.values) is False]
    assert planned(plan, "color") == {"red": 40, "blue": 60}
    assert planned(plan, "size") == {"small": 50, "large": 50}
    assert cells(plan, "color", "size")[("red", "large")] == 40


def test_joint_table_unlisted_cells_are_empty():
    sp = spec([joint_only("a", ("x", "y")), joint_only("b", ("u", "v"))], 50,
              joints=[joint(("a", "b"), {("x", "u"): 0.3, ("y", "v"): 0.7})])
    plan = build_plan(sp)
    assert plan.ok
    assert dict(cells(plan, "a", "b")) == {("x", "u"): 15, ("y", "v"): 35}
    assert planned(plan, "a") == {"x": 15, "y": 35}


def test_conflicting_joint_and_marginal_is_infeasible():
    sp = spec([cat("a", {"x": 0.5, "y": 0.5}), joint_only("b", ("u", "v"))], 50,
              joints=[joint(("a", "b"), {("x", "u"): 0.3, ("y", "v"): 0.7})])
    plan = build_plan(sp)
    assert [p.code for p in plan.problems] == ["SDS029"]
    assert "joint:a,b" in plan.problems[0].subjects


def test_derived_categorical_fields_get_marginals_and_values():
    is_neg = derived("is_negative", eq("sentiment", "negative"))
    sp = reviews(200)
    sp = sp.model_copy(update={"fields": sp.fields + (is_neg,)})
    plan = build_plan(sp)
    assert planned(plan, "is_negative") == {True: 60, False: 140}
    target = {v.value: v.target_share for m in plan.marginals if m.field == "is_negative" for v in m.values}
    assert target[True] == pytest.approx(0.3)
    assert all(s.values["is_negative"] == (s.values["sentiment"] == "negative") for s in plan.strata)


def test_independent_fields_pair_close_to_the_product():
    sp = spec([cat("a", {"x": 0.3, "y": 0.7}), cat("b", {"u": 0.25, "v": 0.75}),
               cat("c", {"p": 0.5, "q": 0.5})], 400)
    plan = build_plan(sp)
    got = cells(plan, "a", "b", "c")
    shares = {"x": 0.3, "y": 0.7, "u": 0.25, "v": 0.75, "p": 0.5, "q": 0.5}
    for (a, b, c), n in got.items():
        assert abs(n - 400 * shares[a] * shares[b] * shares[c]) < 1
    assert planned(plan, "a") == {"x": 120, "y": 280}


def test_three_linked_fields_keep_margins_within_one():
    sp = spec([cat("lang", {"en": 0.6, "de": 0.25, "fr": 0.15}),
               given("sentiment", "lang", {"en": {"pos": 0.6, "neg": 0.4}, "de": {"pos": 0.5, "neg": 0.5},
                                           "fr": {"pos": 0.7, "neg": 0.3}}),
               given("rating", "sentiment", {"pos": {4: 0.5, 5: 0.5}, "neg": {1: 0.3, 2: 0.7}}, kind="int")], 333)
    plan = build_plan(sp)
    assert plan.ok and not [w for w in plan.warnings if "within one row" in w]
    for m in plan.marginals:
        for v in m.values:
            assert abs(v.planned_rows - 333 * v.target_share) < 1


def test_three_dims_without_a_rounding_say_so():
    # Three fair coins, only even-parity combinations allowed, N = 2: no table has every margin exactly 1.
    odd = ir.Expr(kind="op", type="bool", op="==", args=(
        op("+", op("+", ref("a", "number"), ref("b", "number")), ref("c", "number")), lit(1)))
    odd3 = ir.Expr(kind="op", type="bool", op="==", args=(odd.args[0], lit(3)))
    rule = constraint("even", ir.Expr(kind="op", type="bool", op="not", args=(op("or", odd, odd3),)))
    sp = spec([cat(n, {0: 0.5, 1: 0.5}, kind="int") for n in "abc"], 2, constraints=[rule])
    plan = build_plan(sp)
    assert plan.ok
    assert sum(s.rows for s in plan.strata) == 2
    assert all(sum(s.values[n] for n in "abc") % 2 == 0 for s in plan.strata if s.rows)
    assert any("within one row" in w for w in plan.warnings)


def test_too_many_combinations_is_a_problem(monkeypatch):
    monkeypatch.setattr(allocate_mod, "MAX_COMPONENT_CELLS", 10)
    sp = spec([cat("a", {i: 1 / 4 for i in range(4)}, kind="int"), cat("b", {i: 1 / 4 for i in range(4)}, kind="int")],
              10, constraints=[constraint("lt", op("<=", ref("a", "number"), ref("b", "number")))])
    plan = build_plan(sp)
    assert not plan.ok and "too many" in plan.problems[0].message


def test_largest_remainder_is_exact_for_whole_targets_and_within_one_otherwise():
    assert largest_remainder([60.0, 40.0, 100.0], 200) == [60, 40, 100]
    out = largest_remainder([1 / 3 * 10] * 3, 10)
    assert sum(out) == 10 and sorted(out) == [3, 3, 4] and out[0] == 4  # tie goes to the first value


def test_round_table_two_dims_respects_margins_and_cells():
    # A 3x3 table with one forbidden cell, whole margins: rows 4, 3, 3 and columns 5, 3, 2.
    cells_ = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (2, 0), (2, 1), (2, 2)]
    reals = [2.1, 1.2, 0.7, 1.6, 1.4, 1.3, 0.4, 1.3]
    counts, misses = round_table(cells_, reals, 10, [[4.0, 3.0, 3.0], [5.0, 3.0, 2.0]])
    assert not misses and sum(counts) == 10
    rows, cols = [0] * 3, [0] * 3
    for (a, b), n, x in zip(cells_, counts, reals):
        rows[a] += n
        cols[b] += n
        assert math.floor(x) <= n <= math.ceil(x)
    assert rows == [4, 3, 3] and cols == [5, 3, 2]


# ---- numeric fields ---------------------------------------------------------------------------------


def test_vdc_is_the_radical_inverse():
    assert [vdc(i) for i in range(8)] == [0, 0.5, 0.25, 0.75, 0.125, 0.625, 0.375, 0.875]


def rows_of(sp, plan):
    src = RowSource(sp, plan)
    return [r for i, s in enumerate(plan.strata) for r in src.rows(i, 0, s.rows)]


def test_uniform_int_values_are_stratified_not_iid():
    sp = spec([num("k", "int", 1, 10)], 1000)
    plan = build_plan(sp)
    counts = Counter(r["k"] for r in rows_of(sp, plan))
    assert set(counts) == set(range(1, 11))
    assert max(abs(c - 100) for c in counts.values()) <= 3  # i.i.d. draws miss by ~10


def test_normal_values_track_the_truncated_target():
    sp = spec([num("score", "float", 0.0, 10.0, "normal", mean=6.0, sd=2.0)], 2000)
    plan = build_plan(sp)
    xs = sorted(r["score"] for r in rows_of(sp, plan))
    dist = NumericDist(sp.fields[0].type, sp.fields[0].dist)
    ks = max(max(abs(dist.cdf(x) - i / len(xs)), abs(dist.cdf(x) - (i + 1) / len(xs))) for i, x in enumerate(xs))
    assert ks < 0.005  # i.i.d. draws: about 0.02
    assert 0.0 <= xs[0] and xs[-1] <= 10.0


def test_poisson_and_dates_stay_in_range():
    sp = spec([num("n", "int", 0, 6, "poisson", **{"lambda": 2.0}), num("d", "date", "2024-01-01", "2024-01-31")], 500)
    rows = rows_of(sp, build_plan(sp))
    assert {r["n"] for r in rows} <= set(range(7)) and len({r["n"] for r in rows}) == 7
    assert statistics.mean(r["n"] for r in rows) == pytest.approx(2.0, abs=0.15)
    days = Counter(r["d"] for r in rows)
    assert len(days) == 31 and min(days) == "2024-01-01" and max(days) == "2024-01-31"


def test_conditional_numeric_uses_the_case_distribution():
    sp = spec([cat("tier", {"free": 0.5, "paid": 0.5}),
               num_given("spend", "float", 0.0, 1000.0, "tier",
                         {"free": ("normal", {"mean": 10.0, "sd": 2.0}), "paid": ("normal", {"mean": 100.0, "sd": 10.0})})],
              400)
    rows = rows_of(sp, build_plan(sp))
    free = [r["spend"] for r in rows if r["tier"] == "free"]
    paid = [r["spend"] for r in rows if r["tier"] == "paid"]
    assert statistics.mean(free) == pytest.approx(10.0, abs=0.5)
    assert statistics.mean(paid) == pytest.approx(100.0, abs=2.0)


def test_numeric_bins_carry_a_constraint_with_a_category():
    rule = constraint("neg_low", implies(eq("sentiment", "negative"), op("<=", ref("score", "number"), lit(4.0))))
    sp = spec([cat("sentiment", {"positive": 0.7, "negative": 0.3}),
               num("score", "float", 0.0, 10.0, "normal", mean=4.0, sd=2.0)], 1000, constraints=[rule])
    plan = build_plan(sp)
    assert plan.ok, plan.problems
    rows = rows_of(sp, plan)
    assert all(holds(rule.expr, r) for r in rows)
    dist = NumericDist(sp.fields[1].type, sp.fields[1].dist)
    low = sum(r["score"] <= 4.0 for r in rows)
    assert abs(low - 1000 * dist.cdf(4.0)) < 1  # the bin is a stratified marginal like any other


def test_numeric_bins_detect_infeasible_targets():
    rule = constraint("neg_low", implies(eq("sentiment", "negative"), op("<=", ref("score", "number"), lit(4.0))))
    sp = spec([cat("sentiment", {"positive": 0.5, "negative": 0.5}),
               num("score", "float", 0.0, 10.0, "normal", mean=7.0, sd=1.0)], 100, constraints=[rule])
    plan = build_plan(sp)
    assert [p.code for p in plan.problems] == ["SDS029"]
    assert "field:score" in plan.problems[0].subjects


def test_row_values_do_not_depend_on_n():
    small, big = reviews(50), reviews(500)
    sp_small = small.model_copy(update={"fields": small.fields + (num("age", "int", 18, 90),)})
    sp_big = big.model_copy(update={"fields": big.fields + (num("age", "int", 18, 90),)})
    a = {r["id"]: r for r in rows_of(sp_small, build_plan(sp_small))}
    b = {r["id"]: r for r in rows_of(sp_big, build_plan(sp_big))}
    assert len(a) == 50 and set(a) <= set(b)
    assert all(a[i] == b[i] for i in a)


def test_seed_changes_values_but_not_ids():
    sp1 = spec([cat("c", {"x": 0.5, "y": 0.5}), num("k", "float", 0.0, 1.0)], 20, seed=1)
    sp2 = spec([cat("c", {"x": 0.5, "y": 0.5}), num("k", "float", 0.0, 1.0)], 20, seed=2)
    r1, r2 = rows_of(sp1, build_plan(sp1)), rows_of(sp2, build_plan(sp2))
    assert [r["id"] for r in r1] == [r["id"] for r in r2]
    assert [r["k"] for r in r1] != [r["k"] for r in r2]


def test_only_the_conflicting_rule_is_blamed():
    harmless = constraint("neutral_not_5", implies(eq("sentiment", "neutral"),
                                                   op("!=", ref("rating", "number"), lit(5))))
    sp = two_fields(neg=0.3, low=0.2)
    plan = build_plan(sp.model_copy(update={"constraints": sp.constraints + (harmless,)}))
    (p,) = plan.problems
    assert "constraint:neg_low" in p.subjects and "constraint:neutral_not_5" not in p.subjects


def test_derived_target_share_spanning_independent_fields_is_exact():
    either = derived("either", op("or", eq("a", "x"), eq("b", "u")))
    sp = spec([cat("a", {"x": 0.3, "y": 0.7}), cat("b", {"u": 0.25, "v": 0.75}), either], 3)
    plan = build_plan(sp)
    target = {v.value: v.target_share for m in plan.marginals if m.field == "either" for v in m.values}
    assert target[True] == pytest.approx(1 - 0.7 * 0.75)


def test_default_shares_yield_to_constraints_but_declared_ones_conflict(tmp_path):
    """A category listed without shares starts uniform but is no target: a rule may reshape it. The same
    shares declared explicitly are a target, and the rule makes them infeasible (SDS029)."""
    from synthc.check import check_file

    rule = 'constraint no_c: mood != "c"\n'
    soft = tmp_path / "soft.sds"
    soft.write_text('dataset d { rows = 90 }\nfield mood: category ["a", "b", "c"]\n' + rule, encoding="utf-8")
    hard = tmp_path / "hard.sds"
    hard.write_text('dataset d { rows = 90 }\nfield mood: category ~ {"a": 1/3, "b": 1/3, "c": 1/3}\n' + rule,
                    encoding="utf-8")
    soft_plan = build_plan(check_file(soft).spec)
    assert soft_plan.ok
    assert {s.values["mood"]: s.rows for s in soft_plan.strata} == {"a": 45, "b": 45}
    hard_plan = build_plan(check_file(hard).spec)
    assert not hard_plan.ok and hard_plan.problems[0].code == "SDS029"


def test_a_few_more_rows_keep_almost_every_stratum_of_a_sparse_table(tmp_path):
    """The reviews example crosses ~7,000 combinations for 200 rows, so nearly every stratum holds one row.
    Pairing the components in order-sampling order (rounding.combine) keeps most of them when N grows: rows
    whose stratum keeps its quota keep their ids and their text in a rebuild. (Largest remainders with random
    ties kept 158 of 200 for one row more.)"""
    from synthc.check import check_file

    text = (Path(__file__).resolve().parents[2] / "examples/product_reviews/reviews.sds").read_text(encoding="utf-8")
    (tmp_path / "synthc.toml").touch()

    def quotas(n: int) -> dict[str, int]:
        p = tmp_path / f"r{n}.sds"
        p.write_text(text.replace("rows = 200", f"rows = {n}"), encoding="utf-8")
        return {s.key: s.rows for s in build_plan(check_file(p).spec).strata}

    base = quotas(200)
    for n in (201, 210, 250):
        kept = sum(min(base.get(k, 0), v) for k, v in quotas(n).items())
        assert kept >= 0.9 * 200, (n, kept)
