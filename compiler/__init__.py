"""synthc: a compiler for synthetic datasets.

The pipeline, one module per pass: syntax (text -> AST) -> check (AST -> IR) -> plan -> run -> validate -> emit.
The Python API (docs/API.md) is `synthc.check`, `plan`, `build`, `validate`, `evaluate`, `diff` (module `api`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .api import (Checked, Diagnostic, Diagnostics, Diff, Evaluation, Plan, Report, Result, SpecError,
                      SynthcError, UsageError, Validation, build, check, diff, evaluate, plan, validate)

_API = frozenset({"Checked", "Diagnostic", "Diagnostics", "Diff", "Evaluation", "Plan", "Report", "Result",
                  "SpecError", "SynthcError", "UsageError", "Validation", "build", "check", "diff", "evaluate",
                  "plan", "validate"})


def __getattr__(name: str):
    # The API loads every pass (and matplotlib for the reports); `synthc check` and `synthc fmt` start from this
    # package too, so it is loaded on first use of a name (PEP 562), not when the package is imported.
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'synthc' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
