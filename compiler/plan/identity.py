"""Which fields make a row what it is to the model: the *generation fields*, and strata grouped by them.

A row's id, its requests and so its cached answers may depend only on what the model is asked and what its
answer is judged against. Those are the generation fields: every field a prompt reads (its user or system
message), every field of a row constraint the planner cannot settle by itself (one that reads generated text,
a derived number, or numbers alone), closed over what they are computed from (a derived field's inputs, the
field a conditional numeric field is drawn `given`).

The allocation's strata cross every sampled categorical field. Strata that agree on the generation fields form
one *group*: the planner's Stratum, whose key hashes the generation values alone and whose rows are asked as
one run of indices. Its cells are the allocation's strata inside it, each with the values of the other fields
and its quota; after generation the group's kept rows are dealt to its cells (rows.RowSource.deal, in the
order of a hash of seed and row id). Components that hold no generation field at all are not in the strata:
allocate pairs them on their own into `Plan.dealt`, dealt over all rows the same way (RowSource.finish).
So a field no prompt or judged constraint reads (a `split`, a `source` tag) changes no id and no request:
adding it, or moving its shares, makes no call. When every field is a generation field (the usual spec),
groups are the strata themselves and have no cells.
"""

from __future__ import annotations

from .. import ir
from .allocate import StratumAlloc, short_keys, stratum_key
from .dims import Layout, generation_fields
from .model import Cell


def group_strata(spec: ir.Spec, layout: Layout, strata: list[StratumAlloc]
                 ) -> list[tuple[str, dict, int, float, tuple[Cell, ...]]]:
    """(key, values, rows, expected, cells) per group, in the order of their first stratum. Without cells when
    every stratum value is a generation value (always so without a prompt: no request to keep)."""
    gen = generation_fields(spec, layout)
    dims = {d.field for d in layout.dims}

    def is_gen(name: str) -> bool:
        return all(layout.dims[i].field in gen for i in layout.base_dims(name))

    keep = {n for s in strata for n in s.values if is_gen(n)}
    if all(set(s.values) <= keep for s in strata):
        return [(s.key, s.values, s.rows, s.expected, ()) for s in strata]
    groups: dict[tuple, list[StratumAlloc]] = {}
    for s in strata:
        groups.setdefault(tuple((n, v) for n, v in s.values.items() if n in keep), []).append(s)
    out = []
    for ident, members in groups.items():
        values = dict(ident)
        key = stratum_key({n: v for n, v in values.items() if n in dims})
        cells = tuple(Cell(key=s.key, values={n: v for n, v in s.values.items() if n not in keep}, rows=s.rows)
                      for s in members)
        out.append((key, values, sum(s.rows for s in members), float(f"{sum(s.expected for s in members):.12g}"),
                    cells))
    return [(k, *rest) for k, (_, *rest) in zip(short_keys([o[0] for o in out]), out)]
