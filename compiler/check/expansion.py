"""The size of an expression once its `def` predicates are inlined, computed without inlining them.

A def's expanded size is an affine function of the sizes of its arguments: `def d(x, y) = x > 1 and f(y, y)`
has size c + a*|x| + b*|y|, where a and b count how often each parameter ends up in the expansion. That
function is computed once per def (memoised, so the work is linear in the spec) and composed at each call,
so `def d39(x) = d38(x) and d38(x)` is known to expand to about 2^40 nodes in 40 steps, and the checker
refuses it (SDS094) before building any of it. Python ints keep the counts exact however large. How deep
the def calls nest is computed the same way, in max-plus form, and bounded too: each level of inlining costs
the checker stack frames, so a chain of 200 predicates would exhaust them with no position to report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import ast
from .modules import Key

if TYPE_CHECKING:
    from . import Checker
    from .modules import ModuleInfo

# Size: (constant, coefficient per parameter of the def being measured): c + sum(k_i * |arg_i|).
Affine = tuple[int, tuple[int, ...]]
# Nesting, in max-plus form: max(c, max(k_i + nesting(arg_i))) over the parameters used (k_i not None).
MaxPlus = tuple[int, tuple[int | None, ...]]


def _children(e) -> list:
    if isinstance(e, ast.BinOp):
        return [e.left, e.right]
    if isinstance(e, ast.Unary):
        return [e.operand]
    if isinstance(e, ast.Dot):
        return [e.obj]
    if isinstance(e, ast.InList):
        return [e.value, e.items]
    if isinstance(e, ast.InRange):
        return [e.value, e.low, e.high]
    if isinstance(e, ast.If):
        return [e.cond, e.then, e.otherwise]
    if isinstance(e, ast.ListLit):
        return list(e.items)
    if isinstance(e, ast.ObjectLit):
        return [v for _, v in e.entries]
    if isinstance(e, ast.Call):
        return list(e.args)
    return []


class ExpansionSizer:
    def __init__(self, checker: "Checker"):
        self.c = checker
        self._defs: dict[Key, tuple[Affine, MaxPlus]] = {}

    def size(self, expr, module: "ModuleInfo") -> int:
        """Nodes of the expression after every def call in it is inlined."""
        return self._forms(expr, module, ())[0][0]

    def nesting(self, expr, module: "ModuleInfo") -> int:
        """How many def calls deep the inlined expression goes (each level costs the checker stack frames)."""
        return self._forms(expr, module, ())[1][0]

    def largest_call(self, expr, module: "ModuleInfo", measure=None):
        """The def call in the expression with the largest expansion by `measure` (where to point a diagnostic)."""
        measure = measure or self.size
        best, best_size = None, -1
        stack = [expr]
        while stack:
            e = stack.pop()
            if isinstance(e, ast.Call):
                found = self.c.lookup(module, e.fn)
                if found is not None and isinstance(found[1], ast.Def):
                    n = measure(e, module)
                    if n > best_size:
                        best, best_size = e, n
            stack.extend(_children(e))
        return best, best_size

    def _forms(self, e, module: "ModuleInfo", params: tuple[str, ...]) -> tuple[Affine, MaxPlus]:
        n = len(params)
        if isinstance(e, ast.Ref) and e.name in params:
            return (0, tuple(int(p == e.name) for p in params)), (0, tuple(0 if p == e.name else None for p in params))
        if isinstance(e, ast.Call):
            found = self.c.lookup(module, e.fn) if e.fn not in params else None
            if found is not None and isinstance(found[1], ast.Def) and len(found[1].params) == len(e.args):
                (const, coef), (nconst, ncoef) = self._def(found[0])
                args = [self._forms(a, module, params) for a in e.args]
                size = (const + sum(k * a[0][0] for k, a in zip(coef, args)),
                        tuple(sum(k * a[0][1][i] for k, a in zip(coef, args)) for i in range(n)))
                # the arguments are inlined where the callee reads its parameters: one level deeper
                deepest = max([nconst] + [k + a[1][0] for k, a in zip(ncoef, args) if k is not None])
                per_param = []
                for i in range(n):
                    via = [k + a[1][1][i] for k, a in zip(ncoef, args) if k is not None and a[1][1][i] is not None]
                    per_param.append(1 + max(via) if via else None)
                return size, (1 + deepest, tuple(per_param))
        const, coef = 1, [0] * n
        nconst, ncoef = 0, [None] * n
        for child in _children(e):
            (c, k), (nc, nk) = self._forms(child, module, params)
            const += c
            coef = [x + y for x, y in zip(coef, k)]
            nconst = max(nconst, nc)
            ncoef = [y if x is None else x if y is None else max(x, y) for x, y in zip(ncoef, nk)]
        return (const, tuple(coef)), (nconst, tuple(ncoef))

    def _def(self, key: Key) -> tuple[Affine, MaxPlus]:
        if key not in self._defs:
            # Every def reachable from this one, callees first, found without recursion: a chain of a thousand
            # predicates must not exhaust the stack before it can be reported.
            order, seen, stack = [], set(), [(key, False)]
            while stack:
                k, done = stack.pop()
                if done:
                    order.append(k)
                    continue
                if k in self._defs or k in seen:
                    continue
                seen.add(k)
                stack.append((k, True))
                stack.extend((callee, False) for callee in self._callees(k))
            for k in order:  # a def that calls itself counts as a leaf here; the checker reports it (SDS017)
                n = len(self.c.decl(k).params)
                self._defs[k] = ((1, (0,) * n), (0, (None,) * n))
            for k in order:
                d: ast.Def = self.c.decl(k)
                self._defs[k] = self._forms(d.expr, self.c.modules[k.module], tuple(d.params))
        return self._defs[key]

    def _callees(self, key: Key) -> list[Key]:
        d: ast.Def = self.c.decl(key)
        module = self.c.modules[key.module]
        out, stack = [], [d.expr]
        while stack:
            e = stack.pop()
            if isinstance(e, ast.Call) and e.fn not in d.params:
                found = self.c.lookup(module, e.fn)
                if found is not None and isinstance(found[1], ast.Def):
                    out.append(found[0])
            stack.extend(_children(e))
        return out
