"""The dataset's rows: per stratum, the first `quota` accepted rows by row index, each with its planned values
(sampled, derived; values of fields no prompt reads dealt by RowSource.deal/finish), its generated fields and
`_id`. A pure function of the accepted rows: no clock, no order of arrival."""

from __future__ import annotations

from itertools import groupby
from typing import Iterator, Mapping

from .. import ir
from ..evaluate import EVAL_ERRORS, Unknown, evaluate
from ..plan import Plan, RowSource, row_id

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


def select_rows(spec: ir.Spec, plan: Plan, accepted, source: RowSource | None = None) -> list[dict]:
    """accepted: a Spool (spool.py) or a mapping stratum number -> row index -> generated values. Rows in `_id`
    order (stratum key, index)."""
    return list(iter_rows(spec, plan, accepted, source))


def iter_rows(spec: ir.Spec, plan: Plan, accepted, source: RowSource | None = None) -> Iterator[dict]:
    """select_rows as a stream, a stratum at a time. A split plan (`Plan.split`) deals values over every kept row:
    the deal is made from the rows' ids first (RowSource.dealt_cells), then each row is finished as it streams."""
    source = source or RowSource(spec, plan)
    if not plan.split:
        for row, values in _kept(plan, source, accepted):
            yield full_row(spec, row, values)
        return
    cells = source.dealt_cells(list(_kept_ids(plan, accepted)))  # the deal needs every id first, not every row
    for n, (row, values) in enumerate(_kept(plan, source, accepted)):
        source.finish_row(row, int(cells[n]))
        yield full_row(spec, row, values)


def _kept_ids(plan: Plan, accepted) -> Iterator[str]:
    """The ids of the rows `_kept` gives, in its order, without reading any row's values."""
    if isinstance(accepted, Mapping):
        for si in sorted(range(len(plan.strata)), key=lambda i: plan.strata[i].key):
            for i in sorted(accepted.get(si, {}))[: plan.strata[si].rows]:
                yield row_id(plan.strata[si].key, i)
        return
    strata, indices = accepted.order()
    taken: dict[int, int] = {}
    for si, i in zip(strata.tolist(), indices.tolist()):
        if taken.get(si, 0) < plan.strata[si].rows:
            taken[si] = taken.get(si, 0) + 1
            yield row_id(plan.strata[si].key, i)


def _kept(plan: Plan, source: RowSource, accepted) -> Iterator[tuple[dict, Mapping]]:
    """(planned row, generated values) of each stratum's first `quota` accepted rows, strata by key."""
    for si, rows in by_stratum(plan, accepted):
        chosen = rows[: plan.strata[si].rows]
        if not chosen:
            continue
        planned = source.rows(si, 0, chosen[-1][0] + 1)
        picked = [planned[i] for i, _ in chosen]
        if plan.strata[si].cells:
            source.deal(si, picked)
        yield from zip(picked, (v for _, v in chosen))


def by_stratum(plan: Plan, accepted) -> Iterator[tuple[int, list[tuple[int, Mapping]]]]:
    """(stratum number, [(index, values)] by index), strata by key: from a mapping, or from one ordered scan of a
    spool (spool.py)."""
    if isinstance(accepted, Mapping):
        for si in sorted(range(len(plan.strata)), key=lambda i: plan.strata[i].key):
            got = accepted.get(si, {})
            yield si, [(i, got[i]) for i in sorted(got)]
        return
    for si, group in groupby(accepted.scan(), key=lambda r: r[0]):
        yield si, [(i, v) for _, i, v in group]
