"""`synthc plan`: the plan exactly as `synthc build` would make it (the synthc.toml profile, the lock's acceptance
rates), offline and without a key; with the cache, what round 1 of this build will spend now (generate.predict);
with `emit_batch`, round 1's new calls in the OpenAI Batch API format."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..check import CheckResult, check_file
from ..diagnostics import Diagnostic, problem_diagnostic
from ..emit.paths import file_problem
from ..exits import EXIT_ERROR, EXIT_OK
from ..plan import Plan
from ..plan.model import PLAN_VERSION
from ..run.batches import write_manifest


@dataclass
class Planned:
    """What `synthc plan` found: exit_code; diagnostics to show (check and planner problems); message: an error
    that is no diagnostic (no endpoint, a bad synthc.toml); the plan and `this_build` (None: the plan's own
    figures are the build's); batch: requests written to `emit_batch`."""

    exit_code: int
    checked: CheckResult
    diagnostics: list[Diagnostic] = field(default_factory=list)
    message: Optional[str] = None
    plan: Optional[Plan] = None
    this_build: Optional[dict] = None
    cache_root: Optional[Path] = None
    batch: Optional[int] = None

    def to_json_dict(self) -> dict:
        """The `synthc plan --json` object."""
        out = {"plan_version": PLAN_VERSION, **self.plan.to_json_dict()}
        if self.this_build is not None:
            out["this_build"] = self.this_build
        return out


def plan_spec(spec_path: str, endpoint: Optional[str] = None, model: Optional[str] = None,
              emit_batch: Optional[str] = None) -> Planned:
    checked = check_file(spec_path, spec_path)
    if not checked.ok:
        return Planned(EXIT_ERROR, checked, list(checked.diagnostics))
    from ..generate.predict import batch_lines, this_build, write_batch
    from .build import BuildOptions, BuildResult, prepare

    prep = prepare(checked.spec, Path(spec_path), BuildOptions(offline=True, endpoint=endpoint, model=model))
    if isinstance(prep, BuildResult):
        if not prep.problems:
            return Planned(prep.exit_code, checked, message=prep.message)
        problems = [problem_diagnostic(p, checked.spans) for p in prep.problems]
        return Planned(EXIT_ERROR, checked, list(checked.diagnostics) + problems)
    out = Planned(EXIT_OK, checked, list(checked.diagnostics), plan=prep.plan, cache_root=prep.cache.root)
    if emit_batch:
        unwritable = file_problem(Path(emit_batch))
        if unwritable:
            return Planned(EXIT_ERROR, checked, message=f"--emit-batch: {unwritable}")
        lines = batch_lines(checked.spec, prep.plan, prep.endpoint.identity, prep.cache, new_only=True)
        out.batch = write_batch(lines, emit_batch)
        write_manifest(prep.cache.root, prep.endpoint.identity, prep.endpoint.model, lines)  # for `ingest`
    out.this_build = this_build(checked.spec, prep.plan, prep.endpoint.identity, prep.cache)
    return out
