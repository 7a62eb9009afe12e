"""The partial result of a build that stopped (exit 3: a ceiling, a budget, the yield breaker, Ctrl-C, ...):
the rows it accepted, in `<dataset>.partial.jsonl`, and what is missing and why, in `<dataset>.partial.json`
and `<dataset>.partial.md` (docs/BUILD.md, "Partial results"). Never the dataset's own file names: the files of
the last finished build stay as they were. A finished build removes these files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Optional

from ..ir import Spec
from .outputs import jsonl_bytes, write_atomic

PARTIAL_VERSION = 1


def partial_files(out: Path, dataset: str) -> tuple[Path, Path, Path]:
    """The rows, the JSON report and the markdown report of a stopped build."""
    out = Path(out)
    return out / f"{dataset}.partial.jsonl", out / f"{dataset}.partial.json", out / f"{dataset}.partial.md"


def partial_report(spec: Spec, rows: int, planned: int, shortfall: Mapping[str, int], reason: str, message: str,
                   details: Optional[Mapping] = None) -> dict:
    """`partial_version`, `dataset`, `rows` (accepted and written), `rows_planned`, `rows_missing`, `missing`
    (stratum key -> rows), `reason`, `message`, `checked` and `stopped` (build --json's object, when known)."""
    return {
        "partial_version": PARTIAL_VERSION,
        "dataset": spec.dataset.name,
        "rows": rows,
        "rows_planned": planned,
        "rows_missing": sum(shortfall.values()),
        "missing": dict(sorted(shortfall.items())),
        "reason": reason,
        "message": message,
        "checked": "each row passed the row constraints and types; dataset constraints and targets were not checked",
        **({"stopped": dict(details)} if details else {}),
    }


def partial_md(report: Mapping) -> str:
    lines = [f"# {report['dataset']}: partial result", "",
             f"The build stopped ({report['reason']}): {report['message']}", "",
             f"{report['rows']:,} of {report['rows_planned']:,} rows were accepted and are in "
             f"`{report['dataset']}.partial.jsonl`; {report['rows_missing']:,} are missing. {report['checked']}.", ""]
    nxt = (report.get("stopped") or {}).get("next")
    if nxt:
        lines += [f"Next: {nxt}.", ""]
    missing = report["missing"]
    if missing:
        lines += ["| stratum | rows missing |", "| --- | ---: |"]
        worst = sorted(missing.items(), key=lambda kv: (-kv[1], kv[0]))
        lines += [f"| `{k}` | {n:,} |" for k, n in worst[:20]]
        if len(worst) > 20:
            lines.append(f"| and {len(worst) - 20:,} more strata | {sum(n for _, n in worst[20:]):,} |")
        lines.append("")
    return "\n".join(lines)


def write_partial(spec: Spec, out: Path, rows: list[dict], report: Mapping) -> list[Path]:
    """Writes the three files (each atomically); their paths."""
    data, meta, md = partial_files(out, spec.dataset.name)
    write_atomic(data, jsonl_bytes(rows))
    write_atomic(meta, (json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8"))
    write_atomic(md, partial_md(report).encode("utf-8"))
    return [data, meta, md]


def remove_partial(out: Path, dataset: str) -> None:
    """A finished build's outputs replace any partial result of an earlier stopped run."""
    for p in partial_files(out, dataset):
        p.unlink(missing_ok=True)
