"""The settings of a block (`prompt`, `judge`, `reference`): each by its key, unknown and repeated keys reported."""

from __future__ import annotations

from typing import Callable, Collection, Iterable

from .. import ast
from ..diagnostics import did_you_mean


def settings_by_key(settings: Iterable[ast.Setting], allowed: Collection[str], what: str, report: Callable,
                    repeatable: Collection[str] = ()) -> tuple[dict[str, ast.Setting], list[ast.Setting]]:
    """({key: setting}, the settings of `repeatable` keys in order). An unknown key is SDS006 (with a
    did-you-mean or the list of `what` settings), a key given twice SDS005; both are left out."""
    values: dict[str, ast.Setting] = {}
    repeated: list[ast.Setting] = []
    for s in settings:
        if s.key not in allowed:
            report("SDS006", f"unknown {what} setting `{s.key}`", s.key_span,
                   did_you_mean(s.key, allowed) or f"settings: {', '.join(sorted(allowed))}")
        elif s.key in repeatable:
            repeated.append(s)
        elif s.key in values:
            report("SDS005", f"setting `{s.key}` is given twice", s.key_span)
        else:
            values[s.key] = s
    return values, repeated
