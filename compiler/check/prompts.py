"""Fragments, templates and prompts: splice fragments, check `{field}` placeholders, read prompt settings."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .. import ast, ir
from ..diagnostics import Diagnostic, Span, did_you_mean
from ..limits import MAX_TEMPLATE_CHARS
from .exprs import _show, literal_value
from .modules import Key
from .settings import settings_by_key

if TYPE_CHECKING:
    from . import Checker

PROMPT_SETTINGS = {"system", "user", "example", "examples", "temperature", "max_tokens", "rows_per_call", "model"}
REPEATABLE = {"example"}
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def placeholders(text: str) -> list[tuple[str, int, int]]:
    """(name, start, end) of each `{name}` in a template; `{{` and `}}` are literal braces.
    A stray brace or a placeholder that is not a name yields name "" or the raw text, for the checker to report."""
    out = []
    for m in _PLACEHOLDER.finditer(text):
        tok = m.group()
        if tok in ("{{", "}}"):
            continue
        if m.group(1) is None:
            out.append(("", m.start(), m.end()))
        else:
            out.append((m.group(1), m.start(), m.end()))
    return out


class TemplateText:
    """Template text with the fragments it was spliced from and a span for each literal piece."""

    def __init__(self) -> None:
        self.text = ""
        self.pieces: list[tuple[int, int, ast.Lit]] = []  # (start, end, literal) of literal pieces
        self.fragments: list[str] = []


class PromptChecker:
    def __init__(self, checker: "Checker"):
        self.c = checker
        self._fragment_text: dict[Key, str | None] = {}
        self._fragment_length: dict[Key, int] = {}
        self._ordering = False
        self._in_progress: list[Key] = []

    def report(self, code, message, span, hint=None):
        self.c.report(Diagnostic(code, message, span, hint))

    # ---- fragments and templates ---------------------------------------------

    def fragment_text(self, key: Key) -> str | None:
        if key in self._fragment_text:
            return self._fragment_text[key]
        if not self._in_progress and not self._ordering:  # included fragments first: splicing never nests deeply
            self._ordering = True
            try:
                order, cyclic = self._fragments_below(key, self._fragment_text)
                for k in order[:-1]:
                    if k not in cyclic:  # a cycle is spliced (and reported) from the fragment asked for
                        self.fragment_text(k)
            finally:
                self._ordering = False
        frag: ast.Fragment = self.c.decl(key)
        if key in self._in_progress:
            chain = " -> ".join(k.name for k in self._in_progress[self._in_progress.index(key):] + [key])
            self.report("SDS017", f"fragment cycle: {chain}", frag.name_span)
            return None
        module = self.c.modules[key.module]
        self._in_progress.append(key)
        if not self._fits(frag.expr, module, frag.name_span, f"fragment `{key.name}`"):
            self._in_progress.pop()
            self._fragment_text[key] = None
            return None
        t = TemplateText()
        ok = self._splice(frag.expr, module, t)
        self._in_progress.pop()
        self._fragment_text[key] = t.text if ok else None
        return self._fragment_text[key]

    def template(self, expr: ast.Expr, module, where: str = "the template") -> TemplateText | None:
        if not self._fits(expr, module, _span(expr), where):
            return None
        t = TemplateText()
        return t if self._splice(expr, module, t) else None

    # Lengths come before text: fragments that each double the last reach 2^64 characters in 64 lines, so the
    # limit is checked on lengths added up per fragment (memoised: linear in the spec), and no text over
    # the limit is ever built.
    def _fits(self, expr: ast.Expr, module, span: Span, where: str) -> bool:
        """Whether the template is within MAX_TEMPLATE_CHARS; reports SDS093 where the limit is first crossed
        (a fragment over the limit is reported at its own declaration, not again at each use)."""
        if self._length(expr, module) <= MAX_TEMPLATE_CHARS:
            return True
        over = [k for k in self._fragment_refs(expr, module) if self._fragment_length_of(k) > MAX_TEMPLATE_CHARS]
        for k in over:
            self.fragment_text(k)  # reports it (once: the result is memoised)
        if not over:
            self.report("SDS093", f"{where} is {self._length(expr, module):,} characters once its fragments are "
                                  f"spliced in; the limit is {MAX_TEMPLATE_CHARS:,}", span,
                        "a template is sent with every call, so keep it short; a fragment that includes another "
                        "twice doubles in length at each level")
        return False

    def _length(self, expr: ast.Expr, module) -> int:
        """The spliced length of a template; parts that are not strings or fragments count 0 (reported later)."""
        if isinstance(expr, ast.Lit) and expr.kind == "string":
            return len(expr.value)
        if isinstance(expr, ast.BinOp) and expr.op == "+":
            return self._length(expr.left, module) + self._length(expr.right, module)
        if isinstance(expr, ast.Ref):
            found = self.c.lookup(module, expr.name)
            if found is not None and isinstance(found[1], ast.Fragment):
                return self._fragment_length_of(found[0])
        return 0

    def _fragment_length_of(self, key: Key) -> int:
        if key not in self._fragment_length:
            order, _ = self._fragments_below(key, self._fragment_length)
            for k in order:
                self._fragment_length.setdefault(k, 0)  # a cycle counts 0 here; fragment_text reports it
            for k in order:  # included fragments first: each length adds up lengths already known
                frag: ast.Fragment = self.c.decl(k)
                self._fragment_length[k] = self._length(frag.expr, self.c.modules[k.module])
        return self._fragment_length[key]

    def _fragments_below(self, key: Key, known) -> tuple[list[Key], set[Key]]:
        """The fragments `key` includes, directly or not, then `key`: included ones first, found without
        recursion (a chain of thousands of fragments must not exhaust the stack); those in `known` (already
        done) and what they include are left out. Also the fragments on a cycle."""
        order, seen, cyclic, path, on_path, stack = [], set(), set(), [], set(), [(key, False)]
        while stack:
            k, done = stack.pop()
            if done:
                on_path.discard(path[-1])
                order.append(path.pop())
                continue
            if k in on_path:  # the top of the path includes k, which includes it back
                cyclic.update(path[path.index(k):])
            if k in seen or k in known:
                continue
            seen.add(k)
            path.append(k)
            on_path.add(k)
            stack.append((k, True))
            frag: ast.Fragment = self.c.decl(k)
            stack.extend((part, False) for part in self._fragment_refs(frag.expr, self.c.modules[k.module]))
        return order, cyclic

    def _fragment_refs(self, expr: ast.Expr, module) -> list[Key]:
        if isinstance(expr, ast.BinOp) and expr.op == "+":
            return self._fragment_refs(expr.left, module) + self._fragment_refs(expr.right, module)
        if isinstance(expr, ast.Ref):
            found = self.c.lookup(module, expr.name)
            if found is not None and isinstance(found[1], ast.Fragment):
                return [found[0]]
        return []

    def _splice(self, expr: ast.Expr, module, t: TemplateText) -> bool:
        if isinstance(expr, ast.Lit) and expr.kind == "string":
            start = len(t.text)
            t.text += expr.value
            t.pieces.append((start, len(t.text), expr))
            return True
        if isinstance(expr, ast.BinOp) and expr.op == "+":
            return self._splice(expr.left, module, t) & self._splice(expr.right, module, t)
        if isinstance(expr, ast.Ref):
            found = self.c.lookup(module, expr.name)
            if found is None:
                fragments = [n for n, (k, _) in module.scope.items() if isinstance(self.c.decl(k), ast.Fragment)]
                self.report("SDS010", f"undefined fragment `{expr.name}`", expr.span,
                            did_you_mean(expr.name, fragments)
                            or ("to insert a field's value, write {" + expr.name + "} inside the string"
                                if expr.name in self.c.field_names else None))
                return False
            key, decl = found
            if not isinstance(decl, ast.Fragment):
                hint = "to insert a field's value, write {" + expr.name + "} inside the string" \
                    if isinstance(decl, ast.Field) else None
                self.report("SDS012", f"`{expr.name}` is not a fragment", expr.span, hint)
                return False
            text = self.fragment_text(key)
            if text is None:
                return False
            t.text += text
            if expr.name not in t.fragments:
                t.fragments.append(expr.name)
            return True
        self.report("SDS012", "a template is built from strings and fragments joined with +", _span(expr))
        return False

    def check_placeholders(self, t: TemplateText, where: str, outputs: set[str]) -> list[str]:
        """The fields a template reads, in order of first use; reports unknown ones."""
        fields: list[str] = []
        for name, start, end in placeholders(t.text):
            span = self._span_in(t, start, end)
            if not _NAME.match(name):
                shown = "{" + name + "}" if name else "a lone brace"
                self.report("SDS016", f"{shown} in {where} is not a placeholder", span,
                            "placeholders are {field_name}; write {{ and }} for literal braces")
                continue
            if name not in self.c.field_names:
                self.report("SDS016", f"{where} references unknown field `{name}`", span,
                            did_you_mean(name, self.c.field_names))
                continue
            if name in outputs:
                self.report("SDS017", f"{where} reads `{name}`, which the same prompt writes", span,
                            "a prompt can read sampled, derived or other prompts' fields, not its own outputs")
                continue
            if name not in fields:
                fields.append(name)
        return fields

    @staticmethod
    def _span_in(t: TemplateText, start: int, end: int) -> Span | None:
        for p_start, p_end, lit in t.pieces:
            if p_start <= start < p_end:
                s = lit.span
                raw_len = s.end_col - s.col - (6 if lit.long else 2)
                if s.line == s.end_line and raw_len == p_end - p_start:  # no escapes: columns map 1:1
                    col = s.col + (3 if lit.long else 1) + (start - p_start)
                    return Span(s.file, s.line, col, s.line, col + (min(end, p_end) - start))
                return s
        return t.pieces[0][2].span if t.pieces else None

    # ---- prompts -------------------------------------------------------------

    def prompt(self, final: str, key: Key, outputs: list[str], unused: bool) -> ir.Prompt | None:
        decl: ast.Prompt = self.c.decl(key)
        module = self.c.modules[key.module]
        values, examples = settings_by_key(decl.settings, PROMPT_SETTINGS, "prompt", self.report, REPEATABLE)
        if "user" not in values:
            self.report("SDS026", f"prompt `{final}` has no `user` template", decl.name_span,
                        'add: user = "Write a review of a {product}."')
            return None
        out_set = set(outputs)
        templates = {}
        inputs: list[str] = []
        frags: list[str] = []
        for role in ("system", "user"):
            if role not in values:
                continue
            t = self.template(values[role].value, module, f"the {role} template of prompt `{final}`") if not isinstance(values[role].value, ast.RangeLit) else None
            if t is None:
                if isinstance(values[role].value, ast.RangeLit):
                    self.report("SDS007", f"`{role}` is a template string", values[role].span)
                return None
            fields = self.check_placeholders(t, f"the {role} template of `{final}`", out_set)
            inputs += [f for f in fields if f not in inputs]
            frags += [f for f in t.fragments if f not in frags]
            templates[role] = ir.Template(text=t.text, fields=tuple(fields), fragments=tuple(t.fragments))
        if unused:
            self.c.report(Diagnostic("SDS101", f"prompt `{final}` writes no field", decl.name_span,
                                     f"declare one: field body: text from {final}", severity="warning"))
        return ir.Prompt(
            name=final,
            system=templates.get("system"),
            user=templates["user"],
            examples=tuple(e for e in (self._example(s, set(inputs) | out_set, final) for s in examples) if e is not None),
            temperature=self._number(values.get("temperature"), 0, 2, integral=False),
            max_tokens=self._number(values.get("max_tokens"), 1, 1_000_000, integral=True),
            rows_per_call=self._rows_per_call(values.get("rows_per_call")),
            model=self._string(values.get("model")),
            inputs=tuple(inputs),
            outputs=tuple(outputs),
            real_examples=self._real_examples(values.get("examples"), final),
        )

    def _real_examples(self, s: ast.Setting | None, prompt: str) -> ir.RealExamples | None:
        """`examples = REFERENCE(K)`; the reference itself is checked with the reference (check.reference)."""
        if s is None:
            return None
        self.c.spans[f"examples:{prompt}"] = s.span
        v = s.value
        if isinstance(v, ast.Call) and len(v.args) == 1 and isinstance(v.args[0], ast.Lit) \
                and v.args[0].kind == "number" and v.args[0].value.denominator == 1 and 1 <= v.args[0].value <= 20:
            return ir.RealExamples(reference=v.fn, k=int(v.args[0].value))
        self.c.report(Diagnostic("SDS086", "`examples` takes real rows of the reference: REFERENCE(K), K from 1 to 20",
                                 s.span, "e.g. examples = real(3); write a literal example with `example = {...}`"))
        return None

    def _example(self, s: ast.Setting, allowed: set[str], prompt: str):
        if not isinstance(s.value, ast.ObjectLit):
            self.report("SDS007", "an example is an object: {field: value, ...}", s.span)
            return None
        out = {}
        for name, value in s.value.entries:
            if name not in allowed:
                self.report("SDS010", f"example of `{prompt}` names `{name}`, which the prompt neither reads nor writes",
                            _span(value), did_you_mean(name, allowed))
                continue
            v = _example_value(value)
            if v is None:
                self.report("SDS007", "example values are literals, lists or objects", _span(value))
                continue
            if not self._example_fits(name, v, value):
                continue
            out[name] = v
        return out

    def _example_fits(self, name: str, v, node) -> bool:
        """An example value must be one the field could hold: the right kind, a declared category value."""
        t = self.c.field_t(name)
        kind = {str: "string", bool: "bool", int: "number", float: "number", list: "list", dict: "object"}[type(v)]
        if t.kind == "error":
            return False
        if kind != t.kind:
            self.report("SDS012", f"example value {_show(v) if kind not in ('list', 'object') else 'a ' + kind} "
                                  f"does not fit {t.describe()}", _span(node))
            return False
        if t.values is not None and v not in t.values:
            self.report("SDS011", f"{_show(v)} is not a value of `{name}`", _span(node),
                        did_you_mean(str(v), [str(x) for x in t.values]))
            return False
        return True

    def _number(self, s: ast.Setting | None, lo, hi, integral: bool):
        if s is None:
            return None
        v = s.value
        if not (isinstance(v, ast.Lit) and v.kind == "number") or (integral and v.value.denominator != 1) \
                or not lo <= v.value <= hi:
            kind = "a whole number" if integral else "a number"
            self.report("SDS007", f"`{s.key}` takes {kind} from {lo} to {hi:,}", s.span)
            return None
        return int(v.value) if integral else float(v.value)

    def _rows_per_call(self, s: ast.Setting | None):
        if s is None or (isinstance(s.value, ast.Ref) and s.value.name == "auto"):
            return None
        return self._number(s, 1, 10_000, integral=True)

    def _string(self, s: ast.Setting | None):
        if s is None:
            return None
        if isinstance(s.value, ast.Lit) and s.value.kind == "string":
            return s.value.value
        self.report("SDS007", f"`{s.key}` takes a string", s.span)
        return None


def _example_value(e):
    if isinstance(e, ast.Lit):
        return literal_value(e)
    if isinstance(e, ast.Unary) and e.op == "-" and isinstance(e.operand, ast.Lit):
        v = _example_value(e.operand)
        return -v if isinstance(v, (int, float)) else None
    if isinstance(e, ast.ListLit):
        items = [_example_value(x) for x in e.items]
        return None if any(i is None for i in items) else items
    if isinstance(e, ast.ObjectLit):
        d = {k: _example_value(v) for k, v in e.entries}
        return None if any(v is None for v in d.values()) else d
    return None


def _span(e) -> Span:
    return e.span
