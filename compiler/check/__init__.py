"""The checker: AST of a spec and its imports -> diagnostics and, when there are no errors, the IR.

It collects every error it can find in one run (it never stops at the first) and reports each once: an
expression that failed to check yields no IR and its parents stay quiet about it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .. import ast, ir
from ..diagnostics import Diagnostic, Sources, Span, did_you_mean, problem_diagnostic, sort_key
from . import feasible
from ..limits import MAX_DEF_NESTING, MAX_DERIVED_DEPTH, MAX_EXPR_NODES
from ..evaluation import EVAL
from .evaluation import EVAL_PER_HINTS, eval_bound_warnings
from .expansion import ExpansionSizer
from .exprs import AGGREGATE_ARITY, ERROR, MAX_DEF_DEPTH, ExprChecker, Scope, T, _show, aggregates_in, literal_value
from .types import t_of
from .fields import FIELD_ATTRS, GENERATED_ATTRS, SAMPLED_KINDS, FieldChecker, category_values_from
from .modules import Key, ModuleInfo, Program, load_program
from .header import check_header
from .joints import check_joint
from .judges import NOT_JUDGE, JudgeChecker
from .prompts import PromptChecker
from .reference import ReferenceChecker





@dataclass
class CheckResult:
    spec: ir.Spec | None
    diagnostics: list[Diagnostic]
    sources: Sources
    # where each named thing was declared, for passes that report on the IR: "field:NAME", "constraint:NAME",
    # "prompt:NAME", "joint:A,B", "dataset"
    spans: dict[str, Span] = field(default_factory=dict)
    is_module: bool = False  # checked as a module: no dataset header, so no IR

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)


def check_file(path: str | Path, display: str | None = None, module_ok: bool = False,
               targets: bool = False) -> CheckResult:
    """Parse, resolve imports and check one spec. With module_ok, a file without a dataset header is checked
    as a module (every declaration in it, no IR) instead of failing with SDS004. With targets, a spec that
    checks is also fitted as the planner fits it (SDS029, SDS030): `synthc check` asks for that; `plan` and
    `build` plan anyway, and report the same problems."""
    sources = Sources()
    prog = load_program(path, sources, display)
    if prog.root not in prog.modules:
        return CheckResult(None, sorted(prog.diagnostics, key=sort_key), sources)
    checker = Checker(prog, module_ok)
    spec = checker.run()
    diags = prog.diagnostics + checker.diagnostics
    if spec is not None and targets and not any(d.is_error for d in diags):
        from ..plan.targets import target_problems

        diags += [problem_diagnostic(p, checker.spans) for p in target_problems(spec)]
    diags = _dedupe(diags)
    ok = not any(d.is_error for d in diags)
    return CheckResult(spec if ok else None, diags, sources, checker.spans, checker.is_module)


def _dedupe(diags: list[Diagnostic]) -> list[Diagnostic]:
    seen = set()
    out = []
    for d in sorted(diags, key=sort_key):
        k = (d.code, d.message, d.span)
        if k not in seen:
            seen.add(k)
            out.append(d)
    return out


PER_VALUES = 1000  # a ranged int field groups rows by at most this many values


class Checker:
    def __init__(self, prog: Program, module_ok: bool = False):
        self.prog = prog
        self.is_module = module_ok and not any(isinstance(d, ast.Dataset) for d in prog.modules[prog.root].ast.decls)
        self.modules = prog.modules
        self.root: ModuleInfo = prog.modules[prog.root]
        self.diagnostics: list[Diagnostic] = []
        self.spans: dict[str, Span] = {}
        self.exprs = ExprChecker(self)
        self.sizer = ExpansionSizer(self)
        self._def_aggregates: dict[Key, bool] = {}
        self.fc = FieldChecker(self)
        self.pc = PromptChecker(self)
        self.jc = JudgeChecker(self)
        # What the dataset is made of: the root's own fields, prompts and constraints and those it imports.
        self.final_of: dict[Key, str] = {}
        self.included: dict[str, Key] = {}
        for local, (key, _) in self.root.scope.items():
            decl = self.decl(key)
            if isinstance(decl, (ast.Field, ast.Prompt, ast.Judge, ast.Constraint)):
                self.final_of[key] = local
                self.included[local] = key
        self.field_names = [n for n, k in self.included.items() if isinstance(self.decl(k), ast.Field)]
        self._types: dict[str, tuple[ir.Type, T] | None] = {}
        self._typing: list[str] = []
        self._derived: dict[str, ir.Expr | None] = {}
        self._joint_fields: set[str] = set()
        self._fields: dict[str, ir.Field] = {}
        self._def_aggregates: dict[Key, bool] = {}

    # ---- services for the sub-checkers ----------------------------------------

    def report(self, d: Diagnostic) -> None:
        self.diagnostics.append(d)

    def decl(self, key: Key):
        return self.modules[key.module].decls[key.name]

    def lookup(self, module: ModuleInfo, name: str):
        entry = module.scope.get(name)
        if entry is None:
            return None
        return entry[0], self.decl(entry[0])

    def final_name(self, key: Key, span: Span) -> str | None:
        final = self.final_of.get(key)
        if final is None:
            module = key.module
            source = f"std.{module[4:-4]}" if module.startswith("std/") else f'"{self._relative(module)}"'
            self.report(Diagnostic("SDS010", f"`{key.name}` (declared in {module}) is not part of this dataset",
                                   span, f"import it into the spec too: from {source} import {key.name}"))
        return final

    def _relative(self, module_id: str) -> str:
        """How the root spec would name a project module in an import: relative to its own folder."""
        import os
        target, root = self.modules[module_id].path, self.root.path
        if target is None or root is None:
            return module_id
        rel = Path(os.path.relpath(target.resolve(), root.resolve().parent)).as_posix()
        return rel if rel.startswith("..") else "./" + rel

    def fragment_text(self, key: Key) -> str | None:
        return self.pc.fragment_text(key)

    def has_target(self, name: str) -> bool:
        f = self._fields.get(name)
        return f is not None and f.role == "sampled" and f.categorical

    def field_t(self, final: str) -> T:
        typed = self.field_type(final)
        return typed[1] if typed else ERROR

    def field_type(self, final: str) -> tuple[ir.Type, T] | None:
        """A field's IR type and expression type; derived fields are typed from their expression, lazily."""
        if final in self._types:
            return self._types[final]
        key = self.included[final]
        decl: ast.Field = self.decl(key)
        if final in self._typing:
            chain = " -> ".join(self._typing[self._typing.index(final):] + [final])
            self.report(Diagnostic("SDS017", f"derived fields depend on each other in a cycle: {chain}",
                                   decl.name_span, "a derived field can read only fields that do not read it back"))
            return None
        if len(self._typing) >= MAX_DERIVED_DEPTH:
            self.report(Diagnostic("SDS032", f"derived fields read each other more than {MAX_DERIVED_DEPTH} deep "
                                             f"here (`{self._typing[0]}` -> ... -> `{final}`)", decl.name_span,
                                   "compute the value from fewer intermediate fields"))
            return None
        self._typing.append(final)
        if decl.expr is not None:
            result = self._derived_type(final, key, decl)
        else:
            typ = self.fc.type_of(decl.type)
            if typ.kind == "category" and typ.values is None:
                values = category_values_from(decl, self.fc, typ)
                typ = typ.model_copy(update={"values": values})
            t = t_of(typ, final)
            if typ.kind in ("int", "float") and isinstance(decl.dist, (ast.ShareTable, ast.Given)):
                keys = category_values_from(decl, self.fc, typ)
                finite = isinstance(decl.dist, ast.ShareTable) or all(
                    isinstance(c.dist, ast.ShareTable) for c in decl.dist.cases)
                if keys and finite:
                    t = T(t.kind, keys, final, t.integral)
            result = (typ, t)
        self._typing.pop()
        self._types[final] = result
        return result

    def _derived_type(self, final: str, key: Key, decl: ast.Field):
        scope = Scope(self.modules[key.module], {}, aggregates=False)
        e, t = self.exprs.check(decl.expr, scope) if self._expands_within_limit(decl.expr, scope.module) else (None, ERROR)
        self._derived[final] = e
        if e is None:
            return None
        if t.kind == "string":
            typ = ir.Type(kind="category", values=t.values) if t.values else ir.Type(kind="text")
        elif t.kind == "number":
            typ = ir.Type(kind="int" if t.integral else "float")
        elif t.kind in ("bool", "date"):
            typ = ir.Type(kind=t.kind)
        else:
            self.report(Diagnostic("SDS012", f"a derived field cannot be {t.describe()}", decl.expr.span))
            return None
        return typ, T(t.kind, t.values, final, t.integral)

    # ---- the run ---------------------------------------------------------------

    def run(self) -> ir.Spec | None:
        dataset = check_header(self)
        for mod in self.modules.values():
            if mod is not self.root:
                for d in mod.ast.decls:
                    if isinstance(d, (ast.Dataset, ast.Joint)):
                        kind = "a dataset header" if isinstance(d, ast.Dataset) else "a joint table"
                        self.report(Diagnostic("SDS004" if isinstance(d, ast.Dataset) else "SDS025",
                                               f"an imported module cannot declare {kind}", d.span,
                                               "keep it in the spec that imports the module"))
        joints_ast = [d for d in self.root.ast.decls if isinstance(d, ast.Joint)]
        for j in joints_ast:
            self._joint_fields.update(j.fields)
        for final in self.field_names:
            self._reserved(final)
            self.field_type(final)
        for final in self.field_names:
            f = self.field(final)
            if f is not None:
                self._fields[final] = f
        self._settle_categorical()
        joints = [j for j in (check_joint(self, j) for j in joints_ast) if j is not None]
        prompts = self.prompts()
        fields = self._with_prompt_deps(prompts)
        judges = [j for j in (self.jc.judge(n, k) for n, k in self.included.items()
                              if isinstance(self.decl(k), ast.Judge)) if j is not None]
        constraints = [c for c in (self.constraint(n, k) for n, k in self.included.items()
                                   if isinstance(self.decl(k), ast.Constraint)) if c is not None]
        self.jc.unused()
        for name, key in self.included.items():
            self.spans[f"{_kind(self.decl(key))}:{name}"] = self.decl(key).name_span
        for j in joints_ast:
            self.spans[f"joint:{','.join(j.fields)}"] = j.span
        feasible.check_cycles(self, fields)
        feasible.check_derived_depth(self, fields)
        reference, ref_ok = ReferenceChecker(self).run(fields, prompts, dataset.seed if dataset else 0)
        if any(d.is_error for d in self.diagnostics + self.prog.diagnostics) or dataset is None or not ref_ok:
            return None
        feasible.check_constraints(self, fields, constraints)
        fragments = {}
        for name, (key, _) in sorted(self.root.scope.items()):
            if isinstance(self.decl(key), ast.Fragment):
                text = self.fragment_text(key)
                if text is not None:
                    fragments[name] = text
        return ir.Spec(dataset=dataset, fields=tuple(fields), joints=tuple(joints), prompts=tuple(prompts),
                       constraints=tuple(constraints), fragments=fragments, reference=reference,
                       judges=tuple(judges))

    def _reserved(self, final: str) -> None:
        """Field names starting with `_` are the columns synthc adds (`_id`, `_origin`): a field of that name
        would be overwritten in the dataset, or overwrite them (LANGUAGE.md, "Names and keywords")."""
        if final.startswith("_"):
            decl = self.decl(self.included[final])
            what = {"_id": "the row id", "_origin": "whether a row is real or synthetic"}.get(final)
            self.report(Diagnostic(
                "SDS033", f"`{final}` is a reserved name" + (f": the dataset's `{final}` column holds {what}"
                                                              if what else ": names starting with `_` are "
                                                              "the columns synthc adds"),
                decl.name_span, f"rename the field, e.g. `{final.lstrip('_') or 'value'}`"))

    # ---- dataset header --------------------------------------------------------

    def field(self, final: str) -> ir.Field | None:
        key = self.included[final]
        decl: ast.Field = self.decl(key)
        typed = self._types.get(final)
        if typed is None:
            return None
        typ, _ = typed
        where = f"`{final}`"
        if decl.expr is not None:
            desc, _ = self.fc.attrs(decl.attrs, FIELD_ATTRS, where)
            e = self._derived.get(final)
            if e is None:
                return None
            deps = sorted(e.refs())
            categorical = typ.values is not None and all(self._is_categorical(d) for d in deps)
            return ir.Field(name=final, role="derived", type=typ, expr=e, description=desc,
                            categorical=categorical, depends_on=tuple(deps))
        if decl.source is not None:
            return self._generated(final, key, decl, typ)
        if typ.kind not in SAMPLED_KINDS:
            self.report(Diagnostic("SDS027", f"{where} is a `{typ.kind}`: it is written by a prompt",
                                   decl.type.span, f"add `from PROMPT`, e.g. field {final}: {typ.kind} from writer"))
            return None
        desc, _ = self.fc.attrs(decl.attrs, FIELD_ATTRS, where)
        in_joint = final in self._joint_fields
        if isinstance(decl.dist, ast.Given):
            return self._conditional(final, key, decl, typ, desc)
        if decl.dist is not None:
            dist = self.fc.dist(decl.dist, typ, where)
            if dist is None:
                return None
        else:
            dist = self._default_dist(final, decl, typ, in_joint)
            if dist is False:
                return None
        if typ.kind in ("int", "float", "date") and decl.type.range is None:
            self.report(Diagnostic("SDS014", f"{where} needs a range", decl.type.span,
                                   f"e.g. field {final}: {typ.kind} in " + ("2024-01-01..2024-12-31" if typ.kind == "date" else "0..100")))
            return None
        categorical = in_joint or (dist is not None and dist.kind == "shares")
        return ir.Field(name=final, role="sampled", type=typ, dist=dist, description=desc, categorical=categorical)

    def _default_dist(self, final, decl, typ: ir.Type, in_joint: bool):
        if in_joint and typ.kind in ("category", "bool"):
            return None
        if typ.kind == "category":
            if not typ.values:
                self.report(Diagnostic("SDS015", f"category `{final}` has no values", decl.type.span,
                                       'list them with shares: category ~ {"a": 50%, "b": 50%}'))
                return False
            n = len(typ.values)
            return ir.Dist(kind="shares", shares=tuple(ir.Share(value=v, share=1 / n) for v in typ.values),
                           declared=False)
        if typ.kind == "bool":
            return ir.Dist(kind="shares", shares=(ir.Share(value=True, share=0.5), ir.Share(value=False, share=0.5)),
                           declared=False)
        return ir.Dist(kind="uniform", declared=False)

    def _settle_categorical(self) -> None:
        """A derived field with finite values over categorical fields is categorical too, whatever the order
        the fields were declared (or imported) in: repeat until nothing changes."""
        changed = True
        while changed:
            changed = False
            for name, f in self._fields.items():
                if f.role == "derived" and not f.categorical and f.type.values is not None \
                        and all(self._is_categorical(d) for d in f.depends_on):
                    self._fields[name] = f.model_copy(update={"categorical": True})
                    changed = True

    def _is_categorical(self, name: str) -> bool:
        f = self._fields.get(name)
        return f is not None and f.categorical

    def _conditional(self, final, key, decl: ast.Field, typ: ir.Type, desc) -> ir.Field | None:
        given: ast.Given = decl.dist
        module = self.modules[key.module]
        found = self.lookup(module, given.field)
        if found is None or not isinstance(found[1], ast.Field):
            self.report(Diagnostic("SDS010", f"undefined field `{given.field}`", given.field_span,
                                   did_you_mean(given.field, self.field_names)))
            return None
        on = self.final_name(found[0], given.field_span)
        if on is None:
            return None
        if on == final:
            self.report(Diagnostic("SDS017", f"`{final}` cannot be given itself", given.field_span))
            return None
        on_typed = self.field_type(on)
        if on_typed is None:
            return None
        on_type = on_typed[0]
        on_values = on_type.values if on_type.kind in ("category", "enum") else (
            (True, False) if on_type.kind == "bool" else None)
        on_decl = self.decl(self.included[on])
        if on_values is None and isinstance(on_decl.dist, ast.ShareTable):
            on_values = tuple(e.key.value if e.key.kind != "number" else int(e.key.value)
                              if e.key.value.denominator == 1 else float(e.key.value) for e in on_decl.dist.entries)
        if on_values is None or on_decl.source is not None or on_decl.expr is not None:
            self.report(Diagnostic("SDS024", f"`{final}` can be given a sampled categorical field only; `{on}` is not one",
                                   given.field_span))
            return None
        cases = []
        seen = set()
        ok = True
        for case in given.cases:
            v = literal_value(case.key)
            if v not in on_values:
                self.report(Diagnostic("SDS011", f"{_show(v)} is not a value of `{on}`", case.key.span,
                                       did_you_mean(str(v), [str(x) for x in on_values])))
                ok = False
                continue
            if v in seen:
                self.report(Diagnostic("SDS005", f"case {_show(v)} is given twice", case.key.span))
                ok = False
                continue
            seen.add(v)
            declared = decl.type.values is not None or typ.kind != "category"
            d = self.fc.dist(case.dist, typ, f"`{final}` given {on} = {_show(v)}", declared)
            if d is None:
                ok = False
                continue
            cases.append(ir.Case(when=v, dist=d))
        missing = [v for v in on_values if v not in seen]
        if ok and missing:
            self.report(Diagnostic("SDS024", f"`{final}` has no distribution for {on} = "
                                             f"{', '.join(_show(v) for v in missing)}", given.span,
                                   "add a case for every value of " + on))
            ok = False
        if not ok:
            return None
        if typ.kind in ("int", "float", "date") and typ.low is None and any(c.dist.kind != "shares" for c in cases):
            self.report(Diagnostic("SDS014", f"`{final}` needs a range", decl.type.span))
            return None
        finite = all(c.dist.kind == "shares" for c in cases)
        return ir.Field(name=final, role="sampled", type=typ, description=desc, categorical=finite,
                        given=ir.Conditional(on=on, cases=tuple(cases)), depends_on=(on,))

    def _generated(self, final, key, decl: ast.Field, typ: ir.Type) -> ir.Field | None:
        module = self.modules[key.module]
        found = self.lookup(module, decl.source)
        if found is None or not isinstance(found[1], ast.Prompt):
            prompts = [n for n, (k, _) in module.scope.items() if isinstance(self.decl(k), ast.Prompt)]
            what = "undefined prompt" if found is None else "not a prompt:"
            self.report(Diagnostic("SDS010", f"{what} `{decl.source}`", decl.source_span,
                                   did_you_mean(decl.source, prompts)))
            return None
        prompt = self.final_name(found[0], decl.source_span)
        if prompt is None:
            return None
        if decl.dist is not None:
            self.report(Diagnostic("SDS027", f"`{final}` is written by a prompt; it cannot also have a distribution",
                                   getattr(decl.dist, "span", decl.span),
                                   "to steer a generated value, constrain it or sample an input field the prompt reads"))
            return None
        if typ.kind == "category" and not typ.values:
            self.report(Diagnostic("SDS027", f"generated category `{final}` needs its values: category [\"a\", \"b\"]",
                                   decl.type.span))
            return None
        desc, hints = self.fc.attrs(decl.attrs, GENERATED_ATTRS, f"`{final}`")
        if not self.fc.hints_fit(hints, typ.kind, f"`{final}`", decl.name_span):
            return None
        return ir.Field(name=final, role="generated", type=typ, prompt=prompt, description=desc, hints=hints)

    def _with_prompt_deps(self, prompts: list[ir.Prompt]) -> list[ir.Field]:
        inputs = {p.name: p.inputs for p in prompts}
        out = []
        for final in self.field_names:
            f = self._fields.get(final)
            if f is None:
                continue
            if f.role == "generated" and f.prompt in inputs:
                f = f.model_copy(update={"depends_on": tuple(sorted(inputs[f.prompt]))})
            out.append(f)
            self._fields[final] = f
        return out

    # ---- joints, prompts, constraints ------------------------------------------

    def _expands_within_limit(self, expr, module: ModuleInfo) -> bool:
        """Whether the expression stays within MAX_EXPR_NODES once its defs are inlined (SDS094 if not),
        measured before anything is inlined."""
        if self.sizer.size(expr, module) <= MAX_EXPR_NODES:
            nesting = self.sizer.nesting(expr, module)
            if nesting <= MAX_DEF_NESTING:
                return True
            call, _ = self.sizer.largest_call(expr, module, self.sizer.nesting)
            self.report(Diagnostic("SDS094", f"predicates nest {nesting} calls deep here; the limit is "
                                             f"{MAX_DEF_NESTING}", call.span if call is not None else expr.span,
                                   "flatten the chain: a predicate can call several others side by side"))
            return False
        call, n = self.sizer.largest_call(expr, module)
        where = call.span if call is not None else expr.span
        what = f"`{call.fn}(...)`" if call is not None else "the expression"
        self.report(Diagnostic("SDS094", f"{what} expands to {_count(n)} nodes once its predicates are inlined; the "
                                         f"limit is {MAX_EXPR_NODES:,}", where,
                               "a predicate that calls another twice doubles at every level: compute the repeated "
                               "part once, in a derived field"))
        return False

    def _mentions_aggregate(self, e, module: ModuleInfo, seen: tuple) -> bool:
        """Whether an expression calls an aggregate anywhere, looking into the defs it calls: this decides a
        constraint's level before it is checked."""
        if isinstance(e, ast.Call):
            if e.fn in AGGREGATE_ARITY:
                return True
            found = self.lookup(module, e.fn)
            if found is not None and isinstance(found[1], ast.Def) and found[0] not in seen \
                    and len(seen) < MAX_DEF_DEPTH:  # deeper chains are SDS032 where the checker expands them
                key = found[0]
                if key not in self._def_aggregates:  # once per def: a def calling another twice doubles
                    self._def_aggregates[key] = self._mentions_aggregate(found[1].expr, self.modules[key.module],
                                                                         seen + (key,))
                if self._def_aggregates[key]:
                    return True
            return any(self._mentions_aggregate(a, module, seen) for a in e.args)
        if isinstance(e, ast.ListLit):
            return any(self._mentions_aggregate(a, module, seen) for a in e.items)
        for child in ("left", "right", "operand", "value", "low", "high", "cond", "then", "otherwise", "items"):
            c = getattr(e, child, None)
            if c is not None and not isinstance(c, (str, bool)) and self._mentions_aggregate(c, module, seen):
                return True
        return False

    def prompts(self) -> list[ir.Prompt]:
        named = set()  # prompts some field declaration names with `from`, whether or not that field checked
        for key in self.included.values():
            d = self.decl(key)
            if isinstance(d, ast.Field) and d.source is not None:
                found = self.lookup(self.modules[key.module], d.source)
                if found is not None:
                    named.add(self.final_of.get(found[0]))
        out = []
        for final, key in self.included.items():
            if isinstance(self.decl(key), ast.Prompt):
                outputs = [f.name for f in self._fields.values() if f.role == "generated" and f.prompt == final]
                p = self.pc.prompt(final, key, outputs, unused=final not in named)
                if p is not None:
                    out.append(p)
        return out

    def constraint(self, final: str, key: Key) -> ir.Constraint | None:
        decl: ast.Constraint = self.decl(key)
        judged = self.jc.constraint(final, key)
        if judged is not NOT_JUDGE:
            if decl.per and judged is not None:  # a judge constraint is row-level: it holds on every row
                return self._per(decl, final, "row", judged.expr, self.modules[key.module])
            return judged
        module = self.modules[key.module]
        if not self._expands_within_limit(decl.expr, module):
            return None
        scope = Scope(module, {}, aggregates=self._mentions_aggregate(decl.expr, module, ()))
        e, t = self.exprs.check(decl.expr, scope)
        if e is None:
            return None
        if t.kind != "bool":
            self.report(Diagnostic("SDS012", f"constraint `{final}` must be a condition, found {t.describe()}",
                                   decl.expr.span, "e.g. word_count(body) >= 40"))
            return None
        kind = "dataset" if aggregates_in(e) else "row"
        per = self._per(decl, final, kind, e, module)
        if per is None:
            return None
        for message, hint in eval_bound_warnings(e):
            self.report(Diagnostic("SDS163", message, decl.expr.span, hint, severity="warning"))
        return ir.Constraint(name=final, kind=kind, expr=e, fields=tuple(sorted(e.refs() | set(per))), per=per)

    def _per(self, decl: ast.Constraint, final: str, kind: str, e: ir.Expr, module) -> tuple[str, ...] | None:
        """The fields of `per A, B` (LANGUAGE.md, "Per stratum"), or None after reporting why they cannot be."""
        if not decl.per:
            return ()
        span = decl.per[0].span.to(decl.per[-1].span)
        if kind == "row":
            self.report(Diagnostic("SDS061", f"`per` needs a dataset-level constraint; `{final}` is a row "
                                   "constraint, which already holds on every row", span, "drop `per`"))
            return None
        evals = sorted({c.fn for c in e.walk() if c.kind == "call" and c.fn in EVAL})
        if evals:
            self.report(Diagnostic("SDS162", f"`{evals[0]}` takes no `per`", span, EVAL_PER_HINTS[evals[0]]))
            return None
        banned = sorted({c.fn for c in e.walk() if c.kind == "call" and c.fn in ("tvd", "drift", "unique", "near_unique")})
        if banned:
            hint = {"tvd": "a target per group is a `given` table", "drift": "a target per group is a `given` table",
                    "unique": "uniqueness within a group is unique(group_field, text)",
                    "near_unique": "near-copies are rejected across the whole dataset: drop `per`"}[banned[0]]
            self.report(Diagnostic("SDS062", f"`{banned[0]}` takes no `per`", span, hint))
            return None
        out = []
        for ref in decl.per:
            got, t = self.exprs.check(ref, Scope(module, {}, aggregates=False))
            if got is None:
                return None
            typed = self.field_type(got.field) if got.kind == "ref" else None
            typ = typed[0] if typed else None
            count = _per_values(typ)
            if count is None:
                self.report(Diagnostic("SDS060", f"`per {ref.name}`: {t.describe()} has no finite set of values "
                                       "to group rows by", ref.span,
                                       f"group by a category, enum, bool or ranged int field of at most "
                                       f"{PER_VALUES:,} values"))
                return None
            if count > PER_VALUES:
                self.report(Diagnostic("SDS060", f"`per {ref.name}`: {'an' if typ.kind[0] in 'aeiou' else 'a'} {typ.kind} field of "
                                       f"{_count(count)} values; "
                                       f"`per` groups rows by at most {PER_VALUES:,} values", ref.span,
                                       "group by a field of fewer values: a coarser category, or a derived band "
                                       "(`field band = ...`) of this one"))
                return None
            out.append(got.field)
        return tuple(dict.fromkeys(out))




def _per_values(typ) -> int | None:
    """How many values a `per` field groups rows by; None when its type has no finite set of them."""
    if typ is None:
        return None
    if typ.kind == "bool":
        return 2
    if typ.kind in ("category", "enum"):
        return len(typ.values or ())
    if typ.kind == "int" and typ.low is not None and typ.high is not None:
        return int(typ.high) - int(typ.low) + 1
    return None


def _count(n: int) -> str:
    """A count for a message: 1,234,567, or 2^40 and more digits than a message should hold."""
    return f"{n:,}" if n < 10**15 else f"about 2^{n.bit_length() - 1}"


def _kind(decl) -> str:
    return {ast.Field: "field", ast.Prompt: "prompt", ast.Judge: "judge", ast.Constraint: "constraint"}[type(decl)]
