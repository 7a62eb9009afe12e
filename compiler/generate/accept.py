"""Per-row acceptance: the row-level constraints a batch of rows can be judged on, in ONE DuckDB query per batch,
and the tally of rejections per constraint with a few examples."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import duckdb

from .. import ir
from ..plan import Plan
from ..plan.dims import read_layout
from ..validate.checks import jsonable
from ..validate.load import DataError, load_rows
from ..validate.sql import ident, row_predicate

EXAMPLES = 3
SCHEMA = "schema"  # rows an answer held that did not fit the row model (or were not there at all)
ID = "_id"


def row_constraints(spec: ir.Spec, plan: Plan | None = None) -> list[ir.Constraint]:
    """The row constraints a build judges row by row. When the plan deals some values after generation
    (`Plan.split`: stratum cells or `Plan.dealt`), the rules the planner settles by itself (forbidden cells) are
    left out: they may read fields a row only gets once it is dealt, and the quotas already keep them (the
    final checks still run them)."""
    out = [c for c in spec.constraints if c.kind == "row"]
    if plan is not None and plan.split:
        settled = {r.name for r in read_layout(spec).rules}
        out = [c for c in out if c.name not in settled]
    return out


def broken(spec: ir.Spec, rows: Sequence[Mapping], constraints: Sequence[ir.Constraint],
           con: duckdb.DuckDBPyConnection | None = None) -> dict[str, list[str]]:
    """For each row (by its `_id`), the names of the constraints it breaks (NULL counts as broken, as in
    `synthc validate`). The rows are typed exactly as validate types a data file. `con`: a DuckDB connection to
    reuse (its table `data` is replaced; the caller closes it): a new connection costs about 20 ms, which per
    batch of verdicts was most of the engine's CPU per row."""
    if not rows or not constraints:
        return {r[ID]: [] for r in rows}
    try:
        loaded = load_rows(spec, rows, con)
    except DataError as e:  # pragma: no cover - rows built by synthc always load
        raise RuntimeError(f"cannot load rows into DuckDB: {e}") from None
    try:
        preds, params = [], []
        for c in constraints:
            sql, p = row_predicate(c.expr)
            preds.append(f"({sql}) IS NOT TRUE")
            params += p
        try:
            found = loaded.con.execute(f"SELECT {ident(ID)}, {', '.join(preds)} FROM data", params).fetchall()
        except duckdb.Error:
            found = _one_by_one(loaded.con, constraints, len(rows))
    finally:
        if con is None:
            loaded.con.close()
    return {r[0]: [c.name for c, bad in zip(constraints, r[1:]) if bad] for r in found}


def _one_by_one(con, constraints: Sequence[ir.Constraint], n: int) -> list[tuple]:
    """One query per constraint after the combined one failed: a constraint DuckDB cannot run on these rows
    rejects nothing here (the final checks report it as a check that could not run)."""
    ids = [r[0] for r in con.execute(f"SELECT {ident(ID)} FROM data").fetchall()]
    cols = []
    for c in constraints:
        sql, p = row_predicate(c.expr)
        try:
            cols.append([bool(x) for (x,) in con.execute(f"SELECT ({sql}) IS NOT TRUE FROM data", p).fetchall()])
        except duckdb.Error:
            cols.append([False] * len(ids))
    return [(i, *flags) for i, *flags in zip(ids, *cols)] if cols else [(i,) for i in ids]


@dataclass
class Rejections:
    """Rejected rows per constraint (and under `schema`: rows an answer lacked or got wrong), with the
    EXAMPLES smallest by sort key so the report is the same whatever order calls finished in."""

    counts: dict[str, int] = field(default_factory=dict)
    _examples: dict[str, list[tuple[Any, dict]]] = field(default_factory=dict)
    kinds: dict[str, int] = field(default_factory=dict)  # `schema` rows by kind (run.salvage: empty, truncated, ...)
    _kind_examples: dict[str, list[tuple[Any, dict]]] = field(default_factory=dict)

    def add(self, name: str, sort_key: Any, example: dict) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1
        _keep(self._examples.setdefault(name, []), sort_key, example)

    def answer(self, kind: str, sort_key: Any, example: dict) -> None:
        """A row its answer did not give (counted under `schema`), by kind."""
        self.add(SCHEMA, sort_key, example)
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        _keep(self._kind_examples.setdefault(kind, []), sort_key, example)

    def by_reason(self) -> dict[str, dict]:
        """{reason: {"count", "examples"}}: each constraint, and each kind of answer problem instead of
        `schema` (the stop diagnosis), most rows first."""
        out = {n: (c, self._examples.get(n, [])) for n, c in self.counts.items() if n != SCHEMA}
        out |= {k: (c, self._kind_examples.get(k, [])) for k, c in self.kinds.items()}
        if self.counts.get(SCHEMA, 0) > sum(self.kinds.values()):  # rows recorded without a kind
            out[SCHEMA] = (self.counts[SCHEMA] - sum(self.kinds.values()), self._examples.get(SCHEMA, []))
        return {n: {"count": c, "examples": [e for _, e in ex]}
                for n, (c, ex) in sorted(out.items(), key=lambda kv: (-kv[1][0], kv[0]))}

    def constraint(self, c: ir.Constraint, row: Mapping, sort_key: Any) -> None:
        values = {f: jsonable(row.get(f)) for f in c.fields}
        self.add(c.name, sort_key, {ID: row[ID], "values": values})

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def to_json(self, order: Iterable[str] = ()) -> dict:
        """{name: {"count", "examples"}}: `order` first (constraint declaration order), then the rest by name."""
        order = [n for n in order if n in self.counts]
        names = order + sorted(n for n in self.counts if n not in order)
        out = {n: {"count": self.counts[n], "examples": [e for _, e in self._examples.get(n, [])]} for n in names}
        if SCHEMA in out and self.kinds:
            out[SCHEMA]["kinds"] = dict(sorted(self.kinds.items()))
        return out


def _keep(shown: list[tuple[Any, dict]], sort_key: Any, example: dict) -> None:
    """Keep the EXAMPLES smallest examples by sort key."""
    keys = [k for k, _ in shown]
    if len(shown) < EXAMPLES or sort_key < keys[-1]:
        shown.insert(bisect.bisect(keys, sort_key), (sort_key, example))
        del shown[EXAMPLES:]
