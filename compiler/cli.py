"""The `synthc` command: parses arguments, calls the passes, renders their results. No compiler logic here.

Exit codes (every command): 0 ok, 1 checks failed (warnings under --strict, files fmt would change),
2 errors in the spec or the command line, 3 a run stopped with its work kept, 70 an internal error (a bug).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import __version__
from .diagnostics import CODES, Diagnostic, Sources, render_json, render_plain, render_rich, summary

EXIT_OK, EXIT_FAILED, EXIT_ERROR, EXIT_STOPPED, EXIT_INTERNAL = 0, 1, 2, 3, 70


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
    pl.add_argument("--emit-batch", metavar="FILE.jsonl", help="write round 1 in the OpenAI Batch API input format")
    pl.add_argument("--format", choices=("text", "json"), default="text", help="diagnostics as text or JSON")

    e = sub.add_parser("explain", help="explain an error code")
    e.add_argument("code", metavar="CODE")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("synthc: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except RecursionError:
        print("synthc: error: the spec nests too deeply to check", file=sys.stderr)
        return EXIT_ERROR
    except Exception as e:  # a bug: say so plainly, without a traceback, and with a distinct exit code
        print(f"synthc: internal error: {type(e).__name__}: {e}\nplease report this with the spec that caused it",
              file=sys.stderr)
        return EXIT_INTERNAL


# ---- rendering helpers ---------------------------------------------------------


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


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
        result = check_file(spec, spec, module_ok=True)
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
    from .check import check_file
    from . import plan as planning

    result = check_file(args.spec, args.spec)
    if not result.ok:
        emit_diagnostics(result.diagnostics, result.sources, args.format)
        return EXIT_ERROR
    plan = planning.build_plan(result.spec)
    problems = [_problem_diagnostic(p, result.spans) for p in plan.problems]
    if problems:
        emit_diagnostics(result.diagnostics + problems, result.sources, args.format)
        return EXIT_ERROR
    if result.diagnostics and args.format == "text":
        emit_diagnostics(result.diagnostics, result.sources, "text")
    if args.emit_batch:
        n = planning.write_batch(plan, result.spec, args.emit_batch)
        print(f"wrote {n} requests to {args.emit_batch}", file=sys.stderr)
    if args.json:
        print(json.dumps(plan.to_json_dict(), indent=2, sort_keys=True))
    else:
        from rich.console import Console

        planning.render(plan, Console(highlight=False))
    return EXIT_OK


def _problem_diagnostic(problem, spans) -> Diagnostic:
    located = [spans[s] for s in problem.subjects if s in spans]
    notes = tuple((f"`{s.split(':', 1)[-1]}` is declared here", spans[s]) for s in problem.subjects[1:] if s in spans)
    return Diagnostic(problem.code, problem.message, located[0] if located else None, problem.hint, notes=notes)


def cmd_explain(args) -> int:
    from .codes import explain

    text = explain(args.code.upper())
    if text is None:
        print(f"synthc: error: unknown code `{args.code}`; codes: {', '.join(CODES)}", file=sys.stderr)
        return EXIT_ERROR
    print(text)
    return EXIT_OK


_COMMANDS = {"check": cmd_check, "fmt": cmd_fmt, "plan": cmd_plan, "explain": cmd_explain}


if __name__ == "__main__":
    sys.exit(main())
