"""The Python API (docs/API.md): the CLI's commands as functions over the same tasks, returning typed results.

check -> Checked   plan -> Plan   build -> Result   validate -> Validation   evaluate -> Evaluation   diff -> Diff

Errors the CLI reports with exit 2 are raised: SpecError (diagnostics) and UsageError (a message). Everything
else (failed checks, a stopped build) is a value on the result. Nothing here prints unless asked (`progress`).
"""

from __future__ import annotations

import html
import importlib.util
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Optional, Sequence, Union

from . import ir
from .check import CheckResult, check_file
from .diagnostics import Diagnostic, Sources, problem_diagnostic, render_plain, summary
from .diff import DiffError, diff_files, diff_revision
from .emit.html import eval_html, plan_html, report_html
from .emit.outputs import read_arrow
from .emit.report import report_md
from .evaluation.checks import calls
from .evaluation.sides import EvalError
from .exits import EXIT_ERROR, EXIT_OK, EXIT_STOPPED
from .generate.executor import DEFAULT_MAX_ROUNDS, MIN_YIELD
from .generate.progress import make_progress
from .render.diff import to_json_dict, to_markdown
from .tasks import eval as eval_task
from .tasks.build import BuildOptions, BuildResult, Prepared, prepare, run
from .tasks.plan import plan_spec
from .validate import DataError, validate_file

if TYPE_CHECKING:
    import datasets
    import pandas
    import pyarrow

PathLike = Union[str, Path]


# ---- diagnostics and errors ----------------------------------------------------------------------------


class Diagnostics(Sequence[Diagnostic]):
    """The diagnostics of one run, with the sources they quote: str() is the CLI's plain rendering."""

    def __init__(self, items: Sequence[Diagnostic] = (), sources: Optional[Sources] = None):
        self._items = tuple(items)
        self.sources = sources or Sources()

    def __getitem__(self, i):
        return self._items[i]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self._items)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self._items if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self._items if not d.is_error]

    def as_json(self) -> list[dict]:
        """The objects of `--format json`."""
        return [d.as_json() for d in self._items]

    def __str__(self) -> str:
        if not self._items:
            return "no diagnostics"
        return render_plain(self._items, self.sources) + summary(list(self._items))

    def __repr__(self) -> str:
        return f"<Diagnostics: {summary(list(self._items))}>"

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(str(self))}</pre>"


class SynthcError(Exception):
    """What the CLI reports with exit 2."""

    exit_code = EXIT_ERROR


class SpecError(SynthcError):
    """The spec has errors: `.diagnostics` holds them."""

    def __init__(self, diagnostics: Diagnostics):
        self.diagnostics = diagnostics
        super().__init__(str(diagnostics))


class UsageError(SynthcError):
    """A request the CLI refuses with `synthc: error: MESSAGE` (exit 2)."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


def _diagnostics(checked: CheckResult, extra: Sequence[Diagnostic] = ()) -> Diagnostics:
    return Diagnostics([*checked.diagnostics, *extra], checked.sources)


# ---- check -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checked:
    """A checked spec: `spec` is the IR (None when the spec has errors)."""

    spec: Optional[ir.Spec]
    diagnostics: Diagnostics
    path: Path

    @property
    def ok(self) -> bool:
        return not self.diagnostics.errors

    def _repr_html_(self) -> str:
        head = f"<b>{html.escape(str(self.path))}</b>: " + ("ok" if self.ok else "errors")
        return head + (self.diagnostics._repr_html_() if self.diagnostics else "")


def check(spec: PathLike) -> Checked:
    """Parse and check one spec (`synthc check SPEC`, targets fitted as the planner fits them)."""
    result = check_file(spec, str(spec), targets=True)
    return Checked(result.spec, _diagnostics(result), Path(spec))


def _checked(spec: PathLike) -> CheckResult:
    """The checked spec as plan/build/validate see it, or SpecError."""
    result = check_file(spec, str(spec))
    if not result.ok:
        raise SpecError(_diagnostics(result))
    return result


# ---- plan ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """`synthc plan`: `figures` is the `--json` object; `plan` the planner's plan.Plan (every stratum and call)."""

    figures: dict
    diagnostics: Diagnostics
    plan: Any = None
    cache_root: Optional[Path] = None
    batch_requests: Optional[int] = None  # requests written to `emit_batch`

    @property
    def this_build(self) -> Optional[dict]:
        return self.figures.get("this_build")

    def __str__(self) -> str:
        return json.dumps(self.figures, indent=2, sort_keys=True)

    def _repr_html_(self) -> str:
        return plan_html(self.figures)


def plan(spec: PathLike, *, endpoint: Optional[str] = None, model: Optional[str] = None,
         emit_batch: Optional[PathLike] = None) -> Plan:
    """The plan as `synthc build` would make it; with `emit_batch`, round 1's new calls as a Batch API file."""
    got = plan_spec(str(spec), endpoint, model, None if emit_batch is None else str(emit_batch))
    if got.message is not None:
        raise UsageError(got.message)
    if got.plan is None:
        raise SpecError(Diagnostics(got.diagnostics, got.checked.sources))
    return Plan(got.to_json_dict(), Diagnostics(got.diagnostics, got.checked.sources), got.plan, got.cache_root,
                got.batch)


# ---- build -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    """A build's report: `figures` is report.json; `markdown` is report.md; `html` is report.html."""

    figures: dict
    html: str = ""

    @property
    def passed(self) -> bool:
        return bool(self.figures["passed"])

    @property
    def markdown(self) -> str:
        return report_md(self.figures)

    def __str__(self) -> str:
        return self.markdown

    def _repr_html_(self) -> str:
        # the figures and charts without the page's style and row browser (a notebook has its own; to_pandas())
        return report_html(self.figures, [], standalone=False)


@dataclass
class Result:
    """What `build` did: see docs/API.md, "The build's result"."""

    exit_code: int
    spec: ir.Spec
    report: Optional[Report] = None
    files: list[Path] = field(default_factory=list)
    stopped: Optional[str] = None
    stop_details: Optional[dict] = None
    data_path: Optional[Path] = None
    warnings: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)  # lines the CLI prints during the build (the embedded notice, retries)

    @property
    def ok(self) -> bool:
        return self.exit_code == EXIT_OK

    def to_arrow(self) -> "pyarrow.Table":
        """The rows as the Parquet copy holds them: `_id`, `_origin` (complete mode), the fields in order."""
        if self.data_path is None:
            raise UsageError(f"the build stopped ({self.stopped}): no dataset was written")
        return read_arrow(self.spec, self.data_path)

    def to_pandas(self) -> "pandas.DataFrame":
        _needs("pandas")
        return self.to_arrow().to_pandas()

    def to_dataset(self) -> "datasets.Dataset":
        _needs("datasets")
        import datasets

        return datasets.Dataset(datasets.table.InMemoryTable(self.to_arrow()))

    def _repr_html_(self) -> str:
        if self.report is not None:
            return self.report._repr_html_()
        return f"<p><b>stopped</b>: {html.escape(self.stopped or '')}</p>"


def _needs(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise UsageError(f"this needs the package `{module}`: pip install 'synthc[notebook]'")


def build(spec: PathLike, *, out: PathLike = "build", endpoint: Optional[str] = None, model: Optional[str] = None,
          max_calls: Optional[int] = None, max_cost: Optional[float] = None, max_rounds: Optional[int] = None,
          min_yield: Optional[float] = None, concurrency: Optional[int] = None, offline: bool = False,
          frozen: bool = False, csv: bool = False, progress: Any = False) -> Result:
    """`synthc build SPEC`: generate, check and write the dataset with its reports and lock."""
    checked = _checked(spec)
    opts = build_options(out=out, endpoint=endpoint, model=model, max_calls=max_calls, max_cost=max_cost,
                         max_rounds=max_rounds, min_yield=min_yield, concurrency=concurrency, offline=offline,
                         frozen=frozen, csv=csv)
    prep = prepare_build(checked, Path(spec), opts)
    notices: list[str] = []
    shown = _progress(progress)

    def say(line: str) -> None:
        notices.append(line)
        if shown is not None:
            print(line, file=sys.stderr)

    return build_result(checked.spec, run_build(checked.spec, Path(spec), prep, opts, shown, say), notices)


def build_options(*, out: PathLike = "build", endpoint=None, model=None, max_calls=None, max_cost=None,
                  max_rounds=None, min_yield=None, concurrency=None, offline=False, frozen=False, csv=False,
                  batch=False, next_batch=None):
    """The build's options with the CLI's defaults; UsageError for values the CLI's flags refuse. batch: the build
    of an ingested batch, which makes no live call (the calls still missing go to `next_batch`)."""
    for name, n in (("max_calls", max_calls), ("max_rounds", max_rounds), ("concurrency", concurrency)):
        if n is not None and (not isinstance(n, int) or n < 1):
            raise UsageError(f"{name} must be a whole number, at least 1: {n!r}")
    if max_cost is not None and not (math.isfinite(max_cost) and max_cost >= 0):
        raise UsageError(f"max_cost must be a finite amount of dollars, 0 or more: {max_cost!r}")
    if min_yield is not None and not 0.0 <= min_yield <= 1.0:
        raise UsageError(f"min_yield must be between 0 and 1: {min_yield!r}")
    return BuildOptions(out=Path(out), endpoint=endpoint, model=model, concurrency=concurrency, max_calls=max_calls,
                        max_cost=max_cost, max_rounds=max_rounds or DEFAULT_MAX_ROUNDS,
                        min_yield=MIN_YIELD if min_yield is None else min_yield, frozen=frozen, offline=offline,
                        csv=csv, batch=batch, next_batch=Path(next_batch) if batch and next_batch else None)


def prepare_build(checked: CheckResult, spec_path: Path, opts: BuildOptions) -> Prepared:
    """Lock, endpoint and plan (tasks.build.prepare), or SpecError / UsageError."""
    prep = prepare(checked.spec, spec_path, opts)
    if isinstance(prep, BuildResult):
        if prep.problems:
            raise SpecError(_diagnostics(checked, [problem_diagnostic(p, checked.spans) for p in prep.problems]))
        raise UsageError(prep.message or "the build cannot start")
    return prep


def run_build(spec: ir.Spec, spec_path: Path, prep, opts, progress, say):
    """tasks.build.run; an unwritable output (exit 2, before any call) is a UsageError."""
    done = run(spec, spec_path, prep, opts, progress, say)
    if done.exit_code == EXIT_ERROR:
        raise UsageError(done.message or "the build failed")
    return done


def build_result(spec: ir.Spec, done, notices: Sequence[str] = ()) -> Result:
    """A Result from tasks.build's BuildResult."""
    out = Result(done.exit_code, spec, files=list(done.written), warnings=list(done.warnings), notices=list(notices))
    if done.exit_code == EXIT_STOPPED:
        out.stopped = done.message
        if done.outcome is not None and done.outcome.stopped is not None:
            out.stop_details = done.outcome.stopped.details
    if done.report is not None:
        page = next((p for p in done.written if p.name == "report.html"), None)
        out.report = Report(done.report, page.read_text(encoding="utf-8") if page is not None else "")
        out.data_path = done.written[0]
    return out


def _progress(progress: Any):
    if progress is False or progress is None:
        return None
    if progress is True:
        from rich.console import Console  # rich only when progress is shown

        return make_progress(Console(stderr=True))
    return progress  # an object with the executor's progress methods (round, call, rows, close)


# ---- validate, evaluate, diff ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Validation:
    """`synthc validate SPEC DATA`: `figures` is the `--json` object; `report` the validate.ValidationReport."""

    figures: dict
    report: Any
    diagnostics: Diagnostics

    @property
    def passed(self) -> bool:
        return bool(self.figures["passed"])

    def __str__(self) -> str:
        return json.dumps(self.figures, indent=2, sort_keys=True, ensure_ascii=False)


def validate(spec: PathLike, data: PathLike) -> Validation:
    """Check a dataset file (JSONL, Parquet, CSV) against the spec's constraints and targets."""
    checked = _checked(spec)
    try:
        report = validate_file(checked.spec, data, reference_rows(checked.spec, Path(spec)))
    except (DataError, EvalError) as e:
        raise UsageError(str(e)) from None
    return Validation(report.to_json_dict(), report, _diagnostics(checked))


@dataclass(frozen=True)
class Evaluation:
    """`synthc eval`: `figures` is eval.json; `markdown` eval.md; `html` eval.html."""

    figures: dict
    files: list[Path]
    exit_code: int
    diagnostics: Diagnostics

    @property
    def passed(self) -> bool:
        return self.exit_code == EXIT_OK

    @property
    def markdown(self) -> str:
        return eval_task.markdown(self.figures)

    @property
    def html(self) -> str:
        return eval_html(self.figures)

    def __str__(self) -> str:
        return self.markdown

    def _repr_html_(self) -> str:
        return eval_html(self.figures, standalone=False)


def evaluate(spec: PathLike, data: Optional[PathLike] = None, *, real: Optional[PathLike] = None,
             label: Optional[str] = None, text: Optional[str] = None, seeds: int = 3,
             out: Optional[PathLike] = None) -> Evaluation:
    """`synthc eval`: the data against real rows (faithful, private, useful); writes eval.json, eval.md, eval.html."""
    checked = _checked(spec)
    try:
        got = eval_task.run(checked.spec, Path(spec), _str(data), _str(real), label, text, seeds, _str(out))
    except EvalError as e:
        raise UsageError(str(e)) from None
    return Evaluation(got.report, list(got.written), got.exit_code, _diagnostics(checked))


def reference_rows(spec: ir.Spec, spec_path: Path):
    """The spec's real rows for the evaluation aggregates (None when the spec has no reference or does not use them)."""
    if spec.reference is None or not any(calls(c.expr) for c in spec.constraints):
        return None
    return eval_task.load_real(spec, spec_path, None, 3)


def _str(p: Optional[PathLike]) -> Optional[str]:
    return None if p is None else str(p)


@dataclass(frozen=True)
class Diff:
    """`synthc diff`: `figures` is the `--json` object, `markdown` the pull-request comment; `result` the
    diff.DiffResult."""

    result: Any

    @property
    def ok(self) -> bool:
        return self.result.ok

    @property
    def changed(self) -> bool:
        return self.result.changed

    @property
    def figures(self) -> dict:
        return to_json_dict(self.result)

    @property
    def markdown(self) -> str:
        return to_markdown(self.result)

    def __str__(self) -> str:
        return self.markdown


def diff(old: PathLike, new: Optional[PathLike] = None, *, base: Optional[str] = None,
         old_build: Optional[PathLike] = None, new_build: Optional[PathLike] = None, cache: Optional[PathLike] = None,
         endpoint: Optional[str] = None, model: Optional[str] = None) -> Diff:
    """What a spec change does: `diff(OLD, NEW)`, or `diff(SPEC, base=REV)` against a git revision."""
    if (base is None) == (new is None):
        raise UsageError("give OLD.sds NEW.sds, or one SPEC with --base REV")
    opts = dict(cache_dir=cache, old_build=old_build, new_build=new_build, endpoint=endpoint, model=model)
    try:
        result = diff_revision(old, base, **opts) if base is not None else diff_files(old, new, **opts)
    except DiffError as e:
        raise UsageError(e.message) from None
    return Diff(result)


__all__ = ["Checked", "Diagnostics", "Diff", "Evaluation", "Plan", "Report", "Result", "SpecError",
           "SynthcError", "UsageError", "Validation", "build", "check", "diff", "evaluate", "plan", "validate"]
