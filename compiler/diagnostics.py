"""Spans, diagnostics and their three renderings: rich (terminal), plain (pipe) and JSON (editors, CI).

Errors are values: passes collect them and return them; only the CLI renders.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from typing import Iterable, Mapping

# Every code the compiler can emit, with a one-line title. LANGUAGE.md lists them; tests keep the two in step.
CODES: dict[str, str] = {
    "SDS001": "syntax error",
    "SDS002": "invalid token",
    "SDS003": "unreadable source file",
    "SDS004": "missing dataset header",
    "SDS005": "duplicate declaration",
    "SDS006": "unknown setting",
    "SDS007": "invalid setting value",
    "SDS010": "undefined name",
    "SDS011": "unknown category value",
    "SDS012": "type mismatch",
    "SDS013": "shares do not add up",
    "SDS014": "empty or invalid range",
    "SDS015": "invalid distribution",
    "SDS016": "template references an unknown field",
    "SDS017": "dependency cycle",
    "SDS018": "constraint can never hold",
    "SDS019": "wrong use of a function",
    "SDS020": "module not found",
    "SDS021": "import cycle",
    "SDS022": "import path leaves the project",
    "SDS023": "name not exported by module",
    "SDS024": "conditional distribution does not cover its condition",
    "SDS025": "invalid joint table",
    "SDS026": "invalid prompt",
    "SDS027": "invalid generated field",
    "SDS028": "aggregate used in a row-level expression",
    "SDS029": "infeasible targets",
    "SDS030": "too many strata to plan",
    "SDS031": "number out of range",
    "SDS032": "nested too deeply",
    "SDS033": "reserved field name",
    "SDS034": "regular expression DuckDB does not read the same way",
    "SDS035": "dataset constraint the planned rows cannot meet",
    "SDS050": "unknown object member",
    "SDS060": "a `per` field without a finite set of values",
    "SDS061": "`per` after a row-level constraint",
    "SDS062": "`per` on tvd, drift, unique or near_unique",
    "SDS070": "wrong use of a content-quality function",
    "SDS071": "invalid judge",
    "SDS072": "wrong use of a judge",
    "SDS073": "judge threshold outside its scale or deciding nothing",
    "SDS078": "judge read by no constraint",
    "SDS079": "judge reads no generated field",
    "SDS080": "reference file cannot be read",
    "SDS081": "reference path leaves the project",
    "SDS082": "reference column not found",
    "SDS083": "reference column of the wrong type",
    "SDS084": "reference value outside the field's domain",
    "SDS085": "invalid reference",
    "SDS086": "invalid examples from a reference",
    "SDS090": "too many rows",
    "SDS091": "range bound too large",
    "SDS092": "distribution parameter too large",
    "SDS093": "template too long",
    "SDS094": "expression too large after inlining",
    "SDS096": "derived chain too long",
    "SDS095": "joint table too large",
    "SDS101": "prompt writes no field",
    "SDS103": "constraint always holds",
    "SDS140": "reference column has missing values",
    "SDS155": "division by a value that can be zero",
    "SDS160": "evaluation against real data without a reference",
    "SDS161": "invalid use of an evaluation aggregate",
    "SDS162": "`per` on an evaluation aggregate",
    "SDS163": "evaluation bound that never or always holds",
}


@dataclass(frozen=True, order=True)
class Span:
    """A region of a source file: 1-based line and column, end exclusive."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int

    def to(self, other: "Span") -> "Span":
        return Span(self.file, self.line, self.col, other.end_line, other.end_col)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    span: Span | None
    hint: str | None = None
    severity: str = "error"  # or "warning"
    notes: tuple[tuple[str, Span], ...] = field(default=())

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def as_json(self) -> dict:
        out: dict = {"code": self.code, "severity": self.severity, "message": self.message}
        if self.span is not None:
            s = self.span
            out.update(file=s.file, line=s.line, col=s.col, end_line=s.end_line, end_col=s.end_col)
        if self.hint:
            out["hint"] = self.hint
        if self.notes:
            out["notes"] = [{"message": m, "file": s.file, "line": s.line, "col": s.col} for m, s in self.notes]
        return out


def problem_diagnostic(problem, spans: Mapping[str, Span]) -> Diagnostic:
    """A planner problem (plan.PlanProblem: code, message, subjects, hint) as a diagnostic at its first subject's
    span, with a note at each other subject's."""
    located = [spans[s] for s in problem.subjects if s in spans]
    notes = tuple((f"`{s.split(':', 1)[-1]}` is declared here", spans[s]) for s in problem.subjects[1:] if s in spans)
    return Diagnostic(problem.code, problem.message, located[0] if located else None, problem.hint, notes=notes)


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """A 'did you mean' hint for a misspelt name, or None."""
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None


def sort_key(d: Diagnostic):
    s = d.span
    return (s.file, s.line, s.col, d.code, d.message) if s else ("", 0, 0, d.code, d.message)


class Sources:
    """The text of every file a run read, so diagnostics can quote it."""

    def __init__(self) -> None:
        self._text: dict[str, list[str]] = {}

    def add(self, path: str, text: str) -> None:
        self._text[path] = text.split("\n")

    def line(self, path: str, n: int) -> str | None:
        lines = self._text.get(path)
        if lines is None or not 1 <= n <= len(lines):
            return None
        return lines[n - 1]


def _caret(d: Diagnostic, sources: Sources) -> tuple[str, str] | None:
    s = d.span
    if s is None:
        return None
    text = sources.line(s.file, s.line)
    if text is None:
        return None
    text = text.expandtabs(1)
    end = s.end_col if s.end_line == s.line else len(text) + 1
    width = max(1, end - s.col)
    return text, " " * (s.col - 1) + "^" * width


def render_plain(diags: Iterable[Diagnostic], sources: Sources) -> str:
    """rustc-style text: `error[SDS010]: ...`, `--> file:line:col`, the line, a caret span, `help:`."""
    out: list[str] = []
    for d in diags:
        out.append(f"{d.severity}[{d.code}]: {d.message}")
        if d.span is not None:
            out.append(f"  --> {d.span}")
            quoted = _caret(d, sources)
            if quoted:
                gutter = str(d.span.line)
                pad = " " * len(gutter)
                out += [f"{pad} |", f"{gutter} | {quoted[0]}", f"{pad} | {quoted[1]}"]
        for message, span in d.notes:
            out.append(f"  note: {message} ({span})")
        if d.hint:
            out.append(f"  help: {d.hint}")
        out.append("")
    return "\n".join(out)


def render_rich(diags: Iterable[Diagnostic], sources: Sources, console) -> None:
    """The same layout as plain text, coloured, on a rich console."""
    from rich.text import Text

    for d in diags:
        colour = "red" if d.is_error else "yellow"
        head = Text()
        head.append(f"{d.severity}[{d.code}]", style=f"bold {colour}")
        head.append(f": {d.message}", style="bold")
        console.print(head)
        if d.span is not None:
            console.print(Text(f"  --> {d.span}", style="blue"))
            quoted = _caret(d, sources)
            if quoted:
                gutter = str(d.span.line)
                pad = " " * len(gutter)
                console.print(Text(f"{pad} |", style="blue"))
                line = Text(f"{gutter} | ", style="blue")
                line.append(quoted[0])
                console.print(line)
                caret = Text(f"{pad} | ", style="blue")
                caret.append(quoted[1], style=f"bold {colour}")
                console.print(caret)
        for message, span in d.notes:
            console.print(Text(f"  note: {message} ({span})", style="cyan"))
        if d.hint:
            console.print(Text(f"  help: {d.hint}", style="green"))
        console.print()


def render_json(diags: Iterable[Diagnostic]) -> str:
    return json.dumps({"diagnostics": [d.as_json() for d in diags]}, indent=2, sort_keys=True)


def summary(diags: list[Diagnostic]) -> str:
    errors = sum(d.is_error for d in diags)
    warnings = len(diags) - errors
    return f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
