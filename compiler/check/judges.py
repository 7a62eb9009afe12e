"""Judges and judge constraints (LANGUAGE.md, "Judges"): read a judge's settings, check its question's
placeholders, and type the constraints that read its verdict. A judge is read by judge constraints only, in the
forms `J` and `not J` (yes/no), `J OP N` and `J in A..B` (scale); anywhere else the expression checker reports
SDS072."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import ast, ir
from ..diagnostics import Diagnostic
from .modules import Key
from .settings import settings_by_key

if TYPE_CHECKING:
    from . import Checker

JUDGE_SETTINGS = {"question", "answer", "system", "model", "rows_per_call", "temperature"}
SCALE_MAX = 100
COMPARE = {"==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
           "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}
FORMS = "write `constraint NAME: J` (or `not J`) for a yes/no judge, `J >= 4` or `J in 4..5` for a scale"
NOT_JUDGE = object()  # a constraint that reads no judge at its top: the expression checker takes it


class JudgeChecker:
    def __init__(self, checker: "Checker"):
        self.c = checker
        self.judges: dict[str, ir.Judge] = {}
        self.read: set[str] = set()  # judges some constraint reads (checked or not)

    def report(self, code, message, span, hint=None, severity="error"):
        self.c.report(Diagnostic(code, message, span, hint, severity=severity))

    # ---- declarations ------------------------------------------------------------------------------------

    def judge(self, final: str, key: Key) -> ir.Judge | None:
        decl: ast.Judge = self.c.decl(key)
        module = self.c.modules[key.module]
        values, _ = settings_by_key(decl.settings, JUDGE_SETTINGS, "judge", self.report)
        if "question" not in values:
            self.report("SDS071", f"judge `{final}` has no `question`", decl.name_span,
                        'add: question = "Does this review express {sentiment} sentiment? {body}"')
            return None
        templates = {}
        for role in ("question", "system"):
            s = values.get(role)
            if s is None:
                continue
            t = None if isinstance(s.value, ast.RangeLit) else self.c.pc.template(s.value, module)
            if t is None:
                if isinstance(s.value, ast.RangeLit):
                    self.report("SDS007", f"`{role}` is a template string", s.span)
                return None
            errors = sum(d.is_error for d in self.c.diagnostics)
            fields = self.c.pc.check_placeholders(t, f"the {role} of judge `{final}`", set())
            if sum(d.is_error for d in self.c.diagnostics) > errors:
                return None
            if role == "system" and fields:
                self.report("SDS071", f"the system template of judge `{final}` reads fields", s.span,
                            "one system message is sent per call of many rows: put {field} in the question")
                return None
            templates[role] = ir.Template(text=t.text, fields=tuple(fields), fragments=tuple(t.fragments))
        scale = self._answer(values.get("answer"), final)
        if scale is False:
            return None
        pc = self.c.pc
        inputs = templates["question"].fields
        judge = ir.Judge(name=final, question=templates["question"], system=templates.get("system"),
                         answer="yes_no" if scale is None else "scale",
                         low=None if scale is None else scale[0], high=None if scale is None else scale[1],
                         model=pc._string(values.get("model")), rows_per_call=pc._rows_per_call(values.get("rows_per_call")),
                         temperature=pc._number(values.get("temperature"), 0, 2, integral=False), inputs=inputs)
        if not any(self._written(n) for n in inputs):
            self.report("SDS079", f"judge `{final}` reads no generated field: it judges only values the planner chose",
                        decl.name_span, "judge the text (e.g. {body}); a rule over planned values is a row constraint",
                        severity="warning")
        self.judges[final] = judge
        return judge

    def _answer(self, s: ast.Setting | None, final: str):
        """None for yes_no, (low, high) for a scale, False after an error."""
        if s is None or (isinstance(s.value, ast.Ref) and s.value.name == "yes_no"):
            return None
        v = s.value
        if isinstance(v, ast.RangeLit) and v.low.kind == v.high.kind == "number":
            lo, hi = v.low.value, v.high.value
            if lo.denominator == hi.denominator == 1 and 0 <= lo < hi <= SCALE_MAX:
                return int(lo), int(hi)
        self.report("SDS071", f"the answer of judge `{final}` is `yes_no` or a scale LOW..HIGH of whole numbers "
                              f"from 0 to {SCALE_MAX}, LOW below HIGH", s.span, "e.g. answer = 1..5")
        return False

    def _written(self, name: str, seen: frozenset = frozenset()) -> bool:
        """Whether a field is generated, or derived from a generated one."""
        f = self.c._fields.get(name)
        if f is None or name in seen:
            return False
        return f.role == "generated" or (f.role == "derived" and any(self._written(d, seen | {name})
                                                                      for d in f.depends_on))

    # ---- judge constraints ---------------------------------------------------------------------------------

    def _judge_of(self, e, module) -> tuple[str, ast.Judge] | None:
        if not isinstance(e, ast.Ref):
            return None
        found = self.c.lookup(module, e.name)
        if found is None or not isinstance(found[1], ast.Judge):
            return None
        final = self.c.final_name(found[0], e.span)
        return (final, found[1]) if final is not None else None

    def constraint(self, final: str, key: Key):
        """The IR of a judge constraint, None after an error, NOT_JUDGE for a constraint of another kind."""
        decl: ast.Constraint = self.c.decl(key)
        module = self.c.modules[key.module]
        e = decl.expr
        negated = isinstance(e, ast.Unary) and e.op == "not" and self._judge_of(e.operand, module) is not None
        if negated:
            e = e.operand
        if isinstance(e, ast.BinOp) and e.op in COMPARE:
            target, bound = e.left, [e.right]
        elif isinstance(e, ast.InRange) and not e.negated:
            target, bound = e.value, [e.low, e.high]
        else:
            target, bound = e, None
        found = self._judge_of(target, module)
        if found is None:
            return NOT_JUDGE
        name, jdecl = found
        self.read.add(name)
        judge = self.judges.get(name)
        if judge is None:
            return None  # the judge itself did not check: reported there
        ref_type = "bool" if judge.answer == "yes_no" else "number"
        ref = ir.Expr(kind="ref", type=ref_type, field=name)
        if bound is None:
            if judge.answer != "yes_no":
                self.report("SDS072", f"judge `{name}` answers on a scale {judge.low}..{judge.high}: compare it "
                                      "with a threshold", e.span, f"e.g. constraint {final}: {name} >= {judge.high - 1}")
                return None
            expr = ir.Expr(kind="op", type="bool", op="not", args=(ref,)) if negated else ref
        else:
            if judge.answer == "yes_no":
                self.report("SDS072", f"judge `{name}` answers yes or no: it is a condition by itself", e.span,
                            f"write constraint {final}: {name}")
                return None
            numbers = [self._whole(b) for b in bound]
            if any(n is None for n in numbers):
                self.report("SDS072", f"a threshold of judge `{name}` is a whole number", bound[0].span, FORMS)
                return None
            scale = range(judge.low, judge.high + 1)
            outside = [n for n in numbers if n not in scale]
            if outside:
                self.report("SDS073", f"threshold {outside[0]} is outside the scale {judge.low}..{judge.high} of "
                                      f"judge `{name}`", e.span, "pick a threshold inside the scale")
                return None
            if isinstance(e, ast.BinOp):
                passing = [v for v in scale if COMPARE[e.op](v, numbers[0])]
                expr = ir.Expr(kind="op", type="bool", op=e.op,
                               args=(ref, ir.Expr(kind="lit", type="number", value=numbers[0])))
            else:
                passing = [v for v in scale if numbers[0] <= v <= numbers[1]]
                expr = ir.Expr(kind="range", type="bool", args=(ref, *(ir.Expr(kind="lit", type="number", value=n)
                                                                         for n in numbers)))
            if not passing or len(passing) == len(scale):
                what = "no answer" if not passing else "every answer"
                self.report("SDS073", f"{what} of judge `{name}` ({judge.low}..{judge.high}) passes constraint "
                                      f"`{final}`", e.span, "pick a threshold that some answers meet and some fail")
                return None
        return ir.Constraint(name=final, kind="judge", expr=expr, fields=(name,), judge=name)

    @staticmethod
    def _whole(e) -> int | None:
        if isinstance(e, ast.Lit) and e.kind == "number" and e.value.denominator == 1:
            return int(e.value)
        if isinstance(e, ast.Unary) and e.op == "-" and isinstance(e.operand, ast.Lit) and e.operand.kind == "number" \
                and e.operand.value.denominator == 1:
            return -int(e.operand.value)
        return None

    def unused(self) -> None:
        """SDS078 for each judge no constraint reads."""
        for name in self.judges:
            if name not in self.read:
                self.report("SDS078", f"judge `{name}` is read by no constraint: it is never asked",
                            self.c.decl(self.c.included[name]).name_span,
                            f"add: constraint agrees: {name}" + (" >= N" if self.judges[name].answer == "scale" else ""),
                            severity="warning")
