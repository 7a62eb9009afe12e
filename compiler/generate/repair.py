"""`unique(...)` and `near_unique(...)` over generated text, repaired by the build: among the rows the dataset
would keep, visited in `_id` order, a row repeating an earlier row's tuple (or, for near_unique, whose text is
more similar than the threshold to an earlier kept row's: quality.neardup) is rejected, counted under the
constraint, and its stratum tops up in the next round, so the first copy stays and the repeat is written again.
`max_similarity_to_real(t) <= x` is repaired the same way against the reference's real rows (evaluation.private):
a kept row whose text is above x to any real text is rejected and written again."""

from __future__ import annotations

import json
from typing import Mapping, Sequence

from .. import ir
from ..evaluate import NO_VALUE, value_of
from ..plan import Plan, RowSource
from ..plan.dims import generation_fields, read_layout
from .select import full_row


def unique_repairs(spec: ir.Spec) -> list[ir.Constraint]:
    """The dataset constraints that are one `unique(...)` call the build repairs: its arguments read generated
    text (a repeated category is a target problem, not a bad answer) and no field dealt after generation
    (plan.identity)."""
    fields = {f.name: f for f in spec.fields}
    gen = generation_fields(spec, read_layout(spec))
    out = []
    for c in spec.constraints:
        e = c.expr
        if c.kind != "dataset" or e.kind != "call" or e.fn != "unique":
            continue
        refs = set().union(*(a.refs() for a in e.args))
        texts = [n for n in refs if n in fields and fields[n].role == "generated" and fields[n].type.kind == "text"]
        dealt = [n for n in refs if n in fields and fields[n].role == "sampled" and n not in gen]
        if texts and not dealt:
            out.append(c)
    return out


def near_unique_repairs(spec: ir.Spec) -> list[ir.Constraint]:
    """The dataset constraints that are one `near_unique(text, threshold)` call (its text is always generated)."""
    return [c for c in spec.constraints
            if c.kind == "dataset" and c.expr.kind == "call" and c.expr.fn == "near_unique"]


def near_copies(spec: ir.Spec, plan: Plan, accepted: Mapping[int, Mapping[int, dict]],
                repairs: list[ir.Constraint]) -> list[tuple[int, int, ir.Constraint]]:
    """The accepted rows to reject as near-copies: (stratum number, index, constraint). Rows are visited as
    `repeats` visits them (strata by key, rows by index); a stratum stops once it keeps its quota."""
    if not repairs:
        return []
    from ..quality.neardup import near_duplicate_rejects

    order = [(si, i) for si in sorted(accepted, key=lambda k: plan.strata[k].key) for i in sorted(accepted[si])]
    out, dropped = [], set()
    for c in repairs:
        name, threshold = c.expr.args[0].field, float(c.expr.args[1].value)
        live = [r for r in order if r not in dropped]
        texts = [accepted[si][i].get(name) for si, i in live]
        flagged = {live[n] for n, _, _ in near_duplicate_rejects(texts, threshold, spec.dataset.seed)}
        kept: dict[int, int] = {}
        for si, i in live:
            if kept.get(si, 0) == plan.strata[si].rows:
                continue
            if (si, i) in flagged:
                out.append((si, i, c))
                dropped.add((si, i))
            else:
                kept[si] = kept.get(si, 0) + 1
    return out


def repeats(spec: ir.Spec, plan: Plan, source: RowSource, accepted: Mapping[int, Mapping[int, dict]],
            repairs: list[ir.Constraint], prior: Sequence[Mapping] = ()
            ) -> list[tuple[int, int, dict, list[ir.Constraint]]]:
    """The accepted rows to reject as repeats: (stratum number, index, full row, constraints it repeats), in
    the order they are found (strata by key, rows by index, up to each stratum's quota of kept rows).
    prior: rows the dataset holds before any generated one (complete mode's real rows): a generated row that
    repeats one of them is a repeat too."""
    if not repairs:
        return []
    seen: list[set] = [{k for r in prior for k in [_unique_key(c.expr, r)] if k is not None} for c in repairs]
    out = []
    for si in sorted(accepted, key=lambda i: plan.strata[i].key):
        rows, quota = accepted[si], plan.strata[si].rows
        kept = 0
        for i in sorted(rows):
            if kept == quota:
                break
            full = full_row(spec, source.row(si, i), rows[i])
            keys = [_unique_key(c.expr, full) for c in repairs]
            bad = [n for n, k in enumerate(keys) if k is not None and k in seen[n]]
            if bad:
                out.append((si, i, full, [repairs[n] for n in bad]))
                continue
            for n, k in enumerate(keys):
                if k is not None:
                    seen[n].add(k)
            kept += 1
    return out


def _unique_key(call: ir.Expr, row: dict):
    """The tuple unique(...) compares, as hashable JSON; None when it cannot be computed (NULL or error)."""
    values = [value_of(a, row, NO_VALUE) for a in call.args]
    if any(v is NO_VALUE for v in values):
        return None
    return json.dumps(values, sort_keys=True, ensure_ascii=False, default=str)


def real_copy_repairs(spec: ir.Spec, real) -> list[tuple[ir.Constraint, str, float, bool]]:
    """The constraints `max_similarity_to_real(t) <= x` (or `< x`) as (constraint, t, x, strict); none without the
    real rows (evaluation.checks.RealData)."""
    if real is None:
        return []
    from ..evaluation.checks import similarity_bound

    return [(c, *b) for c in spec.constraints for b in [similarity_bound(c)] if b is not None]


def real_copies(plan: Plan, accepted: Mapping[int, Mapping[int, dict]], repairs: list, real,
                skip: frozenset = frozenset()) -> list[tuple[int, int, ir.Constraint]]:
    """The accepted rows (not in `skip`) to reject as copies of real rows, visited as `near_copies` visits them."""
    if not repairs:
        return []
    from ..evaluation.private import too_similar

    order = [(si, i) for si in sorted(accepted, key=lambda k: plan.strata[k].key) for i in sorted(accepted[si])
             if (si, i) not in skip]
    out, dropped = [], set()
    for c, name, threshold, strict in repairs:
        live = [r for r in order if r not in dropped]
        sims, _ = real.texts(name).nearest([accepted[si][i].get(name) for si, i in live])
        kept: dict[int, int] = {}
        for (si, i), bad in zip(live, too_similar(sims, threshold, strict)):
            if kept.get(si, 0) == plan.strata[si].rows:
                continue
            if bad:
                out.append((si, i, c))
                dropped.add((si, i))
            else:
                kept[si] = kept.get(si, 0) + 1
    return out
