"""The size of an expression once its `def` predicates are inlined, computed without inlining them.

A def's expanded size is an affine function of the sizes of its arguments: `def d(x, y) = x > 1 and f(y, y)`
has size c + a*|x| + b*|y|, where a and b count how often each parameter ends up in the expansion. That
function is computed once per def (memoised, so the work is linear in the spec) and composed at each call,
so `def d39(x) = d38(x) and d38(x)` is known to expand to about 2^40 nodes in 40 steps, and the checker
refuses it (SDS094) before building any of it. Python ints keep the counts exact however large.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import ast
from .modules import Key

if TYPE_CHECKING:
    from . import Checker
    from .modules import ModuleInfo

# (constant, coefficient per parameter of the def being measured)
Affine = tuple[int, tuple[int, ...]]


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
        self._defs: dict[Key, Affine] = {}

    def size(self, expr, module: "ModuleInfo") -> int:
        """Nodes of the expression after every def call in it is inlined."""
        return self._affine(expr, module, ())[0]

    def largest_call(self, expr, module: "ModuleInfo"):
        """The def call in the expression whose expansion is largest (where to point a diagnostic)."""
        best, best_size = None, -1
        stack = [expr]
        while stack:
            e = stack.pop()
            if isinstance(e, ast.Call):
                found = self.c.lookup(module, e.fn)
                if found is not None and isinstance(found[1], ast.Def):
                    n = self.size(e, module)
                    if n > best_size:
                        best, best_size = e, n
            stack.extend(_children(e))
        return best, best_size

    def _affine(self, e, module: "ModuleInfo", params: tuple[str, ...]) -> Affine:
        zero = (0,) * len(params)
        if isinstance(e, ast.Ref) and e.name in params:
            return 0, tuple(int(p == e.name) for p in params)
        if isinstance(e, ast.Call):
            found = self.c.lookup(module, e.fn) if e.fn not in params else None
            if found is not None and isinstance(found[1], ast.Def) and len(found[1].params) == len(e.args):
                const, coef = self._def(found[0])
                args = [self._affine(a, module, params) for a in e.args]
                total_const = const + sum(k * a[0] for k, a in zip(coef, args))
                total_coef = tuple(sum(k * a[1][i] for k, a in zip(coef, args)) for i in range(len(params)))
                return total_const, total_coef
        const, coef = 1, list(zero)
        for child in _children(e):
            c, k = self._affine(child, module, params)
            const += c
            coef = [x + y for x, y in zip(coef, k)]
        return const, tuple(coef)

    def _def(self, key: Key) -> Affine:
        if key not in self._defs:
            d: ast.Def = self.c.decl(key)
            self._defs[key] = (1, (0,) * len(d.params))  # a def that calls itself counts 1 here (SDS017 later)
            self._defs[key] = self._affine(d.expr, self.c.modules[key.module], tuple(d.params))
        return self._defs[key]
