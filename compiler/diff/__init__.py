"""`synthc diff`: what a change to a spec does to the data and what it will cost, for a pull-request review.

Parts:
  revision  the spec at a git revision, copied to a temporary folder with git (working tree untouched)
  spec      the semantic diff of the two IRs (SpecDiff): fields, distributions, joints, prompts, fragments,
            constraints added, removed, renamed or changed, in the language's own terms
  plan      the plan delta (PlanDelta): rows per stratum before/after, rows dropped and added, round-1 calls
            the cache already answers vs new ones (generate.predict replays round 1 with the build's engine), their cost
  data      the dataset delta of two build folders (DataDelta): rows by `_id`, marginal shifts, checks
  (shown by synthc.render.diff: GitHub markdown for a PR comment, a rich terminal view, the JSON object)

Each side is planned as `synthc build` plans it (tasks.build.prepare): the lock beside the spec on that side
sizes the spares, synthc.toml on that side picks the profile, and cache keys name the endpoint by the same
identity (`embedded` for the embedded model, else the base URL). Pass the build's --endpoint/--model so the
keys match the ones the build will ask.

CLI contract (to wire in cli.py; tests/diff/test_diff_cli.py runs once it is):

  synthc diff OLD.sds NEW.sds   [options]      -> diff_files(OLD, NEW, **opts)
  synthc diff SPEC --base REV   [options]      -> diff_revision(SPEC, REV, **opts)
  options:
    --json | --markdown           (exclusive) the JSON object / GitHub markdown; default: the rich view
    --old-build DIR --new-build DIR   dataset delta of two build folders (both or neither)
    --cache DIR                   answer cache to consult (default: $SYNTHC_CACHE, else .synthc/ beside the
                                  new spec, as the build)
    --endpoint URL --model NAME   as in `synthc build`, so cache keys match the build's
  opts = dict(cache_dir=args.cache, old_build=args.old_build, new_build=args.new_build, endpoint=args.endpoint,
              model=args.model)

  stdout: `--json` json.dumps(to_json_dict(result), indent=2, sort_keys=True, ensure_ascii=False);
  `--markdown` to_markdown(result); otherwise render(result, Console(highlight=False)). The output is printed
  even when a side has errors (the JSON carries `diagnostics`, the markdown says so), so CI can post it.
  stderr: each side's diagnostics (errors and warnings), headed `in {side.label}:`, through
  emit_diagnostics(side.diagnostics, side.check.sources, "text").
  Exit codes: 0 when both sides check and plan, changed or not (a diff is information, not a failure);
  2 when a side has errors (result.ok is False), on DiffError (print `synthc: error: {e.message}`: not a git
  repository, unknown revision, a build folder without its dataset, only one of --old-build/--new-build, the
  spec on neither side), and for a wrong number of paths (two without --base, one with it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .. import ir
from ..check import CheckResult, check_file
from ..diagnostics import Diagnostic, problem_diagnostic
from ..plan import Plan
from ..run.cache import AnswerCache
from .data import DataDelta, data_delta
from .plan import PlanDelta, plan_delta
from .revision import DiffError, materialise
from .spec import SpecDiff, spec_diff

__all__ = ["diff_files", "diff_revision", "DiffResult", "Side", "DiffError", "SpecDiff", "PlanDelta", "DataDelta",
           "spec_diff", "plan_delta", "data_delta"]


@dataclass
class Side:
    """One side of the diff. label: how the output names it (`origin/main:specs/x.sds`, `specs/x.sds`).
    exists: False when the spec is not there (added or deleted by the change): the side is empty."""

    label: str
    exists: bool
    check: Optional[CheckResult] = None
    plan: Optional[Plan] = None
    identity: Optional[str] = None
    cache: Optional[AnswerCache] = None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def spec(self) -> Optional[ir.Spec]:
        return self.check.spec if self.check is not None else None

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)


@dataclass
class DiffResult:
    """spec/plan: None when a side has errors; data: None without build folders. notes: what the reader
    should know (a lock rewritten, no endpoint to name cache keys by, a cache not found), in a fixed order."""

    old: Side
    new: Side
    base: Optional[str] = None
    spec: Optional[SpecDiff] = None
    plan: Optional[PlanDelta] = None
    data: Optional[DataDelta] = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.old.ok and self.new.ok

    def diagnostics(self) -> list[tuple[Side, Diagnostic]]:
        return [(s, d) for s in (self.old, self.new) for d in s.diagnostics]

    @property
    def changed(self) -> bool:
        """Whether anything differs (the spec, the plan's quotas, or the data)."""
        return bool((self.spec and not self.spec.empty) or (self.plan and self.plan.strata)
                    or (self.data and (self.data.rows_added or self.data.rows_removed or self.data.rows_changed)))


def _prepare(side: Side, path: Path, display: str, endpoint: Optional[str], model: Optional[str]) -> None:
    """Check and plan one side as the build would."""
    from ..tasks.build import BuildOptions, BuildResult, prepare

    side.check = check_file(path, display)
    side.diagnostics = list(side.check.diagnostics)
    if not side.check.ok:
        return
    spec = side.check.spec
    prep = prepare(spec, path, BuildOptions(offline=True, endpoint=endpoint, model=model))
    if isinstance(prep, BuildResult):
        if prep.problems:
            side.diagnostics += [problem_diagnostic(p, side.check.spans) for p in prep.problems]
            return
        # no endpoint (e.g. a hosted model with none configured): plan as `synthc plan` does; no cache keys
        from ..emit.lock import LockError, lock_path, plan_stats, read_lock
        from ..plan import build_plan

        try:
            lock = read_lock(lock_path(path))
        except LockError:
            lock = None
        side.plan = build_plan(spec, plan_stats(lock, spec.digest()))
        if not side.plan.ok:
            side.diagnostics += [problem_diagnostic(p, side.check.spans) for p in side.plan.problems]
            side.plan = None
            return
        side.notes.append(f"{side.label}: {prep.message}; cache keys cannot be computed, so every call counts "
                          "as new")
        return
    side.plan, side.identity, side.cache = prep.plan, prep.endpoint.identity, prep.cache
    side.notes += [f"{side.label}: {w}" for w in prep.warnings]


def _finish(result: DiffResult, cache_dir: Optional[Path], old_build, new_build) -> DiffResult:
    if (old_build is None) != (new_build is None):
        raise DiffError("--old-build and --new-build go together: name both build folders")
    old, new = result.old, result.new
    if not result.ok:
        return result
    result.notes += old.notes + new.notes
    result.spec = spec_diff(old.spec, new.spec)
    cache = AnswerCache(Path(cache_dir)) if cache_dir is not None else new.cache
    result.plan = plan_delta(old.spec, old.plan, new.spec, new.plan, cache, new.identity if new.exists else
                             old.identity, old_identity=old.identity)
    if new.exists and result.plan.cache == "empty" and result.plan.calls:
        result.notes.append("the answer cache holds no answers: every call counts as new (in CI, restore "
                            "$SYNTHC_CACHE with actions/cache)")
    if old_build is not None:
        result.data = data_delta(Path(old_build), Path(new_build), old.spec, new.spec)
    return result


def diff_files(old_path: str | Path, new_path: str | Path, *, cache_dir: str | Path | None = None,
               old_build: str | Path | None = None, new_build: str | Path | None = None,
               endpoint: Optional[str] = None, model: Optional[str] = None) -> DiffResult:
    """Compare two spec files (each with its own imports, lock and synthc.toml)."""
    old = Side(label=str(old_path), exists=True)
    new = Side(label=str(new_path), exists=True)
    _prepare(old, Path(old_path), str(old_path), endpoint, model)
    _prepare(new, Path(new_path), str(new_path), endpoint, model)
    return _finish(DiffResult(old, new), cache_dir, old_build, new_build)


def diff_revision(spec_path: str | Path, base_rev: str, *, cache_dir: str | Path | None = None,
                  old_build: str | Path | None = None, new_build: str | Path | None = None,
                  endpoint: Optional[str] = None, model: Optional[str] = None) -> DiffResult:
    """Compare the spec at git revision `base_rev` (imports, lock and synthc.toml at that revision) with the
    working copy. A spec missing at the revision is new (everything added); missing in the working tree,
    deleted (everything removed). Raises DiffError for git problems."""
    spec_path = Path(spec_path)
    snap = materialise(spec_path, base_rev)
    try:
        old = Side(label=f"{base_rev}:{snap.rel}", exists=snap.spec is not None)
        new = Side(label=str(spec_path), exists=spec_path.is_file())
        if not old.exists and not new.exists:
            raise DiffError(f"{spec_path} exists neither at {base_rev} nor in the working tree")
        if old.exists:
            _prepare(old, snap.spec, str(spec_path), endpoint, model)
        if new.exists:
            _prepare(new, spec_path, str(spec_path), endpoint, model)
        return _finish(DiffResult(old, new, base=base_rev), cache_dir, old_build, new_build)
    finally:
        snap.cleanup()
