"""Fields: types, ranges, target distributions, conditionals and length hints (joint tables: joints.py)."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import TYPE_CHECKING

from .. import ast, ir
from ..diagnostics import Diagnostic, Span, did_you_mean
from ..limits import MAX_FLOAT_BOUND, MAX_INT, MAX_LOGNORMAL_EXPONENT, MAX_PARAM, MAX_POISSON_LAMBDA, MIN_INT
from .exprs import _show, literal_value

if TYPE_CHECKING:
    from . import Checker

SAMPLED_KINDS = ("category", "bool", "int", "float", "date")
DIST_PARAMS = {
    "uniform": (),
    "normal": ("mean", "sd"),
    "lognormal": ("mu", "sigma"),
    "poisson": ("lambda",),
}
FIELD_ATTRS = {"description"}
GENERATED_ATTRS = {"description", "words", "chars", "items"}




class FieldChecker:
    def __init__(self, checker: "Checker"):
        self.c = checker

    def report(self, code: str, message: str, span: Span | None, hint: str | None = None, notes=()) -> None:
        self.c.report(Diagnostic(code, message, span, hint, notes=tuple(notes)))

    # ---- types ------------------------------------------------------------

    def type_of(self, texpr: ast.TypeExpr, dist=None) -> ir.Type:
        kind = texpr.kind
        if kind == "list":
            return ir.Type(kind="list", item=self.type_of(texpr.item))
        if kind == "object":
            seen = {}
            members = []
            for m in texpr.members:
                if m.name in seen:
                    self.report("SDS005", f"member `{m.name}` is declared twice", m.span)
                    continue
                seen[m.name] = m
                desc, hints = self.attrs(m.attrs, GENERATED_ATTRS, f"member `{m.name}`")
                self.hints_fit(hints, m.type.kind, f"member `{m.name}`", m.span)
                members.append(ir.Member(name=m.name, type=self.type_of(m.type), description=desc, hints=hints))
            return ir.Type(kind="object", members=tuple(members))
        values = None
        if texpr.values is not None:
            values = self._values(texpr.values)
            if kind == "enum" and not values:
                self.report("SDS014", "an enum needs at least one value", texpr.span)
        low = high = None
        if texpr.range is not None:
            low, high = self.range_bounds(texpr.range, kind)
        return ir.Type(kind=kind, values=values, low=low, high=high)

    def _values(self, lits) -> tuple:
        out = []
        for lit in lits:
            v = literal_value(lit)
            if v in out:
                self.report("SDS005", f"value {_show(v)} is listed twice", lit.span)
                continue
            out.append(v)
        return tuple(out)

    def range_bounds(self, rng: ast.RangeLit, kind: str):
        lo, hi = rng.low, rng.high
        want = "date" if kind == "date" else "number"
        for b in (lo, hi):
            if b.kind != want:
                self.report("SDS014", f"a {kind} range needs {want} bounds", b.span)
                return None, None
        if kind == "int":
            for b in (lo, hi):
                if b.value.denominator != 1:
                    self.report("SDS014", f"an int range needs whole-number bounds, found {float(b.value)}", b.span)
                    return None, None
        if kind not in ("int", "float", "date"):
            self.report("SDS014", f"a `{kind}` takes no range", rng.span)
            return None, None
        for b in (lo, hi):
            if kind == "int" and not MIN_INT <= b.value <= MAX_INT:
                self.report("SDS091", "an int bound must fit in 64 bits (-2^63..2^63-1)", b.span,
                            "values are written as 64-bit integers (DuckDB BIGINT, Parquet INT64); "
                            "declare the field `float` for larger numbers")
                return None, None
            if kind == "float" and abs(b.value) > MAX_FLOAT_BOUND:
                self.report("SDS091", f"a float bound must be at most {_e(MAX_FLOAT_BOUND)} in magnitude", b.span)
                return None, None
        if lo.value > hi.value:
            self.report("SDS014", f"empty range: {_show(literal_value(lo))} is above {_show(literal_value(hi))}",
                        rng.span, f"write it low to high: in {_show(literal_value(hi))}..{_show(literal_value(lo))}")
            return None, None
        if kind == "float":
            if not math.isfinite(float(hi.value) - float(lo.value)):
                self.report("SDS014", "the range is too wide: its width is beyond a double's", rng.span,
                            "narrow it: the bounds' difference must stay below about 1.8e308")
                return None, None
            return float(lo.value), float(hi.value)
        return literal_value(lo), literal_value(hi)

    # ---- distributions -----------------------------------------------------

    def shares(self, table: ast.ShareTable, typ: ir.Type, where: str, declared: bool = True) -> ir.Dist | None:
        """A finite distribution: keys valid for the type, each share in [0, 1], all adding up to exactly 1.
        Values the type declares must each get a share; values only inferred from other tables get 0%."""
        total = Fraction(0)
        out: list[ir.Share] = []
        seen: set = set()
        ok = True
        for entry in table.entries:
            v = literal_value(entry.key)
            if not self._key_fits(entry.key, v, typ, where):
                ok = False
                continue
            if v in seen:
                self.report("SDS005", f"{_show(v)} has two shares in {where}", entry.key.span)
                ok = False
                continue
            seen.add(v)
            s = entry.share.value
            if not 0 <= s <= 1:
                self.report("SDS013", f"share {entry.share.text} is not between 0% and 100%", entry.share.span)
                ok = False
            total += s
            out.append(ir.Share(value=v, share=float(s)))
        if not table.entries:
            self.report("SDS013", f"{where} lists no values", table.span)
            return None
        if ok and total != 1:
            pct = float(total * 100)
            hint = (f"they add up to {pct:g}%; {'add' if total < 1 else 'remove'} {abs(100 - pct):g}%"
                    if total.denominator <= 10**6 else None)
            self.report("SDS013", f"the shares of {where} add up to {pct:g}%, not 100%", table.span,
                        (hint or "") + ("; write thirds as 1/3" if _looks_like_thirds(total) else ""))
            return None
        if typ.values is not None and ok:
            missing = [v for v in typ.values if v not in seen]
            if missing and not declared:
                out += [ir.Share(value=v, share=0.0) for v in missing]
            elif missing:
                self.report("SDS013", f"{where} gives no share to {', '.join(map(_show, missing))}", table.span,
                            "list every declared value, with 0% if it should not occur")
                return None
        return ir.Dist(kind="shares", shares=tuple(out)) if ok else None

    def _key_fits(self, lit: ast.Lit, v, typ: ir.Type, where: str) -> bool:
        kind = typ.kind
        if kind in ("category", "enum"):
            if typ.values is not None and v not in typ.values:
                hint = did_you_mean(str(v), [str(x) for x in typ.values])
                self.report("SDS011", f"{_show(v)} is not a declared value in {where}", lit.span, hint)
                return False
            if lit.kind not in ("string", "number", "bool"):
                self.report("SDS012", f"category values are strings or numbers, found a {lit.kind}", lit.span)
                return False
            return True
        if kind == "bool":
            if lit.kind != "bool":
                self.report("SDS012", f"a bool takes the values true and false, found {_show(v)}", lit.span)
                return False
            return True
        if kind in ("int", "float"):
            if lit.kind != "number":
                self.report("SDS012", f"{where} is a number; {_show(v)} is not", lit.span)
                return False
            if kind == "int" and not isinstance(v, int):
                self.report("SDS012", f"{where} is an int; {_show(v)} is not a whole number", lit.span)
                return False
            if typ.low is not None and not typ.low <= v <= typ.high:
                self.report("SDS011", f"{_show(v)} is outside the range {typ.low}..{typ.high} of {where}", lit.span)
                return False
            return True
        self.report("SDS015", f"a share table does not fit a `{kind}` field", lit.span)
        return False

    def dist(self, d, typ: ir.Type, where: str, declared: bool = True) -> ir.Dist | None:
        if isinstance(d, ast.ShareTable):
            return self.shares(d, typ, where, declared)
        if isinstance(d, ast.ShareDist):
            if typ.kind != "bool":
                self.report("SDS015", f"`~ {d.share.text}` gives the chance of true; {where} is not a bool", d.span,
                            "give a category its shares as a table: {\"a\": 60%, \"b\": 40%}")
                return None
            p = d.share.value
            if not 0 <= p <= 1:
                self.report("SDS013", f"probability {d.share.text} is not between 0% and 100%", d.span)
                return None
            return ir.Dist(kind="shares", shares=(ir.Share(value=True, share=float(p)),
                                                  ir.Share(value=False, share=float(1 - p))))
        return self._named(d, typ, where)

    def _named(self, d: ast.NamedDist, typ: ir.Type, where: str) -> ir.Dist | None:
        if d.name not in DIST_PARAMS:
            self.report("SDS015", f"unknown distribution `{d.name}`", d.span,
                        did_you_mean(d.name, DIST_PARAMS) or f"one of: {', '.join(DIST_PARAMS)}, or a share table")
            return None
        if typ.kind not in ("int", "float", "date"):
            self.report("SDS015", f"`{d.name}` is a numeric distribution; {where} is a {typ.kind}", d.span)
            return None
        if typ.kind == "date" and d.name != "uniform":
            self.report("SDS015", "dates take `uniform` only", d.span)
            return None
        if d.name == "poisson" and typ.kind != "int":
            self.report("SDS015", "`poisson` gives whole numbers: declare the field `int`", d.span)
            return None
        wanted = DIST_PARAMS[d.name]
        given = {}
        for arg in d.args or ():
            if arg.name not in wanted:
                self.report("SDS015", f"`{d.name}` has no parameter `{arg.name}`", arg.span,
                            did_you_mean(arg.name, wanted) or (f"it takes {', '.join(wanted)}" if wanted else "it takes none"))
                return None
            if arg.name in given:
                self.report("SDS005", f"parameter `{arg.name}` is given twice", arg.span)
                return None
            if abs(arg.value.value) > MAX_PARAM:  # before float(): a Fraction past 1e308 cannot become one
                self.report("SDS092", f"`{arg.name}` must be at most {_e(MAX_PARAM)} in magnitude", arg.span,
                            "measure the field in larger units")
                return None
            given[arg.name] = (float(arg.value.value), arg)
        missing = [p for p in wanted if p not in given]
        if missing:
            self.report("SDS015", f"`{d.name}` needs {', '.join(missing)}", d.span,
                        f"e.g. {d.name}({', '.join(f'{p} = ...' for p in wanted)})")
            return None
        for p in ("sd", "sigma", "lambda"):
            if p in given and given[p][0] <= 0:
                self.report("SDS015", f"`{p}` must be above 0", given[p][1].span)
                return None
        if d.name == "poisson" and given["lambda"][0] > MAX_POISSON_LAMBDA:
            lam = given["lambda"][0]
            self.report("SDS092", f"poisson's `lambda` must be at most {MAX_POISSON_LAMBDA:,}", given["lambda"][1].span,
                        f"a poisson this large is a normal: normal(mean = {lam:g}, sd = {lam ** 0.5:g})")
            return None
        if d.name == "lognormal" and abs(given["mu"][0]) + 8 * given["sigma"][0] > MAX_LOGNORMAL_EXPONENT:
            self.report("SDS092", f"a lognormal needs |mu| + 8 sigma <= {MAX_LOGNORMAL_EXPONENT} (e^x must stay a "
                                  "finite number)", d.span, "measure the field in larger units")
            return None
        if d.name == "normal" and typ.low is not None:
            mean, sd = given["mean"][0], given["sd"][0]
            if mean + 6 * sd < typ.low or mean - 6 * sd > typ.high:
                self.report("SDS015", f"normal(mean = {mean:g}, sd = {sd:g}) puts almost no mass in "
                                      f"{typ.low}..{typ.high}", d.span, "move the mean into the range")
                return None
        dist = ir.Dist(kind=d.name, params={k: v for k, (v, _) in given.items()})
        if typ.low is not None and typ.high is not None and not _reaches(typ, dist):
            support = {"lognormal": "values above 0", "poisson": "whole numbers from 0"}.get(d.name) \
                if float(typ.high) <= 0 else None
            self.report("SDS015", f"{_call_text(d.name, dist.params)} puts no mass in {typ.low}..{typ.high}", d.span,
                        f"it gives {support} only: move the range there" if support else
                        "move the distribution's centre into the range")
            return None
        return dist

    # ---- attributes --------------------------------------------------------

    def hints_fit(self, hints: ir.LengthHints, kind: str, where: str, span: Span) -> bool:
        """words and chars describe text, items a list."""
        for hint, fits in (("words", kind == "text"), ("chars", kind == "text"), ("items", kind == "list")):
            if getattr(hints, hint) is not None and not fits:
                wanted = "lists" if hint == "items" else "text"
                self.report("SDS006", f"`{hint}` is a hint for {wanted}; {where} is a {kind}", span)
                return False
        return True

    def attrs(self, settings, allowed: set[str], where: str) -> tuple[str | None, ir.LengthHints]:
        description = None
        hints: dict[str, tuple[int, int]] = {}
        seen: set[str] = set()
        for s in settings:
            if s.key not in allowed:
                extra = ""
                if s.key in GENERATED_ATTRS:
                    extra = f"; `{s.key}` is a hint for generated fields"
                self.report("SDS006", f"unknown attribute `{s.key}` for {where}{extra}", s.key_span,
                            did_you_mean(s.key, allowed) or f"allowed: {', '.join(sorted(allowed))}")
                continue
            if s.key in seen:
                self.report("SDS005", f"attribute `{s.key}` is given twice", s.key_span)
                continue
            seen.add(s.key)
            if s.key == "description":
                if not (isinstance(s.value, ast.Lit) and s.value.kind == "string"):
                    self.report("SDS007", "a description is a string", s.span)
                    continue
                description = s.value.value
                continue
            bounds = self._hint_range(s)
            if bounds is not None:
                hints[s.key] = bounds
        return description, ir.LengthHints(**hints)

    def _hint_range(self, s: ast.Setting) -> tuple[int, int] | None:
        v = s.value
        if isinstance(v, ast.Lit) and v.kind == "number" and v.value.denominator == 1 and v.value >= 0:
            return int(v.value), int(v.value)
        if isinstance(v, ast.RangeLit):
            lo, hi = v.low, v.high
            if all(b.kind == "number" and b.value.denominator == 1 and b.value >= 0 for b in (lo, hi)):
                if lo.value > hi.value:
                    self.report("SDS014", f"empty range for `{s.key}`: {lo.value} is above {hi.value}", v.span)
                    return None
                return int(lo.value), int(hi.value)
        self.report("SDS007", f"`{s.key}` takes a whole number or a range such as 40..120", s.span)
        return None


def _e(x: float) -> str:
    """1e300, not 1e+300."""
    return f"{x:.0e}".replace("+", "")
def _reaches(typ: ir.Type, dist: ir.Dist) -> bool:
    """Whether the distribution truncated to the field's range has any mass there: the planner's own model of
    the target (plan.numeric) says, so check and plan cannot disagree."""
    from ..plan.numeric import NumericDist

    try:
        NumericDist(typ, dist)
    except (ValueError, OverflowError, ZeroDivisionError):
        return False
    return True


def _call_text(name: str, params: dict) -> str:
    return f"{name}({', '.join(f'{k} = {v:g}' for k, v in params.items())})"


def _looks_like_thirds(total: Fraction) -> bool:
    return total != 1 and abs(total - 1) < Fraction(1, 100)


def category_values_from(field: ast.Field, fc: FieldChecker, typ: ir.Type) -> tuple | None:
    """The values of a category field: declared `[..]`, else the keys of its share table or its cases."""
    if typ.values is not None:
        return typ.values
    d = field.dist
    keys: list = []
    if isinstance(d, ast.ShareTable):
        keys = [literal_value(e.key) for e in d.entries]
    elif isinstance(d, ast.Given):
        for case in d.cases:
            if isinstance(case.dist, ast.ShareTable):
                keys += [literal_value(e.key) for e in case.dist.entries]
    return tuple(dict.fromkeys(keys)) or None
