"""The planner's view of a spec: the dimensions strata are made of, the targets to rake, the rules that forbid
cells, and how those split the dimensions into independent components.

A dimension is a sampled categorical field, or a sampled numeric field cut into bins because a row constraint
relates it to a categorical one (`sentiment == "negative" => score <= 2.5`): the cuts come from the constraint's
literals, so the constraint's truth is constant on each bin and the planner can forbid whole cells.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

from .. import ir
from ..ir import Value
from .numeric import NumericDist, is_numeric_sampled, numeric_dist

_COMPARE = {"<", "<=", ">", ">=", "==", "!="}
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


@dataclass(frozen=True)
class Bin:
    """The numbers in (low, high] (for ints and dates: the integers low+1 .. high)."""

    low: float
    high: float
    label: str
    points: tuple[Value, ...]  # where rules are evaluated: the constraint's truth is the same at all of them


@dataclass
class Dim:
    field: str
    values: tuple[Value, ...]  # category values, or bin labels
    bins: tuple[Bin, ...] = ()

    def points(self, i: int) -> tuple[Value, ...]:
        return self.bins[i].points if self.bins else (self.values[i],)


@dataclass(frozen=True)
class Derived:
    name: str
    expr: ir.Expr
    deps: tuple[str, ...]


@dataclass(frozen=True)
class ShareTarget:
    """The share of each combination of `fields` (a marginal when one field). Unlisted combinations: 0."""

    subject: str
    fields: tuple[str, ...]
    shares: dict[tuple[Value, ...], float]


@dataclass(frozen=True)
class ConditionalTarget:
    """P(field | on) for the listed values of `on`; other values of `on` are left free."""

    subject: str
    on: str
    field: str
    probs: dict[Value, dict[Value, float]]


@dataclass(frozen=True)
class Rule:
    name: str
    expr: ir.Expr
    fields: tuple[str, ...]


@dataclass
class Layout:
    dims: list[Dim]
    derived: list[Derived]  # categorical derived fields, dependencies first
    targets: list[ShareTarget | ConditionalTarget]
    rules: list[Rule]
    components: list[list[int]]  # dim indices; no target or rule spans two components
    warnings: list[str] = field(default_factory=list)
    # shares of fields with no declared distribution (ir.Dist.declared false): where raking starts, not targets
    starts: dict[str, dict[Value, float]] = field(default_factory=dict)

    def dim_index(self) -> dict[str, int]:
        return {d.field: i for i, d in enumerate(self.dims)}

    def target_fields(self, t) -> tuple[str, ...]:
        return t.fields if isinstance(t, ShareTarget) else (t.on, t.field)

    def base_dims(self, name: str) -> set[int]:
        """The dimensions a field's value is a function of."""
        index = self.dim_index()
        if name in index:
            return {index[name]}
        for d in self.derived:
            if d.name == name:
                out: set[int] = set()
                for dep in d.deps:
                    out |= self.base_dims(dep)
                return out
        return set()


def ordered(values, declared: tuple | None) -> tuple:
    """Distinct values in the type's declared order; numbers (without one) ascending; else first seen."""
    seen = tuple(dict.fromkeys(values))
    if declared:
        return tuple(v for v in declared if v in seen) + tuple(v for v in seen if v not in declared)
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in seen):
        return tuple(sorted(seen))
    return seen


def _derived_order(spec: ir.Spec) -> list[Derived]:
    return [Derived(f.name, f.expr, tuple(f.depends_on)) for f in spec.derived_order() if f.categorical]


def read_layout(spec: ir.Spec) -> Layout:
    fields = {f.name: f for f in spec.fields}
    joint_values: dict[str, list] = {}
    for j in spec.joints:
        for cell in j.cells:
            for name, v in zip(j.fields, cell.values):
                joint_values.setdefault(name, []).append(v)

    dims: list[Dim] = []
    targets: list[ShareTarget | ConditionalTarget] = []
    starts: dict[str, dict[Value, float]] = {}
    for f in spec.fields:
        if f.role != "sampled" or not f.categorical:
            continue
        seen: list = []
        if f.dist is not None and f.dist.kind == "shares":
            seen += [s.value for s in f.dist.shares]
            if f.dist.declared:
                targets.append(ShareTarget(f"field:{f.name}", (f.name,), {(s.value,): s.share for s in f.dist.shares}))
            else:
                starts[f.name] = {s.value: s.share for s in f.dist.shares}
        if f.given is not None:
            probs = {c.when: {s.value: s.share for s in c.dist.shares} for c in f.given.cases if c.dist.kind == "shares"}
            seen += [v for p in probs.values() for v in p]
            targets.append(ConditionalTarget(f"field:{f.name}", f.given.on, f.name, probs))
        seen += joint_values.get(f.name, [])
        dims.append(Dim(f.name, ordered(seen, f.type.values)))
    for j in spec.joints:
        targets.append(ShareTarget(f"joint:{','.join(j.fields)}", tuple(j.fields),
                                   {tuple(c.values): c.share for c in j.cells}))

    layout = Layout(dims, _derived_order(spec), targets, [], [], starts=starts)
    categorical = {d.field for d in dims} | {d.name for d in layout.derived}
    cuts: dict[str, set[float]] = {}
    for c in spec.constraints:
        if c.kind != "row":
            continue
        names = tuple(sorted(set(c.fields) | c.expr.refs()))
        numeric = [n for n in names if n not in categorical]
        if any(n not in fields or not is_numeric_sampled(fields[n]) for n in numeric):
            continue  # reads generated text or a derived number: only the validator can judge it
        if numeric and not set(names) & categorical:
            continue  # a rule on numbers alone does not tie them to any stratum
        for n in numeric:
            cuts.setdefault(n, set()).update(_cuts(c.expr, n, fields[n].type.kind != "float"))
        layout.rules.append(Rule(c.name, c.expr, names))
    for name in sorted(cuts, key=lambda n: [f.name for f in spec.fields].index(n)):
        _add_bins(layout, fields[name], sorted(cuts[name]))
    layout.components = _components(layout)
    return layout


def generation_fields(spec: ir.Spec, layout: Layout) -> frozenset[str]:
    """The sampled and derived fields that a prompt reads or a judged row constraint needs, closed over what
    they are computed from (see plan.identity). Every field when there is no prompt. A judge counts as a
    prompt (plan.judges), so the checked spec and its engine spec name rows alike."""
    from .judges import engine_spec

    spec = engine_spec(spec)
    if not spec.prompts:
        return frozenset(f.name for f in spec.fields if f.role != "generated")
    names: set[str] = set()
    for p in spec.prompts:
        names |= set(p.inputs)
        if p.system is not None:
            names |= set(p.system.fields)
    settled = {r.name for r in layout.rules}
    for c in spec.constraints:
        if c.kind == "row" and c.name not in settled:
            names |= set(c.fields) | c.expr.refs()
    fields = {f.name: f for f in spec.fields}
    stack = list(names)
    while stack:
        f = fields.get(stack.pop())
        if f is None:
            continue
        deps = list(f.depends_on) + ([f.given.on] if f.given is not None else [])
        for d in deps:
            if d not in names:
                names.add(d)
                stack.append(d)
    return frozenset(n for n in names if n in fields and fields[n].role != "generated")


# ---- numeric bins -----------------------------------------------------------------------------------


def _number(e: ir.Expr) -> float | None:
    if e.kind == "lit" and isinstance(e.value, (int, float)) and not isinstance(e.value, bool):
        return float(e.value)
    if e.kind == "lit" and isinstance(e.value, str):
        try:
            return float(dt.date.fromisoformat(e.value).toordinal())
        except ValueError:
            return None
    if e.kind == "op" and e.op == "neg" and e.args:
        v = _number(e.args[0])
        return -v if v is not None else None
    return None


def _cuts(expr: ir.Expr, name: str, discrete: bool) -> set[float]:
    """Bin edges that make every comparison of `name` with a literal constant on each bin (bins are (a, b])."""
    out: set[float] = set()

    def is_ref(e):
        return e.kind == "ref" and e.field == name

    def add(c: float, op: str) -> None:
        if not discrete:
            out.add(c)
        elif op in ("<", ">="):
            out.add(c - 1)
        elif op in ("<=", ">"):
            out.add(c)
        else:
            out.update((c - 1, c))

    def walk(e: ir.Expr) -> None:
        if e.kind == "op" and e.op in _COMPARE and len(e.args) == 2:
            a, b = e.args
            if is_ref(a) and _number(b) is not None:
                add(_number(b), e.op)
            elif is_ref(b) and _number(a) is not None:
                add(_number(a), _FLIP[e.op])
        elif e.kind == "range" and is_ref(e.args[0]):
            lo, hi = _number(e.args[1]), _number(e.args[2])
            if lo is not None:
                add(lo, ">=")
            if hi is not None:
                add(hi, "<=")
        elif e.kind == "in" and is_ref(e.args[0]):
            for a in e.args[1:]:
                if _number(a) is not None:
                    add(_number(a), "==")
        for a in e.args:
            walk(a)

    walk(expr)
    return out


def _fmt(x: float, kind: str) -> str:
    if kind == "date":
        return dt.date.fromordinal(int(x)).isoformat()
    return str(int(x)) if kind == "int" else f"{x:g}"


def _bin(lo: float, hi: float, kind: str) -> Bin:
    """The bin (lo, hi] with a label and the points rules are evaluated at."""
    discrete = kind != "float"
    if discrete:
        first, last = lo + 1, hi
        if math.isfinite(first) and math.isfinite(last) and last - first <= 12:
            pts = [first + i for i in range(int(last - first) + 1)]
        else:
            a = first if math.isfinite(first) else last - 1000
            b = last if math.isfinite(last) else first + 1000
            pts = sorted({a, a + 1, math.floor((a + b) / 2), b - 1, b} & set(range(int(a), int(b) + 1)))
        label = (_fmt(first, kind) if first == last else
                 f"{_fmt(first, kind) if math.isfinite(first) else ''}..{_fmt(last, kind) if math.isfinite(last) else ''}")
        values = tuple(dt.date.fromordinal(int(p)).isoformat() if kind == "date" else int(p) for p in pts)
        return Bin(lo, hi, label, values)
    a = lo if math.isfinite(lo) else (hi - 1000 if math.isfinite(hi) else -1000)
    b = hi if math.isfinite(hi) else a + 2000
    pts = tuple(a + (b - a) * t for t in (0.001, 0.5, 0.999))
    label = f"{_fmt(lo, kind) if math.isfinite(lo) else ''}..{_fmt(hi, kind) if math.isfinite(hi) else ''}"
    return Bin(lo, hi, label, pts)


def _add_bins(layout: Layout, f: ir.Field, cuts: list[float]) -> None:
    kind = f.type.kind
    cases: list[tuple[Value | None, NumericDist]] = []
    try:
        if f.dist is not None:
            cases = [(None, numeric_dist(f))]
        elif f.given is not None:
            cases = [(c.when, numeric_dist(f, c.when)) for c in f.given.cases]
    except ValueError as e:
        layout.warnings.append(f"field {f.name}: {e}; its constraints are left to the validator")
        layout.rules = [r for r in layout.rules if f.name not in r.fields]
        return
    low = min(d.low for _, d in cases) - (1 if kind != "float" else 0)
    high = max(d.high for _, d in cases)
    edges = [low] + [c for c in cuts if low < c < high] + [high]
    bins = [_bin(a, b, kind) for a, b in zip(edges, edges[1:])]
    masses = [[d.mass(b.low, b.high) for b in bins] for _, d in cases]
    keep = [i for i in range(len(bins)) if any(m[i] > 0 for m in masses)]
    bins = [bins[i] for i in keep]
    masses = [[m[i] for i in keep] for m in masses]
    layout.dims.append(Dim(f.name, tuple(b.label for b in bins), tuple(bins)))
    if f.dist is not None and not f.dist.declared:
        layout.starts[f.name] = {b.label: m for b, m in zip(bins, masses[0])}
    elif f.dist is not None:
        layout.targets.append(ShareTarget(f"field:{f.name}", (f.name,),
                                          {(b.label,): m for b, m in zip(bins, masses[0])}))
    else:
        layout.targets.append(ConditionalTarget(
            f"field:{f.name}", f.given.on, f.name,
            {when: {b.label: m for b, m in zip(bins, ms)} for (when, _), ms in zip(cases, masses)}))


# ---- components -------------------------------------------------------------------------------------


def _components(layout: Layout) -> list[list[int]]:
    parent = list(range(len(layout.dims)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def link(names) -> None:
        group: set[int] = set()
        for n in names:
            group |= layout.base_dims(n)
        group_list = sorted(group)
        for a in group_list[1:]:
            parent[find(a)] = find(group_list[0])

    for t in layout.targets:
        link(layout.target_fields(t))
    for r in layout.rules:
        link(r.fields)
    # A derived category over several fields is rounded best on their joint table (each cell within a row).
    for d in layout.derived:
        link(d.deps)
    out: dict[int, list[int]] = {}
    for i in range(len(layout.dims)):
        out.setdefault(find(i), []).append(i)
    return sorted(out.values())
