"""The dataset header: `dataset NAME { rows = N  seed = N  model = "..."  formats = [...]  description = "..." }`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import ast, ir
from ..diagnostics import Diagnostic, Span, did_you_mean
from ..limits import MAX_ROWS

if TYPE_CHECKING:
    from . import Checker

DATASET_SETTINGS = {"rows", "seed", "model", "formats", "description"}
FORMATS = ("jsonl", "parquet", "csv")


def check_header(c: "Checker") -> ir.Dataset | None:
    """The dataset header: exactly one, known settings, valid values; defaults filled in."""
    headers = [d for d in c.root.ast.decls if isinstance(d, ast.Dataset)]
    if not headers and c.is_module:
        return None
    if not headers:
        first = c.root.ast.decls[0].span if c.root.ast.decls else Span(c.root.id, 1, 1, 1, 2)
        c.report(Diagnostic("SDS004", "the spec has no `dataset` header",
                            Span(first.file, first.line, first.col, first.line, first.col + 1),
                            "start the spec with: dataset my_data { rows = 100 }"))
        return None
    for extra in headers[1:]:
        c.report(Diagnostic("SDS005", "a spec has one `dataset` header", extra.name_span,
                            notes=(("the first is here", headers[0].name_span),)))
    h = headers[0]
    c.spans["dataset"] = h.name_span
    vals: dict[str, ast.Setting] = {}
    for s in h.settings:
        if s.key not in DATASET_SETTINGS:
            c.report(Diagnostic("SDS006", f"unknown dataset setting `{s.key}`", s.key_span,
                                did_you_mean(s.key, DATASET_SETTINGS)
                                or f"settings: {', '.join(sorted(DATASET_SETTINGS))}"))
        elif s.key in vals:
            c.report(Diagnostic("SDS005", f"setting `{s.key}` is given twice", s.key_span))
        else:
            vals[s.key] = s
    ok = True
    rows = _rows(c, vals.get("rows"))
    if "rows" not in vals:
        c.report(Diagnostic("SDS007", "the dataset header needs `rows`", h.name_span, "add: rows = 1000"))
        ok = False
    seed = _whole(c, vals.get("seed"), 0, 2**63 - 1) if "seed" in vals else 0
    model = "embedded"
    if "model" in vals:
        v = vals["model"].value
        if isinstance(v, ast.Lit) and v.kind == "string" and v.value:
            model = v.value
        else:
            c.report(Diagnostic("SDS007", "`model` names a model profile as a string", vals["model"].span,
                                'e.g. model = "embedded"'))
            ok = False
    formats: tuple[str, ...] = ("jsonl",)
    if "formats" in vals:
        formats = _formats(c, vals["formats"])
        ok = ok and formats is not None
    description = None
    if "description" in vals:
        v = vals["description"].value
        if isinstance(v, ast.Lit) and v.kind == "string":
            description = v.value
        else:
            c.report(Diagnostic("SDS007", "`description` is a string", vals["description"].span))
            ok = False
    if not ok or rows is None or seed is None:
        return None
    return ir.Dataset(name=h.name, rows=rows, seed=seed, model=model, formats=formats, description=description)

def _whole(c: "Checker", s: ast.Setting | None, lo: int, hi: int) -> int | None:
    if s is None:
        return None
    v = s.value
    if isinstance(v, ast.Lit) and v.kind == "number" and v.value.denominator == 1 and lo <= v.value <= hi:
        return int(v.value)
    c.report(Diagnostic("SDS007", f"`{s.key}` takes a whole number from {lo:,} to {hi:,}", s.span))
    return None

def _rows(c: "Checker", s: ast.Setting | None) -> int | None:
    """`rows`: a whole number >= 1 (SDS007) and at most MAX_ROWS (SDS090, a limit rather than a wrong value)."""
    v = s.value if s is not None else None
    if isinstance(v, ast.Lit) and v.kind == "number" and v.value.denominator == 1 and v.value > MAX_ROWS:
        shown = f"{int(v.value):,}" if v.value < 10**30 else "a number this large"
        c.report(Diagnostic("SDS090", f"`rows` ({shown}) is above the limit of {MAX_ROWS:,} rows", v.span,
                            "a build holds a round's rows in memory; build a larger dataset as several specs "
                            "with different seeds"))
        return None
    return _whole(c, s, 1, MAX_ROWS)


def _formats(c: "Checker", s: ast.Setting):
    v = s.value
    items = v.items if isinstance(v, ast.ListLit) else (v,)
    out = []
    for item in items:
        name = item.name if isinstance(item, ast.Ref) else item.value if isinstance(item, ast.Lit) else None
        if name not in FORMATS:
            c.report(Diagnostic("SDS007", f"unknown output format `{name}`" if name else "a format is a name",
                                item.span, did_you_mean(str(name), FORMATS) or f"formats: {', '.join(FORMATS)}"))
            return None
        if name in out:
            c.report(Diagnostic("SDS005", f"format `{name}` is listed twice", item.span))
            return None
        out.append(name)
    return tuple(out) if out else None

# ---- fields ------------------------------------------------------------------
