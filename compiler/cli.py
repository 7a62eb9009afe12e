"""The `synthc` command: parses arguments, calls the passes, renders their results. No compiler logic here.

Exit codes (every command): 0 ok, 1 checks failed (warnings under --strict, files fmt would change),
2 errors in the spec or the command line, 3 a run stopped with its work kept, 70 an internal error (a bug).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import sys
import warnings
from pathlib import Path

from . import __version__
from .diagnostics import CODES, Diagnostic, Sources, render_json, render_plain, render_rich, summary

from .exits import EXIT_ERROR, EXIT_FAILED, EXIT_INTERNAL, EXIT_OK, EXIT_STOPPED


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse exits 2 on bad usage, which is our code too; keep its message short
        self.print_usage(sys.stderr)
        print(f"synthc: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_ERROR)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="synthc", description="A compiler for synthetic datasets.")
    p.add_argument("--version", action="version", version=f"synthc {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    c = sub.add_parser("check", help="parse and check specs; report every error")
    c.add_argument("specs", nargs="+", metavar="SPEC")
    c.add_argument("--format", choices=("text", "json"), default="text", help="diagnostics as text or JSON")
    c.add_argument("--ir", action="store_true", help="print the checked IR as canonical JSON")
    c.add_argument("--strict", action="store_true", help="exit 1 when there are warnings")

    f = sub.add_parser("fmt", help="format specs canonically (keeps comments)")
    f.add_argument("files", nargs="+", metavar="FILE")
    f.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file would change")

    pl = sub.add_parser("plan", help="allocate rows and calls; show tokens and cost before spending")
    pl.add_argument("spec", metavar="SPEC")
    pl.add_argument("--json", action="store_true", help="print the plan summary as one JSON object")
    pl.add_argument("--emit-batch", metavar="FILE.jsonl", help="write round 1's calls (those the cache does not "
                                                             "answer) in the OpenAI Batch API input format")
    pl.add_argument("--format", choices=("text", "json"), default="text", help="diagnostics as text or JSON")
    pl.add_argument("--endpoint", metavar="URL", help="as in synthc build: names the endpoint in cache keys, so the "
                                                      "plan can say what this cache already answers")
    pl.add_argument("--model", metavar="NAME", help="as in synthc build")

    d = sub.add_parser("diff", help="what a spec change does to the data and what it will cost")
    d.add_argument("paths", nargs="+", metavar="SPEC", help="OLD.sds NEW.sds, or one SPEC with --base REV")
    d.add_argument("--base", metavar="REV", help="compare SPEC at this git revision with the working copy")
    out = d.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the diff as one JSON object")
    out.add_argument("--markdown", action="store_true", help="print GitHub markdown for a pull-request comment")
    d.add_argument("--old-build", metavar="DIR", help="build folder of the old side (with --new-build)")
    d.add_argument("--new-build", metavar="DIR", help="build folder of the new side (with --old-build)")
    d.add_argument("--cache", metavar="DIR", help="answer cache to consult (default: as synthc build)")
    d.add_argument("--endpoint", metavar="URL", help="as in synthc build: names the endpoint in cache keys")
    d.add_argument("--model", metavar="NAME", help="as in synthc build")

    e = sub.add_parser("explain", help="explain an error code")
    e.add_argument("code", metavar="CODE")

    b = sub.add_parser("build", help="generate the dataset, check it, write it with its report and lock")
    b.add_argument("spec", metavar="SPEC")
    _build_flags(b)

    v = sub.add_parser("validate", help="check a data file against a spec's constraints and targets")
    v.add_argument("spec", metavar="SPEC")
    v.add_argument("data", metavar="DATA", help=".jsonl, .json, .parquet or .csv")
    v.add_argument("--json", action="store_true", help="print the report as one JSON object")
    v.add_argument("--sql", action="store_true", help="show the SQL of failed checks")

    ev = sub.add_parser("eval", help="the data against real rows: faithful, private, useful (docs/EVAL.md)")
    ev.add_argument("spec", metavar="SPEC")
    ev.add_argument("data", nargs="?", metavar="DATA", help="the synthetic rows (default: build/<dataset>.jsonl)")
    ev.add_argument("--real", metavar="FILE", help="the real rows (default: the spec's reference file)")
    ev.add_argument("--label", metavar="FIELD", help="the label of the usefulness test (a categorical field)")
    ev.add_argument("--text", metavar="FIELD", help="the text of the usefulness test (a text field)")
    ev.add_argument("--seeds", type=_positive_int, default=3, metavar="N", help="repetitions of the usefulness test")
    ev.add_argument("--out", metavar="DIR", help="where eval.md and eval.json go (default: the folder of DATA)")
    ev.add_argument("--json", action="store_true", help="print eval.json on stdout")

    i = sub.add_parser("ingest", help="put OpenAI Batch API output in the cache, then build")
    i.add_argument("spec", metavar="SPEC")
    i.add_argument("results", metavar="RESULTS.jsonl")
    i.add_argument("--no-build", action="store_true",
                   help="only store the answers (then `plan --emit-batch` writes the calls that read them: judges)")
    i.add_argument("--live", action="store_true",
                   help="let the build make the calls the batch did not answer (default: write them as the next batch)")
    i.add_argument("--next-batch", metavar="FILE.jsonl",
                   help="where the calls the batch did not answer go (default: OUT/<dataset>.next-batch.jsonl)")
    _build_flags(i)

    ca = sub.add_parser("cache", help="inspect or prune the answer cache")
    cs = ca.add_subparsers(dest="cache_command", required=True, parser_class=_Parser)
    st = cs.add_parser("stats", help="entries and size of each cache")
    st.add_argument("--json", action="store_true", help="print one JSON object")
    g = cs.add_parser("gc", help="remove answers no lock file lists")
    g.add_argument("--keep-lock", action="append", default=[], metavar="SPEC.lock",
                   help="keep what this lock lists (repeatable); default: every *.sds.lock under the current folder")
    g.add_argument("--older-than", type=_days, metavar="DAYS",
                   help="remove answers no lock lists once older than DAYS (default 14)")
    g.add_argument("--all", action="store_true",
                   help="remove every answer no lock lists, whatever its age (even those an unfinished build paid for)")
    g.add_argument("--dry-run", action="store_true", help="say what would be removed; remove nothing")
    return p


def _build_flags(b: argparse.ArgumentParser) -> None:
    b.add_argument("--out", default="build", metavar="DIR", help="where the dataset and reports go (default: build/)")
    b.add_argument("--endpoint", metavar="URL", help="an OpenAI-compatible base URL (…/v1)")
    b.add_argument("--model", metavar="NAME", help="the model name the endpoint serves")
    b.add_argument("--concurrency", type=_positive_int, metavar="N", help="calls in flight at most")
    b.add_argument("--max-calls", type=_positive_int, metavar="N", help="stop (exit 3) before call N+1")
    b.add_argument("--max-cost", type=_cost, metavar="USD", help="stop (exit 3) before spending more")
    b.add_argument("--max-rounds", type=_positive_int, metavar="N", help="stop (exit 3) after N rounds (default 10)")
    b.add_argument("--min-yield", type=_fraction, metavar="FRACTION",
                   help="stop (exit 3) when a prompt's rows are accepted at less than this (default 0.25; 0: never)")
    b.add_argument("--frozen", action="store_true", help="fail (exit 2) if the spec changed since its lock")
    b.add_argument("--offline", action="store_true", help="no network: answers from the cache only")
    b.add_argument("--csv", action="store_true", help="also write <dataset>.csv")
    b.add_argument("--json", action="store_true", help="print report.json on stdout")


def _days(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of days: {text!r}") from None
    if not 0.0 <= x < 1e6:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"must be a number of days from 0: {text}")
    return x


def _fraction(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= x <= 1.0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be between 0 and 1: {text}")
    return x


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {n}")
    return n


def _cost(text: str) -> float:
    try:
        usd = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(usd) or usd < 0:
        raise argparse.ArgumentTypeError(f"must be a finite amount of dollars, 0 or more: {text!r}")
    return usd


def main(argv: list[str] | None = None) -> int:
    # Python warnings (a library's FutureWarning, a DeprecationWarning) are for synthc's developers, not its
    # users: they mean nothing there and would corrupt `--format json` on stderr. Each one found is fixed where
    # it comes from (check/regex.py); `python -W ...` or PYTHONWARNINGS still shows them.
    with warnings.catch_warnings():
        if not sys.warnoptions:
            warnings.simplefilter("ignore")
        return _main(argv)


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("synthc: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`synthc plan x.sds | head -1`): what it read is all it wanted, so exit 0,
        # quietly; stdout goes to /dev/null so that the flush at exit does not fail again (README, exit codes)
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return EXIT_OK
    except RecursionError:
        print("synthc: error: the spec nests too deeply to check", file=sys.stderr)
        return EXIT_ERROR
    except Exception as e:  # a bug: say so plainly, without a traceback, and with a distinct exit code
        print(f"synthc: internal error: {type(e).__name__}: {e}\nplease report this with the spec that caused it",
              file=sys.stderr)
        return EXIT_INTERNAL


# ---- rendering helpers ---------------------------------------------------------


@functools.cache
def _console_class():
    from rich.console import Console

    class PipeConsole(Console):
        def on_broken_pipe(self) -> None:  # rich exits 1 here, the code for failed checks: let main() decide
            self.quiet = True
            raise BrokenPipeError

    return PipeConsole


def _console(**kwargs):
    """A rich Console whose broken pipe ends the command like print()'s does (exit 0, see main)."""
    return _console_class()(**kwargs)


def _stderr_console():
    return _console(stderr=True, highlight=False, soft_wrap=True)


def emit_diagnostics(diags: list[Diagnostic], sources: Sources, fmt: str) -> None:
    if fmt == "json":
        print(render_json(diags))
        return
    if not diags:
        return
    console = _stderr_console()
    if console.is_terminal:
        render_rich(diags, sources, console)
        console.print(summary(diags))
    else:
        sys.stderr.write(render_plain(diags, sources) + summary(diags) + "\n")


def _exit_for(diags: list[Diagnostic], strict: bool) -> int:
    if any(d.is_error for d in diags):
        return EXIT_ERROR
    if strict and diags:
        return EXIT_FAILED
    return EXIT_OK


# ---- commands --------------------------------------------------------------------


def cmd_check(args) -> int:
    from .check import check_file

    all_diags: list[Diagnostic] = []
    sources = Sources()
    irs = []
    modules = 0
    for spec in args.specs:
        result = check_file(spec, spec, module_ok=True, targets=True)
        all_diags += result.diagnostics
        modules += result.is_module
        for name in result.sources._text:
            sources._text[name] = result.sources._text[name]
        if result.spec is not None:
            irs.append(result.spec)
    if args.ir and irs and not any(d.is_error for d in all_diags):
        for spec in irs:
            sys.stdout.write(spec.canonical_json())
    emit_diagnostics(all_diags, sources, args.format)
    if args.format == "text" and not all_diags and not args.ir:
        specs = len(args.specs) - modules
        done = [f"{n} {what}{'s' * (n != 1)}" for n, what in ((specs, "spec"), (modules, "module")) if n]
        print(f"ok: {' and '.join(done)} checked", file=sys.stderr)
    return _exit_for(all_diags, args.strict)


def cmd_fmt(args) -> int:
    from .fmt import format_source
    from .syntax import read_source

    changed = 0
    errors: list[Diagnostic] = []
    sources = Sources()
    for name in args.files:
        text, diag = read_source(name, name)
        if diag is not None:
            errors.append(diag)
            continue
        sources.add(name, text)
        formatted, diags = format_source(text, name)
        if diags:
            errors += diags
            continue
        if formatted != text:
            changed += 1
            if args.check:
                print(f"would reformat {name}", file=sys.stderr)
            else:
                Path(name).write_text(formatted, encoding="utf-8")
                print(f"reformatted {name}", file=sys.stderr)
    emit_diagnostics(errors, sources, "text")
    if errors:
        return EXIT_ERROR
    return EXIT_FAILED if (args.check and changed) else EXIT_OK


def cmd_plan(args) -> int:
    from . import api

    try:
        got = api.plan(args.spec, endpoint=args.endpoint, model=args.model, emit_batch=args.emit_batch)
    except api.SpecError as e:
        emit_diagnostics(list(e.diagnostics), e.diagnostics.sources, args.format)
        return EXIT_ERROR
    except api.UsageError as e:
        print(f"synthc: error: {e.message}", file=sys.stderr)
        return EXIT_ERROR
    if got.diagnostics and args.format == "text":
        emit_diagnostics(list(got.diagnostics), got.diagnostics.sources, "text")
    if got.batch_requests is not None:
        print(f"wrote {got.batch_requests} requests to {args.emit_batch}", file=sys.stderr)
    if args.json:
        print(json.dumps(got.figures, indent=2, sort_keys=True))
        return EXIT_OK
    from .render.plan import render

    console = _console(highlight=False)
    render(got.plan, console)
    now = got.this_build
    if now is not None:
        cost = "" if now["cost_est_usd"] is None else f" (~${now['cost_est_usd']:.4f})"
        console.print(f"With the cache at {got.cache_root}: {now['calls']:,} new calls{cost}, "
                      f"{now['calls_cached']:,} answered by the cache, {now['rows_carried']:,} row answers carried "
                      "from earlier builds (round 1; top-ups depend on the answers)")
    return EXIT_OK


def cmd_explain(args) -> int:
    from .codes import explain

    text = explain(args.code.upper())
    if text is None:
        print(f"synthc: error: unknown code `{args.code}`; codes: {', '.join(CODES)}", file=sys.stderr)
        return EXIT_ERROR
    print(text)
    return EXIT_OK


# ---- build, ingest, validate, cache ------------------------------------------------


def _checked(path: str):
    """The checked spec, or None after printing its errors."""
    from .check import check_file

    result = check_file(path, path)
    if not result.ok:
        emit_diagnostics(result.diagnostics, result.sources, "text")
        return None
    if result.diagnostics:
        emit_diagnostics(result.diagnostics, result.sources, "text")
    return result


def _build_options(args):
    from . import api

    batch = getattr(args, "command", None) == "ingest" and not args.live  # a batch's build makes no call unless asked
    return api.build_options(out=args.out, endpoint=args.endpoint, model=args.model, concurrency=args.concurrency,
                             max_calls=args.max_calls, max_cost=args.max_cost, max_rounds=args.max_rounds,
                             min_yield=args.min_yield, frozen=args.frozen, offline=args.offline, csv=args.csv,
                             batch=batch, next_batch=args.next_batch if batch else None)


def _prepared(checked, args):
    """(Prepared, None) or (None, exit code) after printing why the build cannot start."""
    from . import api

    try:
        prep = api.prepare_build(checked, Path(args.spec), _build_options(args))
    except api.SynthcError as e:
        return None, _api_error(e)
    for w in prep.warnings:
        print(f"synthc: warning: {w}", file=sys.stderr)
    if prep.plan.warnings:
        for w in prep.plan.warnings:
            print(f"synthc: plan: {w}", file=sys.stderr)
    return prep, None


def _ready(args):
    """(checked spec, Prepared, None) for build and ingest, or (None, None, exit code) after saying why not."""
    checked = _checked(args.spec)
    if checked is None:
        return None, None, EXIT_ERROR
    prep, code = _prepared(checked, args)
    return (checked, prep, None) if prep is not None else (None, None, code)


def cmd_build(args) -> int:
    checked, prep, code = _ready(args)
    if prep is None:
        return code
    return _run_build(checked.spec, prep, args)


def _run_build(spec, prep, args) -> int:
    import time

    from rich.text import Text

    from .tasks.build import run
    from .generate.progress import make_progress

    console = _stderr_console()
    progress = make_progress(console)
    started = time.monotonic()

    def say(line: str) -> None:
        console.print(Text(line))

    try:
        result = run(spec, Path(args.spec), prep, _build_options(args), progress, say)
    except KeyboardInterrupt:
        if hasattr(progress, "close"):
            progress.close()
        print(f"synthc: interrupted; every answer received is in the cache ({prep.cache.root}): run the same "
              f"command again to resume (the rows accepted so far: {spec.dataset.name}.partial.jsonl in "
              f"{args.out})", file=sys.stderr)
        return EXIT_STOPPED
    _render_build(result, spec, console, time.monotonic() - started)
    if args.json and result.report is not None:
        print(json.dumps(result.report, indent=2, sort_keys=True, ensure_ascii=False))
    elif args.json and result.outcome is not None and result.outcome.stopped is not None:
        print(json.dumps({"stopped": result.outcome.stopped.details}, indent=2, sort_keys=True, ensure_ascii=False))
    return result.exit_code


def _render_build(result, spec, console, seconds: float) -> None:
    from rich.text import Text

    o = result.outcome
    c = o.counters if o else None
    if result.report is None and result.exit_code == EXIT_ERROR:
        console.print(Text(f"synthc: error: {result.message}", style="bold red"))
        return
    if result.exit_code == EXIT_STOPPED:
        console.print(Text(f"synthc: stopped: {result.message}", style="bold yellow"))
        if c is not None:
            nxt = (o.stopped.details.get("next") if o is not None and o.stopped is not None else None) \
                or "run the same command again to resume"
            console.print(Text(f"  {c.calls} calls made, {c.cache_hits} answers from the cache, "
                               f"{c.failed_calls} failed; every answer received is in {result.cache_dir}: {nxt}"))
        if o is not None and o.stopped is not None:
            from .generate.diagnosis import lines

            for line in lines(o.stopped.details):
                console.print(Text(f"  {line}", style="green" if line.startswith("help:") else ""))
        if result.written:
            console.print(Text("wrote " + ", ".join(str(p) for p in result.written)
                               + " (the rows accepted so far: docs/BUILD.md, \"Partial results\")"))
        return
    r = result.report
    failed = [ch["name"] for ch in r["checks"] if not ch["passed"]]
    cost = "" if r["cost_usd"] is None else f", ${r['cost_usd']:.4f}"
    paid_before = [f"{r['calls_interrupted_runs']} paid by an interrupted run"] if r.get("calls_interrupted_runs") else []
    paid_before += [f"{r['calls_batch']} answered by a batch"] if r.get("calls_batch") else []
    earlier = f" ({', '.join(paid_before)})" if paid_before else ""
    console.print(Text(f"{spec.dataset.name}: {r['rows']} rows in {r['rounds']} round{'s' * (r['rounds'] != 1)}; "
                       f"{r['calls']} calls (a full rebuild makes {r['calls_full_rebuild']}), {r['cache_hits']} from "
                       f"the cache{earlier}, {r['rows_carried']} row answers carried; "
                       f"{r['prompt_tokens'] + r['completion_tokens']:,} tokens{cost}; {seconds:.1f} s"))
    console.print(Text("wrote " + ", ".join(str(p) for p in result.written)))
    if failed:
        console.print(Text(f"{len(failed)} of {len(r['checks'])} checks failed: {', '.join(failed)} "
                           f"(see report.md)", style="bold red"))
    else:
        n = len(r["checks"])
        console.print(Text(f"{'all ' * (n > 1)}{n} check{'s' * (n != 1)} passed", style="bold green"))


def cmd_ingest(args) -> int:
    from .tasks.ingest import IngestError, ingest

    from .tasks.build import ledger_of

    checked, prep, code = _ready(args)
    if prep is None:
        return code
    ep = prep.endpoint
    try:
        got = ingest(checked.spec, prep.plan, ep.identity, prep.cache, Path(args.results), ep.model,
                     ledger_of(checked.spec, Path(args.spec), prep))
    except IngestError as e:
        print(f"synthc: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    notes = [f"{got.stored} answers stored", f"{got.already} already cached"]
    if got.failed:
        notes.append(f"{got.failed} failed in the batch (the build {'makes them' if args.live else 'writes them into the next batch'})")
    if got.unknown and got.expected:
        notes.append(f"{len(got.unknown)} custom_ids belong to a batch emitted for --model {got.expected[1]} "
                     f"(--endpoint {got.expected[0]}), and this ingest is for --model {ep.model} (--endpoint "
                     f"{ep.identity}): give ingest the flags the batch was emitted with")
    elif got.unknown:
        answered = f" (its answers name the model {', '.join(sorted(got.models))})" if got.models else ""
        notes.append(f"{len(got.unknown)} custom_ids are no call of this plan at --endpoint {ep.identity} --model "
                     f"{ep.model} (e.g. {got.unknown[0]}){answered}: give ingest the --endpoint and --model the batch "
                     "was emitted with, or emit it again from this version of the spec")
    if got.bad:
        notes.append(f"{got.bad} lines unreadable")
    print(f"synthc: ingest: {'; '.join(notes)}", file=sys.stderr)
    if got.unknown and not (got.stored or got.already):
        return EXIT_ERROR  # nothing of the batch fits this build: building now would pay for it all again
    if args.no_build:
        return EXIT_OK
    return _run_build(checked.spec, prep, args)


def _api_error(e) -> int:
    """An API error as the CLI shows it (exit 2): diagnostics, or `synthc: error: MESSAGE`."""
    from . import api

    if isinstance(e, api.SpecError):
        emit_diagnostics(list(e.diagnostics), e.diagnostics.sources, "text")
    else:
        print(f"synthc: error: {e.message}", file=sys.stderr)
    return EXIT_ERROR


def cmd_validate(args) -> int:
    from . import api
    from .render.validate import render

    try:
        got = api.validate(args.spec, args.data)
    except api.SynthcError as e:
        return _api_error(e)
    emit_diagnostics(list(got.diagnostics), got.diagnostics.sources, "text")
    if args.json:
        print(json.dumps(got.figures, indent=2, sort_keys=True, ensure_ascii=False))
    else:
        render(got.report, _console(highlight=False, soft_wrap=True), show_sql=args.sql)
    return EXIT_OK if got.passed else EXIT_FAILED


def cmd_eval(args) -> int:
    from . import api

    try:
        got = api.evaluate(args.spec, args.data, real=args.real, label=args.label, text=args.text, seeds=args.seeds,
                           out=args.out)
    except api.SynthcError as e:
        return _api_error(e)
    emit_diagnostics(list(got.diagnostics), got.diagnostics.sources, "text")
    for w in got.figures.get("warnings", ()):
        print(f"synthc: warning: {w}", file=sys.stderr)
    if args.json:
        print(json.dumps(got.figures, indent=2, sort_keys=True, ensure_ascii=False))
    else:
        from .render.eval import render

        render(got.figures, got.files, _console(highlight=False, soft_wrap=True))
    return got.exit_code


def cmd_cache(args) -> int:
    from .tasks.cache import KEEP_DAYS, find_locks, find_roots, gc
    from .emit.lock import LockError
    from .run.cache import AnswerCache
    from .run.rowstore import RowStore

    if args.cache_command == "stats":
        roots = find_roots(Path.cwd())
        stats = [(r, AnswerCache(r).stats()) for r in roots]
        rows = {r: len(RowStore(r)) for r in roots}
        if args.json:
            print(json.dumps({"caches": [{"path": str(r), "entries": s.entries, "bytes": s.bytes,
                                          "stored_rows": rows[r]} for r, s in stats],
                              "entries": sum(s.entries for _, s in stats),
                              "bytes": sum(s.bytes for _, s in stats)}, indent=2))
        elif not stats:
            print("no cache found (set SYNTHC_CACHE, or run from a folder holding .synthc/)", file=sys.stderr)
        else:
            for r, s in stats:
                print(f"{r}: {s.entries:,} answers, {s.bytes / 1e6:,.1f} MB; {rows[r]:,} stored row answers")
        return EXIT_OK
    locks = [Path(p) for p in args.keep_lock] or find_locks(Path.cwd())
    if not locks:
        print("synthc: error: no *.sds.lock found under the current folder: pass --keep-lock SPEC.lock "
              "(gc keeps only what locks list)", file=sys.stderr)
        return EXIT_ERROR
    try:
        done = gc(locks, KEEP_DAYS if args.older_than is None else args.older_than, args.all, args.dry_run)
    except LockError as e:
        print(f"synthc: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    for g in done:
        why = [f"{len(locks)} lock{'s' * (len(locks) != 1)}"]
        if g.paid:
            why.append(f"{g.paid:,} paid by unfinished builds")
        if g.young:
            why.append(f"{g.young:,} unlisted but younger than {KEEP_DAYS if args.older_than is None else args.older_than:g} "
                       "days (--older-than DAYS, --all)")
        verb = "would remove" if args.dry_run else "removed"
        print(f"{g.root}: {verb} {g.removed:,} answers, kept {g.kept:,} ({'; '.join(why)})")
    return EXIT_OK


def cmd_diff(args) -> int:
    from . import api
    from .render.diff import render, to_json_dict, to_markdown

    if (args.base is None) != (len(args.paths) == 2) or len(args.paths) > 2:
        print("synthc: error: give OLD.sds NEW.sds, or one SPEC with --base REV", file=sys.stderr)
        return EXIT_ERROR
    try:
        result = api.diff(args.paths[0], args.paths[1] if args.base is None else None, base=args.base,
                          old_build=args.old_build, new_build=args.new_build, cache=args.cache,
                          endpoint=args.endpoint, model=args.model).result
    except api.UsageError as e:
        return _api_error(e)
    for side in (result.old, result.new):
        if side.diagnostics:
            print(f"in {side.label}:", file=sys.stderr)
            emit_diagnostics(side.diagnostics, side.check.sources, "text")
    if args.json:
        print(json.dumps(to_json_dict(result), indent=2, sort_keys=True, ensure_ascii=False))
    elif args.markdown:
        sys.stdout.write(to_markdown(result))
    else:

        render(result, _console(highlight=False))
    return EXIT_OK if result.ok else EXIT_ERROR


_COMMANDS = {"check": cmd_check, "fmt": cmd_fmt, "plan": cmd_plan, "explain": cmd_explain, "build": cmd_build, "diff": cmd_diff,
             "ingest": cmd_ingest, "validate": cmd_validate, "cache": cmd_cache, "eval": cmd_eval}


if __name__ == "__main__":
    sys.exit(main())
