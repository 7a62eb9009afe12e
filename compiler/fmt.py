"""AST -> canonical text. Keeps every comment; idempotent: fmt(fmt(x)) == fmt(x).

Layout rules (LANGUAGE.md, "Formatting"): two-space indent; one declaration per line; share tables, joint
tables, conditional cases, dataset and prompt settings one entry per line, so a changed share is a one-line
diff; attribute blocks and object types inline when they fit in 100 columns; one blank line at most
between declarations, always one around a multi-line declaration; expressions with the fewest parentheses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction

from . import ast
from .diagnostics import Diagnostic
from .syntax import parse

WIDTH = 100
INDENT = "  "


def format_source(text: str, path: str) -> tuple[str, list[Diagnostic]]:
    """Canonical text of a spec, or the syntax errors that stop it from being formatted."""
    module, diags = parse(text, path)
    if module is None:
        return text, diags
    return format_module(module), []


# ---- scalars -------------------------------------------------------------------


def number(v: Fraction) -> str:
    if v.denominator == 1:
        return str(v.numerator)
    with localcontext() as ctx:
        ctx.prec = 60
        d = Decimal(v.numerator) / Decimal(v.denominator)
    text = format(d.normalize(), "f")
    return text if Fraction(text) == v else str(float(v))


_ESCAPE = {'"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _backslashes(value: str) -> str:
    """Double a backslash only where it would otherwise start an escape (before n t r " \\ or at the end):
    `"\\d+"` stays readable in a regex and still reads back as the same value."""
    out = []
    for i, c in enumerate(value):
        nxt = value[i + 1] if i + 1 < len(value) else ""
        out.append("\\\\" if c == "\\" and (nxt in 'ntr"\\\n\t\r' or nxt == "") else c)
    return "".join(out)


def string(value: str, long: bool = False) -> str:
    body = _backslashes(value)
    if long and "\n" in value:
        body = body.replace('"""', '\\"""')
        if body.endswith('"'):
            body = body[:-1] + '\\"'
        return f'"""{body}"""'
    return '"' + "".join(_ESCAPE.get(c, c) for c in body) + '"'


def literal(lit: ast.Lit) -> str:
    if lit.kind == "string":
        return string(lit.value, lit.long)
    if lit.kind == "number":
        return number(lit.value)
    if lit.kind == "percent":
        return number(lit.value * 100) + "%"
    if lit.kind == "bool":
        return "true" if lit.value else "false"
    return str(lit.value)


# ---- expressions ---------------------------------------------------------------

_PREC = {"=>": 1, "or": 2, "and": 3, "not": 4, "cmp": 5, "+": 6, "-": 6, "*": 7, "/": 7, "neg": 8, "atom": 9}
_CMP = {"==", "!=", "<", "<=", ">", ">="}


def _prec(e) -> int:
    if isinstance(e, ast.BinOp):
        return _PREC["cmp"] if e.op in _CMP else _PREC[e.op]
    if isinstance(e, ast.Unary):
        return _PREC["not"] if e.op == "not" else _PREC["neg"]
    if isinstance(e, (ast.InList, ast.InRange)):
        return _PREC["cmp"]
    if isinstance(e, ast.If):
        return 0
    if isinstance(e, ast.Lit) and e.kind in ("number", "percent") and e.value < 0:
        return _PREC["neg"]
    return _PREC["atom"]


def _wrap(e, min_prec: int) -> str:
    text = expr(e)
    return f"({text})" if _prec(e) < min_prec else text


def expr(e) -> str:
    if isinstance(e, ast.Lit):
        return literal(e)
    if isinstance(e, ast.Ref):
        return e.name
    if isinstance(e, ast.Call):
        return f"{e.fn}({', '.join(expr(a) for a in e.args)})"
    if isinstance(e, ast.Dot):
        return f"{_wrap(e.obj, _PREC['atom'])}.{e.name}"
    if isinstance(e, ast.BinOp):
        p = _prec(e)
        if e.op == "=>":  # right-associative
            return f"{_wrap(e.left, p + 1)} => {_wrap(e.right, p)}"
        if e.op in _CMP:  # non-associative
            return f"{_wrap(e.left, p + 1)} {e.op} {_wrap(e.right, p + 1)}"
        return f"{_wrap(e.left, p)} {e.op} {_wrap(e.right, p + 1)}"
    if isinstance(e, ast.Unary):
        if e.op == "not":
            return f"not {_wrap(e.operand, _PREC['not'])}"
        return f"-{_wrap(e.operand, _PREC['neg'])}"
    if isinstance(e, ast.InList):
        op = "not in" if e.negated else "in"
        return f"{_wrap(e.value, _PREC['+'])} {op} {expr(e.items)}"
    if isinstance(e, ast.InRange):
        op = "not in" if e.negated else "in"
        return f"{_wrap(e.value, _PREC['+'])} {op} {_wrap(e.low, _PREC['+'])}..{_wrap(e.high, _PREC['+'])}"
    if isinstance(e, ast.If):
        return f"if {expr(e.cond)} then {expr(e.then)} else {expr(e.otherwise)}"
    if isinstance(e, ast.ListLit):
        return "[" + ", ".join(expr(i) for i in e.items) + "]"
    if isinstance(e, ast.ObjectLit):
        return "{" + ", ".join(f"{k}: {expr(v)}" for k, v in e.entries) + "}"
    raise TypeError(type(e).__name__)


def setting_value(v) -> str:
    if isinstance(v, ast.RangeLit):
        return f"{literal(v.low)}..{literal(v.high)}"
    return expr(v)


def setting(s: ast.Setting) -> str:
    return f"{s.key} = {setting_value(s.value)}"


# ---- types and distributions ------------------------------------------------------


def type_expr(t: ast.TypeExpr) -> str:
    if t.kind == "list":
        return f"list[{type_expr(t.item)}]"
    if t.kind == "object":
        members = [f"{m.name}: {type_expr(m.type)}{_inline_attrs(m.attrs)}" for m in t.members]
        return "object { " + ", ".join(members) + " }" if members else "object {}"
    out = t.kind
    if t.values is not None:
        out += " [" + ", ".join(literal(v) for v in t.values) + "]"
    if t.range is not None:
        out += f" in {literal(t.range.low)}..{literal(t.range.high)}"
    return out


def _inline_attrs(attrs) -> str:
    return " { " + ", ".join(setting(s) for s in attrs) + " }" if attrs else ""


def share(s: ast.Share) -> str:
    return s.text


def dist_inline(d) -> str:
    if isinstance(d, ast.ShareTable):
        return "{" + ", ".join(f"{literal(e.key)}: {share(e.share)}" for e in d.entries) + "}"
    if isinstance(d, ast.ShareDist):
        return share(d.share)
    if d.args is None:
        return d.name
    return f"{d.name}(" + ", ".join(f"{a.name} = {literal(a.value)}" for a in d.args) + ")"


# ---- layout with comments -----------------------------------------------------------


@dataclass
class _Unit:
    """A run of output lines standing for source lines start..end."""

    start: int
    end: int
    lines: list[str]
    is_comment: bool = False


class _Printer:
    def __init__(self, comments: tuple[ast.Comment, ...]):
        self.comments = sorted(comments, key=lambda c: (c.span.line, c.span.col))
        self.i = 0

    def _leading(self, before_line: int, indent: str) -> list[_Unit]:
        out = []
        while self.i < len(self.comments) and self.comments[self.i].span.line < before_line:
            c = self.comments[self.i]
            out.append(_Unit(c.span.line, c.span.line, [indent + c.text], True))
            self.i += 1
        return out

    def _inner_and_trailing(self, node_span, indent: str) -> tuple[list[str], str]:
        """Comments inside a one-line-printed item move above it; one on its last line stays at its end."""
        above, trailing = [], ""
        while self.i < len(self.comments) and self.comments[self.i].span.line <= node_span.end_line:
            c = self.comments[self.i]
            if c.span.line == node_span.end_line and c.span.col >= node_span.end_col:
                trailing = "  " + c.text
            else:
                above.append(indent + c.text)
            self.i += 1
        return above, trailing

    def item(self, span, text_lines: list[str], indent: str) -> list[_Unit]:
        units = self._leading(span.line, indent)
        above, trailing = self._inner_and_trailing(span, indent)
        # continuation lines belong to a multi-line string: indenting them would change its value
        lines = above + [indent + text_lines[0]] + text_lines[1:]
        lines[-1] += trailing
        units.append(_Unit(span.line, span.end_line, lines))
        return units

    def block(self, span, head: str, entries: list[tuple[object, list[str]]], indent: str,
              tail: str = "}") -> list[_Unit]:
        """`head {` entries, one per line, `}`; comments kept with the entry they sit next to."""
        units = self._leading(span.line, indent)
        first_line = entries[0][0].line if entries else span.end_line
        head_comments = []
        while self.i < len(self.comments) and self.comments[self.i].span.line == span.line \
                and span.line < first_line:
            head_comments.append("  " + self.comments[self.i].text)
            self.i += 1
        lines = [indent + head + " {" + "".join(head_comments)]
        inner: list[_Unit] = []
        for entry_span, text in entries:
            inner += self.item(entry_span, text, indent + INDENT)
        inner += self._leading(span.end_line, indent + INDENT)
        lines += _join(inner, force_blank_multiline=False)
        closing = indent + tail
        above, trailing = self._inner_and_trailing(span, indent + INDENT)
        lines += above
        lines.append(closing + trailing)
        units.append(_Unit(span.line, span.end_line, lines))
        return units

    def rest(self) -> list[_Unit]:
        return self._leading(10**12, "")


def _join(units: list[_Unit], force_blank_multiline: bool) -> list[str]:
    out: list[str] = []
    prev: _Unit | None = None
    for u in units:
        if prev is not None:
            gap = u.start - prev.end > 1
            multi = force_blank_multiline and (
                (not prev.is_comment and len(prev.lines) > 1) or (not u.is_comment and len(u.lines) > 1
                                                                   and not (prev.is_comment and u.start - prev.end <= 1)))
            if gap or multi:
                out.append("")
        out += u.lines
        prev = u
    return out


def format_module(module: ast.Module) -> str:
    p = _Printer(module.comments)
    units: list[_Unit] = []
    for decl in module.decls:
        units += _decl(p, decl)
    units += p.rest()
    return "\n".join(_join(units, force_blank_multiline=True)).rstrip("\n") + "\n"


def _decl(p: _Printer, d) -> list[_Unit]:
    if isinstance(d, ast.Import):
        module = string(d.module) if d.is_file else d.module
        names = "*" if d.names is None else ", ".join(n.name + (f" as {n.alias}" if n.alias else "") for n in d.names)
        return p.item(d.span, [f"from {module} import {names}"], "")
    if isinstance(d, ast.Dataset):
        return p.block(d.span, f"dataset {d.name}", [(s.span, [setting(s)]) for s in d.settings], "")
    if isinstance(d, ast.Field):
        return _field(p, d)
    if isinstance(d, ast.Joint):
        entries = [(e.span, ["(" + ", ".join(literal(k) for k in e.keys) + f"): {share(e.share)}"]) for e in d.entries]
        return p.block(d.span, "joint " + ", ".join(d.fields), entries, "")
    if isinstance(d, ast.Fragment):
        return p.item(d.span, _lines(f"fragment {d.name} = {expr(d.expr)}"), "")
    if isinstance(d, ast.Prompt):
        return p.block(d.span, f"prompt {d.name}", [(s.span, _lines(setting(s))) for s in d.settings], "")
    if isinstance(d, ast.Judge):
        return p.block(d.span, f"judge {d.name}", [(s.span, _lines(setting(s))) for s in d.settings], "")
    if isinstance(d, ast.Constraint):
        per = f" per {', '.join(r.name for r in d.per)}" if d.per else ""
        return p.item(d.span, _lines(f"constraint {d.name}: {expr(d.expr)}{per}"), "")
    if isinstance(d, ast.Reference):
        entries = [(e.span, [f"{_column(e.column)} -> {e.field}"] if isinstance(e, ast.ColumnMap) else _lines(setting(e)))
                   for e in d.entries]
        return p.block(d.span, f"reference {d.name} from {string(d.path)}", entries, "")
    if isinstance(d, ast.Def):
        return p.item(d.span, _lines(f"def {d.name}({', '.join(d.params)}) = {expr(d.expr)}"), "")
    raise TypeError(type(d).__name__)


def _column(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) else string(name)


def _lines(text: str) -> list[str]:
    return text.split("\n")


def _field(p: _Printer, f: ast.Field) -> list[_Unit]:
    if f.expr is not None:
        head = f"field {f.name} = {expr(f.expr)}"
        tail = ""
    else:
        head = f"field {f.name}: {type_expr(f.type)}"
        tail = f" from {f.source}" if f.source else ""
    attrs_inline = _inline_attrs(f.attrs)
    d = f.dist
    if isinstance(d, ast.Given):
        entries = [(c.span, [f"{literal(c.key)}: {dist_inline(c.dist)}"]) for c in d.cases]
        return p.block(f.span, f"{head} given {d.field}", entries, "", tail="}" + tail + attrs_inline)
    if isinstance(d, ast.ShareTable):
        entries = [(e.span, [f"{literal(e.key)}: {share(e.share)}"]) for e in d.entries]
        return p.block(f.span, f"{head} ~", entries, "", tail="}" + tail + attrs_inline)
    if d is not None:
        head += f" ~ {dist_inline(d)}"
    line = head + tail + attrs_inline
    if len(line) > WIDTH and f.type is not None and f.type.kind == "object" and f.type.members:
        entries = [(m.span, [f"{m.name}: {type_expr(m.type)}{_inline_attrs(m.attrs)}"]) for m in f.type.members]
        return p.block(f.span, f"field {f.name}: object", entries, "", tail="}" + tail + attrs_inline)
    if len(line) <= WIDTH or not f.attrs:
        return p.item(f.span, _lines(line), "")
    return p.block(f.span, head + tail, [(s.span, _lines(setting(s))) for s in f.attrs], "")
