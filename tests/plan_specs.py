"""Builders for IR specs used by the planner tests (the front end is not needed to make one)."""

from __future__ import annotations

from synthc import ir


def _type_of(v) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    return "string"


def lit(v) -> ir.Expr:
    return ir.Expr(kind="lit", type=_type_of(v), value=v)


def ref(name: str, type: str = "string") -> ir.Expr:
    return ir.Expr(kind="ref", type=type, field=name)


def op(o: str, a: ir.Expr, b: ir.Expr) -> ir.Expr:
    t = "number" if o in "+-*/" else "bool"
    return ir.Expr(kind="op", type=t, op=o, args=(a, b))


def eq(name: str, value) -> ir.Expr:
    return op("==", ref(name, _type_of(value)), lit(value))


def implies(a: ir.Expr, b: ir.Expr) -> ir.Expr:
    return op("=>", a, b)


def shares(d: dict) -> ir.Dist:
    return ir.Dist(kind="shares", shares=tuple(ir.Share(value=v, share=s) for v, s in d.items()))


def cat(name: str, table: dict, kind: str = "category") -> ir.Field:
    values = tuple(table) if kind == "category" else None
    t = ir.Type(kind=kind, values=values) if kind != "int" else ir.Type(kind="int", low=min(table), high=max(table))
    return ir.Field(name=name, role="sampled", type=t, categorical=True, dist=shares(table))


def given(name: str, on: str, cases: dict, kind: str = "category") -> ir.Field:
    values = tuple(dict.fromkeys(v for c in cases.values() for v in c))
    t = ir.Type(kind="category", values=values) if kind == "category" else \
        ir.Type(kind="int", low=min(values), high=max(values))
    cond = ir.Conditional(on=on, cases=tuple(ir.Case(when=w, dist=shares(c)) for w, c in cases.items()))
    return ir.Field(name=name, role="sampled", type=t, categorical=True, given=cond, depends_on=(on,))


def joint_only(name: str, values: tuple) -> ir.Field:
    return ir.Field(name=name, role="sampled", type=ir.Type(kind="category", values=values), categorical=True)


def joint(fields: tuple[str, ...], cells: dict[tuple, float]) -> ir.Joint:
    return ir.Joint(fields=fields, cells=tuple(ir.JointCell(values=k, share=s) for k, s in cells.items()))


def num(name: str, kind: str, low, high, dist: str = "uniform", **params) -> ir.Field:
    return ir.Field(name=name, role="sampled", type=ir.Type(kind=kind, low=low, high=high),
                    dist=ir.Dist(kind=dist, params=params))


def num_given(name: str, kind: str, low, high, on: str, cases: dict[object, tuple[str, dict]]) -> ir.Field:
    cond = ir.Conditional(on=on, cases=tuple(ir.Case(when=w, dist=ir.Dist(kind=k, params=p))
                                             for w, (k, p) in cases.items()))
    return ir.Field(name=name, role="sampled", type=ir.Type(kind=kind, low=low, high=high), given=cond,
                    depends_on=(on,))


def derived(name: str, expr: ir.Expr, values: tuple | None = None, categorical: bool = True) -> ir.Field:
    t = ir.Type(kind="category", values=values) if values else ir.Type(kind="bool")
    return ir.Field(name=name, role="derived", type=t, categorical=categorical, expr=expr,
                    depends_on=tuple(sorted(expr.refs())))


def text(name: str, prompt: str, words: tuple[int, int] | None = None, deps: tuple[str, ...] = ()) -> ir.Field:
    return ir.Field(name=name, role="generated", type=ir.Type(kind="text"), prompt=prompt,
                    hints=ir.LengthHints(words=words), depends_on=deps)


def constraint(name: str, expr: ir.Expr, kind: str = "row") -> ir.Constraint:
    return ir.Constraint(name=name, kind=kind, expr=expr, fields=tuple(sorted(expr.refs())))


def prompt(name: str, user: str, inputs: tuple[str, ...], outputs: tuple[str, ...], system: str | None = None,
           rows_per_call: int | None = None, **kw) -> ir.Prompt:
    return ir.Prompt(name=name, user=ir.Template(text=user, fields=inputs),
                     system=ir.Template(text=system, fields=()) if system else None,
                     inputs=inputs, outputs=outputs, rows_per_call=rows_per_call, **kw)


def spec(fields, rows: int, seed: int = 7, model: str = "gpt-4o-mini", joints=(), prompts=(),
         constraints=(), name: str = "test") -> ir.Spec:
    return ir.Spec(dataset=ir.Dataset(name=name, rows=rows, seed=seed, model=model, formats=("jsonl",)),
                   fields=tuple(fields), joints=tuple(joints), prompts=tuple(prompts),
                   constraints=tuple(constraints))


def reviews(rows: int = 200, seed: int = 7, negative: float = 0.3, model: str = "gpt-4o-mini",
            rows_per_call: int | None = None) -> ir.Spec:
    """The issue's example: sentiment 50/20/30, rating given sentiment, a generated review."""
    positive = round(1 - 0.2 - negative, 10)
    return spec(
        [
            cat("sentiment", {"positive": positive, "neutral": 0.2, "negative": negative}),
            given("rating", "sentiment", {
                "positive": {4: 0.4, 5: 0.6},
                "neutral": {3: 1.0},
                "negative": {1: 0.5, 2: 0.5},
            }, kind="int"),
            text("review", "write", words=(40, 120), deps=("rating", "sentiment")),
        ],
        rows, seed=seed, model=model,
        prompts=[prompt("write", "Write a {sentiment} product review that rates the product {rating}/5.",
                        ("sentiment", "rating"), ("review",), system="You write realistic reviews.",
                        rows_per_call=rows_per_call)],
    )
