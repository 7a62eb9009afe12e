"""synthc: a compiler for synthetic datasets.

The pipeline, one module per pass: syntax (text -> AST) -> check (AST -> IR) -> plan -> run -> validate -> emit.
The Python API (docs/API.md) is the module `synthc.api` (check, plan, build, validate, evaluate, diff); `build`,
the result types and the errors are importable from here too (check, plan, ... are the names of passes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .version import __version__

if TYPE_CHECKING:
    from .api import (Checked, Diagnostics, Diff, Evaluation, Plan, Report, Result, SpecError, SynthcError,
                      UsageError, Validation, build)

_API = frozenset({"Checked", "Diagnostics", "Diff", "Evaluation", "Plan", "Report", "Result", "SpecError",
                  "SynthcError", "UsageError", "Validation", "build"})


def __getattr__(name: str):
    # The API loads every pass (and scikit-learn for the checks); `synthc check` and `synthc fmt` start from this
    # package too, so it is loaded on first use of a name (PEP 562), not when the package is imported.
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'synthc' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
