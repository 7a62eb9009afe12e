"""The target marginal shares of a categorical field, as the spec declares them.

The planner derives the same numbers for its own use; both follow the rules in ir.Field / ir.Joint. A default
share (no distribution declared: `category ["a", "b"]`, a bare `bool`) is only where the planner starts: the
constraints may reshape it, and the target is then the planner's (plan.allocate.planned_targets).
"""

from __future__ import annotations

from ..ir import Spec, Value
from ..plan.allocate import planned_targets


def target_shares(spec: Spec, name: str) -> dict[Value, float] | None:
    """{value: share} of `name`, or None when the spec sets no finite target for it.

    `~ {..}` gives it directly; `given on {..}` sums P(on = w) * P(value | w) over w; a joint sums its cells.
    Declared values without a share get 0, in declared order.
    """
    return _shares(spec, name, ())


def _shares(spec: Spec, name: str, seen: tuple[str, ...]) -> dict[Value, float] | None:
    if name in seen:  # the checker rejects cycles; stay finite anyway
        return None
    try:
        f = spec.field(name)
    except KeyError:
        return None
    out: dict[Value, float] | None = None
    if f.dist is not None:
        if f.dist.kind != "shares":
            return None
        out = {}
        for s in f.dist.shares:
            out[s.value] = out.get(s.value, 0.0) + s.share
        if not f.dist.declared:  # a default share is where planning starts: the plan's target is the target
            planned = planned_targets(spec).get(name, out)
            if any(abs(planned.get(v, 0.0) - out.get(v, 0.0)) > 1e-6 for v in {*planned, *out}):
                out = dict(planned)  # reshaped; unreshaped keeps its exact shares (1/3, not the plan's 0.333333)
    elif f.given is not None:
        on = _shares(spec, f.given.on, seen + (name,))
        if on is None:
            return None
        cases = {c.when: c.dist for c in f.given.cases}
        out = {}
        for w, p in on.items():
            if p == 0:
                continue
            d = cases.get(w)
            if d is None or d.kind != "shares":
                return None
            for s in d.shares:
                out[s.value] = out.get(s.value, 0.0) + p * s.share
    else:
        for j in spec.joints:
            if name in j.fields:
                i = j.fields.index(name)
                out = {}
                for cell in j.cells:
                    out[cell.values[i]] = out.get(cell.values[i], 0.0) + cell.share
                break
    if out is None:
        return None
    return _ordered(out, f.type.values)


def _ordered(shares: dict[Value, float], declared) -> dict[Value, float]:
    """Declared values first in their order (0 when absent), then the rest, numbers sorted."""
    out = {v: shares.get(v, 0.0) for v in declared or ()}
    rest = [v for v in shares if v not in out]
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in rest):
        rest.sort()
    for v in rest:
        out[v] = shares[v]
    return out
