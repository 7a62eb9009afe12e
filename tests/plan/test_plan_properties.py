"""Properties of plans over random targets and constraints (hypothesis)."""

from __future__ import annotations

import hashlib
import itertools
import math
import os
import subprocess
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from plan_specs import cat, constraint, eq, given as given_field, num, prompt, spec, text

from synthc import ir
from synthc.evaluate import holds
from synthc.plan import RowSource, build_plan
from synthc.plan.dims import read_layout
from synthc.plan.rounding import round_table

SETTINGS = settings(max_examples=int(os.environ.get("PLAN_EXAMPLES", 150)), deadline=None, suppress_health_check=[HealthCheck.too_slow])
WHOLE = 1e-9


def _shares(draw, n: int, sums: list[int]) -> list[float]:
    weights = draw(st.lists(st.integers(0, 10), min_size=n, max_size=n).filter(lambda w: sum(w) > 0))
    sums.append(sum(weights))
    return [w / sum(weights) for w in weights]


@st.composite
def random_specs(draw):
    """1-3 categorical fields (maybe one conditional on the first), rules forbidding value pairs, a numeric
    field and a prompt; N from 1 to 400, or a multiple of every share's denominator (all targets whole)."""
    sums: list[int] = []
    n_fields = draw(st.integers(1, 3))
    sizes = [draw(st.integers(2, 4)) for _ in range(n_fields)]
    values = [[f"f{j}v{i}" for i in range(k)] for j, k in enumerate(sizes)]
    fields = []
    for j, vals in enumerate(values):
        if j == 1 and draw(st.booleans()):
            cases = {w: dict(zip(vals, _shares(draw, len(vals), sums))) for w in values[0]}
            fields.append(given_field("f1", "f0", cases))
        else:
            fields.append(cat(f"f{j}", dict(zip(vals, _shares(draw, len(vals), sums)))))
    rules = []
    if n_fields > 1:
        pairs = draw(st.sets(st.tuples(st.sampled_from(values[0]), st.sampled_from(values[-1])), max_size=3))
        for a, b in sorted(pairs):
            both = ir.Expr(kind="op", type="bool", op="and", args=(eq("f0", a), eq(f"f{n_fields - 1}", b)))
            rules.append(constraint(f"not_{a}_{b}", ir.Expr(kind="op", type="bool", op="not", args=(both,))))
    fields.append(num("x", "float", 0.0, 1.0))
    names = [f.name for f in fields]
    fields.append(text("out", "p", (5, 30), deps=tuple(names)))
    template = " ".join("{" + n + "}" for n in names)
    k = draw(st.sampled_from([None, 1, 3, 7]))
    rows = draw(st.integers(1, 400))
    whole = math.prod(sums) if fields[1:2] and fields[1].given is not None else math.lcm(*sums)
    if whole <= 3000 and draw(st.booleans()):
        rows = whole * draw(st.integers(1, max(1, 3000 // whole)))
    seed = draw(st.integers(0, 2**31 - 1))
    return spec(fields, rows, seed=seed, constraints=rules,
                prompts=[prompt("p", template, tuple(names), ("out",), rows_per_call=k)])


def component_dims(sp: ir.Spec) -> int:
    return max((len(c) for c in read_layout(sp).components), default=0)


@SETTINGS
@given(random_specs())
def test_plans_meet_targets_or_say_why(sp):
    plan = build_plan(sp)
    if not plan.ok:
        assert [p.code for p in plan.problems] == ["SDS029"] * len(plan.problems)
        assert all(p.subjects for p in plan.problems)
        return
    n = sp.dataset.rows
    assert sum(s.rows for s in plan.strata) == n
    # Forbidden strata get no rows.
    for s in plan.strata:
        for c in sp.constraints:
            assert holds(c.expr, s.values) is not False
    rounding_warned = any("within one row" in w for w in plan.warnings)
    if component_dims(sp) <= 2:
        assert not rounding_warned
    if not rounding_warned:
        for m in plan.marginals:
            for v in m.values:
                target = n * v.target_share
                assert abs(v.planned_rows - target) < 1, (m.field, v)
                if abs(target - round(target)) < WHOLE:
                    assert v.planned_rows == round(target), (m.field, v)
    for pp in plan.prompts:
        assert pp.calls == pp.lower_bound_calls
        assert pp.rows == n + plan.spare_rows


@SETTINGS
@given(random_specs())
def test_same_inputs_same_bytes(sp):
    assert build_plan(sp).canonical_json() == build_plan(sp).canonical_json()


@SETTINGS
@given(random_specs(), st.integers(-399, 400))
def test_ids_and_values_survive_a_change_of_n(sp, delta):
    other_n = max(1, sp.dataset.rows + delta)
    other = sp.model_copy(update={"dataset": sp.dataset.model_copy(update={"rows": other_n})})
    a, b = build_plan(sp), build_plan(other)
    if not (a.ok and b.ok):
        return
    rows_a = {r["id"]: r for i, s in enumerate(a.strata) for r in RowSource(sp, a).rows(i, 0, s.rows)}
    rows_b = {r["id"]: r for i, s in enumerate(b.strata) for r in RowSource(other, b).rows(i, 0, s.rows)}
    common = set(rows_a) & set(rows_b)
    assert all(rows_a[i] == rows_b[i] for i in common)
    by_key_b = {s.key: s.rows for s in b.strata}
    survivors = sum(min(s.rows, by_key_b.get(s.key, 0)) for s in a.strata)
    assert len(common) == survivors  # every row a stratum keeps keeps its id
    if component_dims(sp) <= 1:
        # Each stratum moves by at most its share of the change plus rounding.
        assert survivors >= min(sp.dataset.rows, other_n) - 2 * len(a.strata)


@SETTINGS
@given(random_specs(), st.integers(0, 9))
def test_changing_one_share_keeps_ids_of_surviving_rows(sp, bump):
    f0 = sp.fields[0]
    if f0.dist is None:
        return
    shares = [s.share for s in f0.dist.shares]
    shares[0] += bump / 10
    total = sum(shares)
    dist = ir.Dist(kind="shares", shares=tuple(ir.Share(value=s.value, share=x / total)
                                                for s, x in zip(f0.dist.shares, shares)))
    other = sp.model_copy(update={"fields": (f0.model_copy(update={"dist": dist}),) + sp.fields[1:]})
    a, b = build_plan(sp), build_plan(other)
    if not (a.ok and b.ok):
        return
    keys_b = {s.key: s.values for s in b.strata}
    for s in a.strata:
        if s.key in keys_b:
            assert keys_b[s.key] == s.values


def test_plan_bytes_are_the_same_in_another_process():
    """No dependence on hash randomisation, dict order of the run or anything else process-local."""
    script = ("import hashlib, sys; sys.path.insert(0, {tests!r}); from plan_specs import reviews; "
              "from synthc.plan import build_plan; "
              "print(hashlib.sha256(build_plan(reviews(321)).canonical_json().encode()).hexdigest())")
    tests = str(Path(__file__).resolve().parents[1])
    from plan_specs import reviews

    here = hashlib.sha256(build_plan(reviews(321)).canonical_json().encode()).hexdigest()
    for hash_seed in ("1", "12345"):
        out = subprocess.run([sys.executable, "-c", script.format(tests=tests)], capture_output=True, text=True,
                             check=True, env={**os.environ, "PYTHONHASHSEED": hash_seed})
        assert out.stdout.strip() == here


@st.composite
def random_tables(draw, dims: int):
    """A fitted table over random allowed cells of a `dims`-dimensional grid, times a random N."""
    sizes = [draw(st.integers(1, 4)) for _ in range(dims)]
    grid = list(itertools.product(*map(range, sizes)))
    cells = sorted(draw(st.sets(st.sampled_from(grid), min_size=1)))
    weights = draw(st.lists(st.floats(0.01, 1.0), min_size=len(cells), max_size=len(cells)))
    total = draw(st.integers(0, 40))
    reals = [w * total / sum(weights) for w in weights]
    margins = [[0.0] * k for k in sizes]
    for c, x in zip(cells, reals):
        for j, v in enumerate(c):
            margins[j][v] += x
    return cells, reals, total, margins


@SETTINGS
@given(random_tables(2))
def test_two_dim_rounding_is_controlled(table):
    cells, reals, total, margins = table
    counts, misses = round_table(cells, reals, total, margins)
    assert sum(counts) == total and not misses
    got = [[0] * len(m) for m in margins]
    for c, n, x in zip(cells, counts, reals):
        assert math.floor(x + 1e-6) <= n <= math.ceil(x - 1e-6)
        for j, v in enumerate(c):
            got[j][v] += n
    for gj, mj in zip(got, margins):
        for g, m in zip(gj, mj):
            assert abs(g - m) < 1


@SETTINGS
@given(random_tables(3))
def test_three_dim_rounding_reports_every_miss(table):
    cells, reals, total, margins = table
    counts, misses = round_table(cells, reals, total, margins)
    assert sum(counts) == total and min(counts) >= 0
    got = [[0] * len(m) for m in margins]
    for c, n in zip(cells, counts):
        for j, v in enumerate(c):
            got[j][v] += n
    off = {f"{j}:{v}" for j, (gj, mj) in enumerate(zip(got, margins)) for v, (g, m) in enumerate(zip(gj, mj))
           if not abs(g - m) < 1 and not (abs(m - round(m)) < 1e-6 and g == round(m))}
    assert off == set(misses)
