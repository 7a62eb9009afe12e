"""The problems the planner would meet in a spec's targets, for `synthc check` (check.check_file with targets):
the allocation's (SDS029, SDS030) and, unless the spec completes real data, the targets the rounded rows cannot
reach (SDS035). Above both allocate.py and complete.py, which it reads."""

from __future__ import annotations

from .. import ir
from .allocate import _allocated
from .complete import completing
from .model import PlanProblem
from .reach import unreachable


def target_problems(spec: ir.Spec) -> list[PlanProblem]:
    """The problems `build_plan` would meet in the targets (SDS029, SDS030, and SDS035 for a `tvd` bound the
    rounded rows break): `synthc check` reports them, so a spec the planner rejects cannot pass the
    pre-commit hook."""
    alloc = _allocated(spec)
    return alloc.problems or ([] if completing(spec) else unreachable(spec, alloc.marginals))
