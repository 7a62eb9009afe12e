"""`unique(...)` and `near_unique(...)` over generated text, repaired by the build: among the rows the dataset
would keep, visited in `_id` order, a row repeating an earlier row's tuple (or, for near_unique, whose text is
more similar than the threshold to an earlier kept row's: quality.neardup) is rejected, counted under the
constraint, and its stratum tops up in the next round, so the first copy stays and the repeat is written again.
`max_similarity_to_real(t) <= x` is repaired the same way against the reference's real rows (evaluation.private):
a kept row whose text is above x to any real text is rejected and written again."""

from __future__ import annotations

import hashlib
import json
from typing import Iterator, Mapping, Sequence

import numpy as np

from .. import ir
from ..evaluate import NO_VALUE, value_of
from ..plan import Plan, RowSource
from ..plan.dims import generation_fields, read_layout
from .select import by_stratum, full_row
from .spool import Spool

RUN = 4096  # planned rows drawn at once


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


def near_copies(spec: ir.Spec, plan: Plan, accepted: Spool, repairs: list[ir.Constraint]
                ) -> list[tuple[int, int, ir.Constraint, dict]]:
    """The accepted rows to reject as near-copies: (stratum number, index, constraint, generated values). Rows
    are visited as `repeats` visits them (strata by key, rows by index); a stratum stops once it keeps its quota.
    The texts are read from the spool as a stream (quality.neardup reads them twice above its exact size)."""
    if not repairs:
        return []
    from ..quality.neardup import near_duplicate_rejects

    order = accepted.order()
    out, dropped = [], np.zeros(len(order[0]), dtype=bool)
    for c in repairs:
        name, threshold = c.expr.args[0].field, float(c.expr.args[1].value)
        live = np.flatnonzero(~dropped)
        flagged = {int(live[n]) for n, _, _ in near_duplicate_rejects(_Texts(accepted, name, dropped), threshold,
                                                                       spec.dataset.seed)}
        out += [(p, c) for p in _kept_walk(plan, order, live, flagged)]
        for p, _ in out:
            dropped[p] = True
    return _with_values(accepted, order, out)


def _kept_walk(plan: Plan, order, live: np.ndarray, flagged: set[int]) -> list[int]:
    """Positions (in `order`) of the flagged rows a stratum still visits: each stratum stops once it keeps its
    quota of unflagged rows."""
    kept: dict[int, int] = {}
    out = []
    for p in live.tolist():
        si = int(order[0][p])
        if kept.get(si, 0) == plan.strata[si].rows:
            continue
        if p in flagged:
            out.append(p)
        else:
            kept[si] = kept.get(si, 0) + 1
    return out


def _with_values(accepted: Spool, order, found: list[tuple[int, ir.Constraint]]
                 ) -> list[tuple[int, int, ir.Constraint, dict]]:
    """(stratum number, index, constraint, values) of the rows found, in the order found."""
    rows = [(int(order[0][p]), int(order[1][p]), c) for p, c in found]
    values = accepted.values([(si, i) for si, i, _ in rows])
    return [(si, i, c, values[(si, i)]) for si, i, c in rows]


class _Texts:
    """One field's text of the accepted rows not `dropped`, in visiting order: len() and re-iterable."""

    def __init__(self, accepted: Spool, name: str, dropped: np.ndarray):
        self.accepted, self.name, self.dropped = accepted, name, dropped
        self.n = int((~dropped).sum())

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        for p, (_, _, v) in enumerate(self.accepted.scan(fields=self.name)):
            if not self.dropped[p]:
                yield v.get(self.name)


def repeats(spec: ir.Spec, plan: Plan, source: RowSource, accepted: Spool,
            repairs: list[ir.Constraint], prior: Sequence[Mapping] = ()
            ) -> list[tuple[int, int, dict, list[ir.Constraint]]]:
    """The accepted rows to reject as repeats: (stratum number, index, full row, constraints it repeats), in
    the order they are found (strata by key, rows by index, up to each stratum's quota of kept rows).
    prior: rows the dataset holds before any generated one (complete mode's real rows): a generated row that
    repeats one of them is a repeat too. The rows are read from the spool a stratum at a time; each
    constraint's seen tuples are kept as 64-bit digests (`_Seen`), not as text."""
    if not repairs:
        return []
    seen = [_Seen() for _ in repairs]
    for n, c in enumerate(repairs):
        for r in prior:
            k = _unique_key(c.expr, r)
            if k is not None:
                seen[n].add(k)
    out = []
    for si, rows in by_stratum(plan, accepted):
        quota, kept = plan.strata[si].rows, 0
        for i, planned, values in _planned(source, si, rows):
            if kept == quota:
                break
            full = full_row(spec, planned, values)
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


def _planned(source: RowSource, si: int, rows: list[tuple[int, dict]]) -> Iterator[tuple[int, dict, dict]]:
    """(index, planned row, values) for rows sorted by index, the planned rows drawn per run of indices."""
    at = 0
    while at < len(rows):
        end = at + 1
        while end < len(rows) and rows[end][0] == rows[end - 1][0] + 1 and end - at < RUN:
            end += 1
        planned = source.rows(si, rows[at][0], end - at)
        for (i, values), p in zip(rows[at:end], planned):
            yield i, p, values
        at = end


class _Seen:
    """A set of unique(...) tuples as 64-bit digests: recent ones in a Python set, merged every MERGE into one
    sorted numpy array (8 bytes a tuple)."""

    MERGE = 1 << 16

    def __init__(self):
        self.recent: set[int] = set()
        self.old = np.zeros(0, dtype=np.uint64)

    @staticmethod
    def _digest(key: str) -> int:
        return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "little")

    def add(self, key: str) -> None:
        self.recent.add(self._digest(key))
        if len(self.recent) >= self.MERGE:
            self.old = np.union1d(self.old, np.fromiter(self.recent, dtype=np.uint64, count=len(self.recent)))
            self.recent = set()

    def __contains__(self, key: str) -> bool:
        d = self._digest(key)
        if d in self.recent:
            return True
        at = int(np.searchsorted(self.old, np.uint64(d)))
        return at < len(self.old) and int(self.old[at]) == d


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


def real_copies(plan: Plan, accepted: Spool, repairs: list, real,
                skip: frozenset = frozenset()) -> list[tuple[int, int, ir.Constraint, dict]]:
    """The accepted rows (not in `skip`) to reject as copies of real rows, visited as `near_copies` visits them:
    (stratum number, index, constraint, values)."""
    if not repairs:
        return []
    from ..evaluation.private import too_similar

    rows = [(si, i, v) for si, i, v in accepted.scan() if (si, i) not in skip]
    out, dropped = [], set()
    for c, name, threshold, strict in repairs:
        live = [r for r in rows if (r[0], r[1]) not in dropped]
        sims, _ = real.texts(name).nearest([v.get(name) for _, _, v in live])
        kept: dict[int, int] = {}
        for (si, i, v), bad in zip(live, too_similar(sims, threshold, strict)):
            if kept.get(si, 0) == plan.strata[si].rows:
                continue
            if bad:
                out.append((si, i, c, v))
                dropped.add((si, i))
            else:
                kept[si] = kept.get(si, 0) + 1
    return out
