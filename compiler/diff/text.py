"""IR back to `.sds` text, for the diff's change lines: expressions, types, distributions, values and shares.

Mirrors the language's syntax (and `fmt`'s precedence rules), so `rating <= 2` reads as the author wrote it.
Fragments are already spliced and `def` predicates inlined in the IR, so a constraint that calls a `def`
prints its body. Percent literals were read as numbers: `2%` prints as `0.02`.
"""

from __future__ import annotations

import json

from .. import ir
from ..fmt import _CMP, _PREC  # one precedence table for the language, whichever tree is printed
from ..fmt import string as _string


def value(v: ir.Value) -> str:
    """A data value as a literal: strings quoted, booleans lower-case, numbers as JSON."""
    if isinstance(v, str):
        return _string(v)
    return json.dumps(v)


def pct(share: float) -> str:
    """A share as a percentage with at most four significant digits: 0.125 -> `12.5%`."""
    return f"{100 * share:.4g}%"


def _prec(e: ir.Expr) -> int:
    if e.kind == "op":
        if e.op in _CMP:
            return _PREC["cmp"]
        return _PREC[e.op] if e.op in _PREC else _PREC["atom"]
    if e.kind in ("in", "range", "element"):
        return _PREC["cmp"]
    if e.kind == "if":
        return 0
    if e.kind == "lit" and isinstance(e.value, (int, float)) and not isinstance(e.value, bool) and e.value < 0:
        return _PREC["neg"]
    return _PREC["atom"]


def _wrap(e: ir.Expr, min_prec: int) -> str:
    text = expr(e)
    return f"({text})" if _prec(e) < min_prec else text


def expr(e: ir.Expr) -> str:
    """An IR expression as source text."""
    if e.kind == "lit":
        if e.type == "date" and isinstance(e.value, str):
            return e.value
        return value(e.value)
    if e.kind == "ref":
        return e.field or "?"
    if e.kind == "call":
        return f"{e.fn}({', '.join(expr(a) for a in e.args)})"
    if e.kind == "list":
        return "[" + ", ".join(expr(a) for a in e.args) + "]"
    if e.kind == "if":
        cond, then, other = e.args
        return f"if {expr(cond)} then {expr(then)} else {expr(other)}"
    if e.kind == "member":
        return f"{_wrap(e.args[0], _PREC['atom'])}.{e.field}"
    if e.kind == "element":
        op = "not in" if e.negated else "in"
        return f"{_wrap(e.args[0], _PREC['+'])} {op} {_wrap(e.args[1], _PREC['+'])}"
    if e.kind == "in":
        op = "not in" if e.negated else "in"
        return f"{_wrap(e.args[0], _PREC['+'])} {op} [{', '.join(expr(a) for a in e.args[1:])}]"
    if e.kind == "range":
        op = "not in" if e.negated else "in"
        v, lo, hi = e.args
        return f"{_wrap(v, _PREC['+'])} {op} {_wrap(lo, _PREC['+'])}..{_wrap(hi, _PREC['+'])}"
    # op
    if e.op == "not":
        return f"not {_wrap(e.args[0], _PREC['not'])}"
    if e.op == "neg":
        return f"-{_wrap(e.args[0], _PREC['neg'])}"
    left, right = e.args
    p = _prec(e)
    if e.op == "=>":  # right-associative
        return f"{_wrap(left, p + 1)} => {_wrap(right, p)}"
    if e.op in _CMP:  # non-associative
        return f"{_wrap(left, p + 1)} {e.op} {_wrap(right, p + 1)}"
    return f"{_wrap(left, p)} {e.op} {_wrap(right, p + 1)}"


def _bound(b) -> str:
    return b if isinstance(b, str) else json.dumps(b)


def type_text(t: ir.Type) -> str:
    k = t.kind
    if k in ("category", "enum"):
        return k if t.values is None else f"{k} [{', '.join(value(v) for v in t.values)}]"
    if k in ("int", "float", "date"):
        return k if t.low is None or t.high is None else f"{k} in {_bound(t.low)}..{_bound(t.high)}"
    if k == "list":
        return f"list[{type_text(t.item) if t.item else '?'}]"
    if k == "object":
        return "object { " + ", ".join(f"{m.name}: {type_text(m.type)}" for m in t.members) + " }"
    return k


def num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


def dist_text(d: ir.Dist) -> str:
    """`{"a": 40%, "b": 60%}`, `uniform`, `normal(mean = 40, sd = 12)`; `(default)` when the checker filled it in."""
    if d.kind == "shares":
        text = "{" + ", ".join(f"{value(s.value)}: {pct(s.share)}" for s in d.shares) + "}"
    elif d.params:
        text = f"{d.kind}(" + ", ".join(f"{k} = {num(v)}" for k, v in sorted(d.params.items())) + ")"
    else:
        text = d.kind
    return text if d.declared else f"{text} (default)"


def hints_text(h: ir.LengthHints) -> list[str]:
    out = []
    for name in ("words", "chars", "items"):
        r = getattr(h, name)
        if r:
            out.append(f"{name} = {r[0]}..{r[1]}")
    return out


def field_text(f: ir.Field) -> str:
    """A field roughly as declared: `category ~ {...}`, `int in 1..5 given sentiment {...}`, `= expr`, `text from p`."""
    if f.role == "derived" and f.expr is not None:
        head = f"= {expr(f.expr)}"
    else:
        head = type_text(f.type)
        d = f.dist
        if d is not None and d.kind == "shares" and d.declared and f.type.kind == "bool":
            true = next((s.share for s in d.shares if s.value is True), 0.0)
            head += f" ~ {pct(true)}"  # as written: `bool ~ 85%`
        elif d is not None and d.kind == "shares" and not d.declared:
            head += " ~ equal shares (default)"
        elif d is not None:
            if d.kind == "shares" and f.type.values is not None and \
                    set(map(repr, f.type.values)) == {repr(s.value) for s in d.shares}:
                head = f.type.kind  # the share table lists the values
            head += f" ~ {dist_text(d)}"
        if f.given is not None:
            cases = ", ".join(f"{value(c.when)}: {dist_text(c.dist)}" for c in f.given.cases)
            head += f" given {f.given.on} {{{cases}}}"
        if f.prompt:
            head += f" from {f.prompt}"
    attrs = hints_text(f.hints) + ([f"description = {_string(f.description)}"] if f.description else [])
    return head + (" { " + ", ".join(attrs) + " }" if attrs else "")


def prompt_text(p: ir.Prompt) -> str:
    return f"reads {', '.join(p.inputs) or 'nothing'}; writes {', '.join(p.outputs)}"


def judge_text(j: ir.Judge) -> str:
    answer = "yes_no" if j.answer == "yes_no" else f"{j.low}..{j.high}"
    return f"asks {_string(j.question.text)}; answers {answer}" + (f"; model {j.model}" if j.model else "")


def joint_text(j: ir.Joint) -> str:
    cells = ", ".join(f"({', '.join(value(v) for v in c.values)}): {pct(c.share)}" for c in j.cells)
    return f"joint {', '.join(j.fields)} {{{cells}}}"


def constraint_text(c: ir.Constraint) -> str:
    return expr(c.expr) + (f" per {', '.join(c.per)}" if c.per else "")


def short(text: str, limit: int = 100) -> str:
    """One line, at most `limit` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
