"""The dataset's rows: per stratum, the first `quota` accepted rows by row index, each with its planned values
(sampled, derived; values of fields no prompt reads dealt by RowSource.deal/finish), its generated fields and
`_id`. A pure function of the accepted rows: no clock, no order of arrival."""

from __future__ import annotations

from typing import Mapping

from .. import ir
from ..evaluate import EVAL_ERRORS, Unknown, evaluate
from ..plan import Plan, RowSource

ID = "_id"


def fill_derived(spec: ir.Spec, row: dict) -> dict:
    """Computes the derived fields the row lacks and can now compute (those reading generated fields)."""
    for f in spec.derived_order():  # dependency order: a field's inputs are computed before it
        if f.name in row:
            continue
        try:
            row[f.name] = evaluate(f.expr, row)
        except Unknown:
            pass  # reads a field the row does not have (yet)
        except EVAL_ERRORS:
            row[f.name] = None  # the value exists but cannot be computed: a NULL the checks will see
    return row


def full_row(spec: ir.Spec, planned: Mapping, generated: Mapping) -> dict:
    """A planned row (with `id`) plus generated values, derived fields filled, as a dataset row with `_id`."""
    row = {k: v for k, v in planned.items() if k != "id"}
    row.update(generated)
    fill_derived(spec, row)
    names = {f.name for f in spec.fields}
    out = {k: v for k, v in row.items() if k in names}
    out[ID] = planned["id"]
    return out


def select_rows(spec: ir.Spec, plan: Plan, accepted: Mapping[int, Mapping[int, Mapping]],
                source: RowSource | None = None) -> list[dict]:
    """accepted: stratum number -> row index -> generated values. Rows in `_id` order (stratum key, index)."""
    source = source or RowSource(spec, plan)
    kept: list[tuple[int, int, dict]] = []
    for si in sorted(range(len(plan.strata)), key=lambda i: plan.strata[i].key):
        chosen = sorted(accepted.get(si, {}))[: plan.strata[si].rows]
        if not chosen:
            continue
        planned = source.rows(si, 0, chosen[-1] + 1)
        picked = [planned[i] for i in chosen]
        if plan.strata[si].cells:
            source.deal(si, picked)
        kept += [(si, i, row) for i, row in zip(chosen, picked)]
    if plan.split:
        source.finish([row for _, _, row in kept])
    return [full_row(spec, row, accepted[si][i]) for si, i, row in kept]
