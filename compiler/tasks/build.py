"""`synthc build` from a checked spec to files: lock -> endpoint -> plan -> executor -> rows -> checks -> outputs.

Returns a BuildResult whose exit code follows docs/BUILD.md; the CLI renders it. Nothing here prints but the
progress display and the embedded model's one-line notice.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from .. import ir
from ..plan import AcceptanceStats, Plan, PlanProblem, build_plan
from ..plan.rows import nearest_calls
from ..run.cache import AnswerCache, cache_root
from ..run.checkstore import CheckStore, checks_key
from ..run.client import CallError, ChatClient, RetryPolicy
from ..run import embedded
from ..run.rowstore import RowStore
from ..validate import ValidationReport, validate_written
from ..emit.lock import (LockError, call_keys, lock_path, make_lock, plan_stats, read_lock, reference_changed,
                         reference_entry, write_lock)
from ..emit.outputs import DatasetFile, write_atomic, write_copies
from ..emit.partial import partial_report, remove_partial, write_partial
from ..emit.paths import first_problem
from ..emit.reference import completed, real_rows, reference_file
from ..emit.card import dataset_card
from ..emit.html import report_page
from ..emit.report import RunFacts, json_bytes, planned_shares, report_json, report_md
from ..endpoint import Endpoint, EndpointError, choose
from ..generate.executor import DEFAULT_MAX_ROUNDS, MIN_YIELD, Budget, Executor, Outcome, offline_client
from ..generate.select import iter_rows, select_rows
from ..generate.spool import WORK, Spool
from ..generate.source import ClientSource
from ..plan.cost import cost_usd
from ..quality.preload import load_measures
from ..generate.predict import write_batch
from ..run.batches import write_manifest
from ..run.ledger import Ledger, Paid

from ..exits import EXIT_ERROR, EXIT_FAILED, EXIT_OK, EXIT_STOPPED
# For tests (documented in docs/BUILD.md): seconds of the first retry's backoff, and of one attempt.
RETRY_BASE_ENV = "SYNTHC_RETRY_BASE"
TIMEOUT_ENV = "SYNTHC_TIMEOUT"


@dataclass(frozen=True)
class BuildOptions:
    out: Path = Path("build")
    endpoint: Optional[str] = None
    model: Optional[str] = None
    concurrency: Optional[int] = None
    max_calls: Optional[int] = None
    max_cost: Optional[float] = None
    max_rounds: int = DEFAULT_MAX_ROUNDS
    min_yield: float = MIN_YIELD
    frozen: bool = False
    offline: bool = False
    csv: bool = False
    # After `ingest` (without --live): no call is made; the calls the cache lacks are written as the next OpenAI
    # Batch API input, to `next_batch` (default: OUT/<dataset>.next-batch.jsonl), and the build stops (exit 3).
    batch: bool = False
    next_batch: Optional[Path] = None


@dataclass
class BuildResult:
    exit_code: int
    message: Optional[str] = None  # why it stopped or failed (exit 2 and 3)
    problems: tuple[PlanProblem, ...] = ()  # the plan's errors (exit 2): the CLI shows them as diagnostics
    report: Optional[dict] = None
    outcome: Optional[Outcome] = None
    written: list[Path] = field(default_factory=list)
    cache_dir: Optional[Path] = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class Prepared:
    plan: Plan
    endpoint: Endpoint
    cache: AnswerCache
    stats: AcceptanceStats
    ir_sha256: str
    warnings: list[str]
    locked: frozenset[str] = frozenset()  # the request keys the lock lists (answers a finished build used)
    lock: Optional[dict] = None  # the lock as read (its other endpoints' builds are kept when it is rewritten)


def retry_policy() -> RetryPolicy:
    """The client's retry policy; tests shorten it through the environment."""
    kw = {}
    base = os.environ.get(RETRY_BASE_ENV)
    if base:
        kw["backoff_base"] = float(base)
        kw["backoff_cap"] = float(base) * 16
    timeout = os.environ.get(TIMEOUT_ENV)
    if timeout:
        kw["timeout"] = float(timeout)
    return RetryPolicy(**kw)


def prepare(spec: ir.Spec, spec_path: Path, opts: BuildOptions) -> Prepared | BuildResult:
    """Lock, endpoint and plan; a BuildResult (exit 2) when one of them is wrong."""
    warnings = []
    try:
        lock = read_lock(lock_path(spec_path))
    except LockError as e:
        if opts.frozen:
            return BuildResult(EXIT_ERROR, f"--frozen: {e}")
        warnings.append(f"{e}; it will be rewritten")
        lock = None
    ir_sha = spec.digest()
    if opts.frozen:
        if lock is None:
            return BuildResult(EXIT_ERROR, f"--frozen: there is no {lock_path(spec_path).name}; build once without "
                                           "--frozen to write it")
        changed = reference_changed(lock, spec.reference)
        if changed:
            return BuildResult(EXIT_ERROR, f"--frozen: {changed}; build without --frozen to update the lock")
        if lock.get("ir_sha256") != ir_sha:
            return BuildResult(EXIT_ERROR, f"--frozen: {spec_path.name} has changed since {lock_path(spec_path).name} "
                                           f"was written (IR sha256 {ir_sha[:12]}, locked {str(lock.get('ir_sha256'))[:12]}); "
                                           "build without --frozen to update the lock")
    try:
        ep = choose(spec.dataset.model, spec_path, endpoint=opts.endpoint, model=opts.model,
                    concurrency=opts.concurrency, offline=opts.offline)
    except EndpointError as e:
        return BuildResult(EXIT_ERROR, str(e))
    if ep.embedded and not opts.offline and not embedded.available():  # the light install (pyproject's extras)
        return BuildResult(EXIT_ERROR, embedded.MISSING)
    if opts.max_cost is not None and (ep.profile.input_usd_per_mtok is None or ep.profile.output_usd_per_mtok is None):
        return BuildResult(EXIT_ERROR, f"--max-cost needs the prices of {ep.profile.name}: set input_usd_per_mtok and "
                                       f"output_usd_per_mtok in [profiles.{ep.profile.name}] of synthc.toml")
    stats = plan_stats(lock, ir_sha, ep.identity, ep.model)
    plan = build_plan(spec, stats, ep.profile)
    if not plan.ok:
        return BuildResult(EXIT_ERROR, problems=plan.problems)
    return Prepared(plan, ep, AnswerCache(cache_root(spec_path.parent)), stats, ir_sha, warnings,
                    frozenset(call_keys(lock, ep.identity, ep.model)) if lock else frozenset(), lock)


class LazyEmbedded:
    """The embedded model's client, started on the first call that misses the cache (a rebuild from the cache
    starts nothing). Its cache identity is `embedded`: the server's port changes every run."""

    endpoint = "embedded"

    def __init__(self, concurrency: int, policy: RetryPolicy, say):
        self.concurrency, self.policy, self.say = concurrency, policy, say
        self.server = None
        self.client: Optional[ChatClient] = None
        self._lock: Optional[asyncio.Lock] = None
        self._error: Optional[str] = None

    async def complete(self, body):
        if self.client is None:
            self._lock = self._lock or asyncio.Lock()
            async with self._lock:
                if self.client is None and self._error is None:
                    from ..run.embedded import EmbeddedError

                    try:
                        await asyncio.to_thread(self._start)
                    except EmbeddedError as e:
                        self._error = f"the embedded model could not start: {e}"
            if self._error is not None:
                raise CallError(self._error, kind="embedded")
        return await self.client.complete(body)

    def _start(self) -> None:
        from ..run.embedded import MODE, EmbeddedServer, notice

        server = EmbeddedServer()
        server.start()
        self.server = server
        self.say(notice(server.base_url))
        self.client = ChatClient(server.base_url, None, concurrency=self.concurrency, policy=self.policy, mode=MODE,
                                 revive=server.revive, identity=self.endpoint)

    async def aclose(self) -> None:
        if self.client is not None:
            await self.client.aclose()
        if self.server is not None:
            self.server.stop()


def budget_for(plan: Plan, opts: BuildOptions, paid: Optional[Paid] = None, profile=None) -> Budget:
    """The build's limits: the flags, and without --max-calls/--max-cost the plan's default ceiling on calls;
    each counts the calls earlier runs of this build paid for (`paid`, from the ledger)."""
    ceiling = opts.max_calls is None and opts.max_cost is None
    spent = (cost_usd(paid.prompt_tokens, paid.completion_tokens, profile) or 0.0) if paid and profile else 0.0
    return Budget(plan.max_calls if ceiling else opts.max_calls, opts.max_cost, opts.max_rounds, opts.min_yield,
                  ceiling=ceiling, paid_calls=paid.calls if paid else 0, paid_cost_usd=spent)


def ledger_of(spec: ir.Spec, spec_path: Path, prep: "Prepared") -> Ledger:
    """The paid-call ledger of this build (run.ledger): this spec, endpoint and model, at this IR."""
    return Ledger(prep.cache.root, Path(spec_path).name, spec.dataset.name, prep.endpoint.identity,
                  prep.endpoint.model, prep.ir_sha256)


async def _execute(spec, prep: Prepared, opts: BuildOptions, progress, say, real=None, kept=(),
                   ledger: Optional[Ledger] = None, box: Optional[list] = None,
                   pending: Optional[list] = None, store: Optional[RowStore] = None,
                   spool: Optional[Spool] = None) -> Outcome:
    ep = prep.endpoint
    policy = retry_policy()
    offline = opts.offline or opts.batch
    if offline:
        client = offline_client(ep.identity)
    elif ep.embedded:
        client = LazyEmbedded(ep.concurrency, policy, say)
    else:
        client = ChatClient(ep.base_url, ep.api_key(), concurrency=ep.concurrency, policy=policy,
                            on_retry=lambda notice: say(str(notice)))
    paid = ledger.paid() if ledger else None
    budget = budget_for(prep.plan, opts, paid, ep.profile)
    source = ClientSource(client, prep.cache, offline, ledger, pending)
    executor = Executor(spec, prep.plan, client, prep.cache, budget=budget, progress=progress,
                        prior=prep.stats, offline=offline, workers=max(4, 2 * ep.concurrency),
                        store=store if store is not None else RowStore(prep.cache.root), real=real, real_rows=kept,
                        locked=prep.locked | (paid.batch if paid else frozenset()),  # a batch's: not interrupted
                        source=source, spool=spool)
    if box is not None:
        box.append(executor)  # the rows accepted so far stay reachable after Ctrl-C (a partial result)
    try:
        return await executor.run()
    finally:
        if hasattr(client, "aclose"):
            await client.aclose()


def run(spec: ir.Spec, spec_path: Path, prep: Prepared, opts: BuildOptions, progress, say) -> BuildResult:
    """Generate, check and write. `say` prints one line on the terminal (the embedded notice)."""
    unwritable = _unwritable(spec, spec_path, prep, opts)
    if unwritable:  # before any call: answers the build could not write would be paid for and lost
        return BuildResult(EXIT_ERROR, unwritable)
    real = _real_rows(spec, spec_path, prep.cache.root)
    kept = real_rows(spec, prep.plan.real, reference_file(spec_path, spec.reference)) if prep.plan.real else []
    ledger = ledger_of(spec, spec_path, prep)
    load_measures()  # the checks' libraries load now, not after the last answer
    store = RowStore(prep.cache.root)
    with Spool.create(prep.cache.root / WORK, [s.key for s in prep.plan.strata]) as spool:
        return _run(spec, spec_path, prep, opts, progress, say, real, kept, ledger, store, spool)


def _run(spec: ir.Spec, spec_path: Path, prep: Prepared, opts: BuildOptions, progress, say, real, kept,
         ledger: Ledger, store: RowStore, spool: Spool) -> BuildResult:
    """`run` with the build's spool (generate.spool): accepted rows and row store entries go there as they come,
    and the dataset, its checks and the reports read them from there (or from the written dataset file)."""
    box: list = []
    pending: Optional[list] = [] if opts.batch else None
    try:
        outcome = asyncio.run(_execute(spec, prep, opts, progress, say, real, kept, ledger, box, pending, store,
                                       spool))
    except KeyboardInterrupt:
        if box:
            ex = box[0]
            _partial(spec, prep, opts, ex.accepted, ex.shortfall(), "interrupted", "Ctrl-C",
                     {"next": "the same command resumes from the cache"})
        raise
    if hasattr(progress, "close"):
        progress.close()
    result = BuildResult(EXIT_OK, outcome=outcome, cache_dir=prep.cache.root, warnings=list(prep.warnings))
    if outcome.stopped:
        if pending and outcome.stopped.kind == "offline":
            result.written += _next_batch(spec, spec_path, prep, opts, outcome.stopped, pending)
        result.exit_code = EXIT_STOPPED
        result.message = outcome.stopped.message
        st = outcome.stopped
        result.written += _partial(spec, prep, opts, outcome.accepted, outcome.shortfall, st.kind, st.message,
                                   st.details)
        return result
    index = outcome.index.to_json(prep.plan.strata) if outcome.index is not None else None
    store.add_stream(outcome.accepted.entries(), index)  # before the lock: the next build may carry these rows
    extra: dict = {}
    dataset = None
    try:
        if prep.plan.real is not None:  # complete mode: the real rows first (emit.reference)
            rows, checks, extra = completed(spec, prep.plan.real, kept, select_rows(spec, prep.plan, outcome.accepted),
                                            real)
            dataset = DatasetFile(output_files(spec, opts)[0], rows)
        else:  # the rows streamed from the spool into the dataset file; the checks read that file
            dataset = DatasetFile(output_files(spec, opts)[0], iter_rows(spec, prep.plan, outcome.accepted))
            rows = select_rows(spec, prep.plan, outcome.accepted) if real is not None else dataset  # the evaluation's
            checks = _checks(spec, dataset, real, prep)
    except OSError as e:
        if dataset is not None:
            dataset.discard()
        return _unwritten(result, e, opts)
    if any(p.real_examples is not None for p in spec.prompts):
        extra["examples_nearest"] = nearest_calls(spec, prep.plan)
    evaluated = None
    if real is not None:
        from ..evaluation.report import evaluation
        from ..evaluation.sides import synthetic_rows

        evaluated = evaluation(spec, synthetic_rows(spec, rows, f"{spec.dataset.name}.jsonl"), real)
    try:
        result.report = write_outputs(spec, spec_path, prep, opts, outcome, rows, checks, result.written, evaluated,
                                      extra, dataset)
    except OSError as e:
        dataset.discard()
        return _unwritten(result, e, opts)
    ledger.clear()  # the build finished: what it paid for is in its lock
    remove_partial(Path(opts.out), spec.dataset.name)
    result.exit_code = EXIT_OK if checks.passed else EXIT_FAILED
    return result


def _unwritten(result: BuildResult, e: OSError, opts: BuildOptions) -> BuildResult:
    """Checked before the calls, so a full disk or a race: the answers are in the cache."""
    result.exit_code = EXIT_STOPPED
    result.message = (f"could not write {e.filename or opts.out}: {e.strerror or e}; the answers are kept, so "
                      "the same command, once that is fixed, writes the outputs without new calls")
    return result


def _checks(spec: ir.Spec, dataset: DatasetFile, real, prep: Prepared) -> ValidationReport:
    """validate_written over the dataset file, or the report stored for the same rows, spec and real data
    (run.checkstore): a no-op rebuild measures nothing again."""
    store = CheckStore(prep.cache.root)
    key = checks_key(dataset.sha256, prep.ir_sha256, spec.reference.sha256 if spec.reference else None)
    stored = store.get(key)
    if stored is not None:
        try:
            return ValidationReport.model_validate(stored)
        except ValueError:  # a damaged entry: measure again and replace it
            pass
    report = validate_written(spec, dataset.path, real)
    store.put(key, report.model_dump(mode="json"))
    return report
def _next_batch(spec: ir.Spec, spec_path: Path, prep: Prepared, opts: BuildOptions, stop, pending: list[dict]) -> list[Path]:
    """A build after `ingest` met calls the batches did not answer: they become the next batch (and a manifest
    beside the cache, run.batches, so `ingest` maps their answers back); the stop says what to do."""
    path = Path(opts.next_batch or Path(opts.out) / f"{spec.dataset.name}.next-batch.jsonl")
    write_batch(pending, str(path))
    write_manifest(prep.cache.root, prep.endpoint.identity, prep.endpoint.model, pending)
    n = len(pending)
    flags = "" if prep.endpoint.embedded else f" --endpoint {prep.endpoint.identity} --model {prep.endpoint.model}"
    stop.kind = "batch"
    stop.message = (f"{n:,} call{'s' * (n != 1)} the batches did not answer (top-ups for rejected rows, or failed "
                    f"lines) {'are' if n != 1 else 'is'} written as the next batch {path}; no call was made")
    stop.details |= {"reason": "batch", "message": stop.message, "batch": str(path), "batch_calls": n,
                     "next": f"submit {path} to the Batch API, then `synthc ingest {spec_path} RESULTS.jsonl{flags}`; "
                             "or add --live to make these calls now"}
    return [path]


def _partial(spec: ir.Spec, prep: Prepared, opts: BuildOptions, accepted, shortfall, reason: str, message: str,
             details) -> list[Path]:
    """A stopped build's accepted rows and what is missing (emit.partial); [] when they cannot be written (the
    answers are in the cache either way)."""
    rows = select_rows(spec, prep.plan, accepted)
    report = partial_report(spec, len(rows), prep.plan.rows, shortfall, reason, message, details)
    try:
        return write_partial(spec, Path(opts.out), rows, report)
    except OSError:
        return []


def output_files(spec: ir.Spec, opts: BuildOptions) -> list[Path]:
    """The files a build writes in --out: the dataset in each format, then the reports."""
    out, name = Path(opts.out), spec.dataset.name
    files = [out / f"{name}.jsonl"]
    if "parquet" in spec.dataset.formats:
        files.append(out / f"{name}.parquet")
    if opts.csv or "csv" in spec.dataset.formats:
        files.append(out / f"{name}.csv")
    return files + [out / "report.json", out / "report.md", out / "report.html", out / "README.md"]


def _unwritable(spec: ir.Spec, spec_path: Path, prep: Prepared, opts: BuildOptions) -> Optional[str]:
    """Why the build could not write its outputs, its lock or the cache it keeps answers in (docs/BUILD.md)."""
    files = output_files(spec, opts) + ([] if opts.frozen else [lock_path(spec_path)])
    problem = first_problem([prep.cache.root, Path(opts.out)], files)
    return f"{problem}: nothing was sent" if problem else None


def write_outputs(spec: ir.Spec, spec_path: Path, prep: Prepared, opts: BuildOptions, outcome: Outcome,
                  rows: Sequence[dict], checks: ValidationReport, written: list[Path],
                  evaluated: Optional[dict] = None, extra: dict | None = None,
                  dataset: Optional[DatasetFile] = None) -> dict:
    """The dataset, then the reports, then the lock (last: a lock says a build finished). `dataset`: the rows
    already written to a temp file (a DatasetFile, renamed into place here); else `rows` are written."""
    out = Path(opts.out)
    name = spec.dataset.name
    batch = ledger_of(spec, spec_path, prep).paid().batch  # read before the finished build clears the ledger
    jsonl, *rest = output_files(spec, opts)
    dataset = dataset or DatasetFile(jsonl, rows)
    dataset.install()
    written.append(jsonl)
    copies = {p.suffix[1:]: p for p in rest if p.suffix in (".parquet", ".csv")}
    write_copies(spec, jsonl, copies)
    written += copies.values()
    c = outcome.counters
    facts = RunFacts(model=prep.endpoint.model, endpoint=prep.endpoint.identity, rounds=c.rounds, calls=c.calls,
                     cache_hits=c.cache_hits, carried_calls=c.carried_calls, rows_carried=outcome.carried,
                     failed_calls=c.failed_calls, prompt_tokens=c.prompt_tokens,
                     completion_tokens=c.completion_tokens, cost_usd=c.cost_usd,
                     full_prompt_tokens=c.full_prompt_tokens, full_completion_tokens=c.full_completion_tokens,
                     full_cost_usd=c.full_cost_usd, acceptance_rate=outcome.acceptance.rate,
                     max_calls=budget_for(prep.plan, opts).max_calls, rows_by_position=outcome.by_position,
                     profile=prep.endpoint.profile.name, earlier_calls=c.earlier_calls,
                     earlier_cost_usd=c.earlier_cost_usd, batch_calls=len(set(outcome.calls) & batch))
    order = [k.name for k in spec.constraints]
    report = report_json(name, checks, facts, outcome.rejected.to_json(["schema", *order]), outcome.judges,
                         evaluated) | {"planned": planned_shares(prep.plan)} | (extra or {})
    pages = {"report.json": json_bytes(report), "report.md": report_md(report).encode("utf-8"),
             "report.html": report_page(spec, report, rows).encode("utf-8"),
             "README.md": dataset_card(spec, report, prep.ir_sha256, written).encode("utf-8")}
    for page, text in pages.items():
        write_atomic(out / page, text)
        written.append(out / page)
    if not opts.frozen:
        lock = make_lock(spec_sha256=_file_sha256(spec_path), ir_sha256=prep.ir_sha256, model=prep.endpoint.model,
                         endpoint=prep.endpoint.identity, seed=spec.dataset.seed, calls=outcome.calls,
                         dataset_sha256=dataset.sha256, acceptance=outcome.acceptance, planned_with=prep.stats,
                         profile=prep.endpoint.profile.name,
                         reference=reference_entry(spec.reference) if spec.reference is not None else None,
                         previous=prep.lock)
        write_lock(lock_path(spec_path), lock)
        written.append(lock_path(spec_path))
    return report


def _real_rows(spec: ir.Spec, spec_path: Path, cache: Path):
    """The reference's rows (evaluation.checks.RealData) for the repair of `max_similarity_to_real`, the evaluation
    aggregates and the report's evaluation; None for a spec without a reference."""
    if spec.reference is None:
        return None
    from ..evaluation.checks import RealData
    from ..evaluation.sides import real_file, reference_file
    from ..quality.realindex import FOLDER as INDEX_DIR

    path = reference_file(spec, spec_path)
    return RealData(spec, real_file(spec, path), sha256=spec.reference.sha256, index_dir=Path(cache) / INDEX_DIR)


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
