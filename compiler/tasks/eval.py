"""`synthc eval SPEC [DATA] --real FILE`: the synthetic rows against real rows, written as eval.json and eval.md
(docs/EVAL.md). Returns an EvalResult whose exit code the CLI passes on; nothing here prints."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .. import ir
from ..evaluation.checks import RealData, calls
from ..evaluation.report import eval_md, evaluation
from ..evaluation.sides import EvalError, real_file, reference_file, synthetic_file
from ..emit.html import eval_html
from ..check.reference import file_sha256
from ..exits import EXIT_FAILED, EXIT_OK
from ..quality.realindex import FOLDER as INDEX_DIR
from ..run.cache import cache_root

MAX_SEEDS = 20


@dataclass
class EvalResult:
    exit_code: int
    report: dict
    written: list[Path] = field(default_factory=list)


def load_real(spec: ir.Spec, spec_path: Path, path: Optional[str], seeds: int) -> RealData:
    """The real side: FILE, or the spec's reference file (raises EvalError when there is neither or no rows)."""
    target = Path(path) if path else reference_file(spec, spec_path)
    if target is None:
        raise EvalError("the spec has no reference: name the real rows with --real FILE")
    side = real_file(spec, target)
    if not len(side):
        raise EvalError(f"{target}: no real rows")
    return RealData(spec, side, seeds, file_sha256(target), cache_root(Path(spec_path).resolve().parent) / INDEX_DIR)


def run(spec: ir.Spec, spec_path: Path, data: Optional[str] = None, real: Optional[str] = None,
        label: Optional[str] = None, text: Optional[str] = None, seeds: int = 3,
        out: Optional[str] = None) -> EvalResult:
    if not 1 <= seeds <= MAX_SEEDS:
        raise EvalError(f"--seeds must be from 1 to {MAX_SEEDS}, got {seeds}")
    data_path = Path(data) if data else Path("build") / f"{spec.dataset.name}.jsonl"
    if not data_path.is_file():
        raise EvalError(f"{data_path}: no such data file")
    syn = synthetic_file(spec, data_path)
    rd = load_real(spec, spec_path, real, seeds)
    for name, want in ((label, "categorical"), (text, "text")):
        if name is None:
            continue
        from ..evaluation.faithful import kind_of

        f = next((f for f in spec.fields if f.name == name), None)
        if f is None or kind_of(f) != want:
            raise EvalError(f"--{'label' if want == 'categorical' else 'text'} {name}: not a {want} field of the spec")
        if name not in syn.columns or name not in rd.side.columns:
            raise EvalError(f"`{name}` is not a column of both the data and the real rows")
    ev = evaluation(spec, syn, rd, label, text)
    ev["constraints"] = judge(spec, data_path, rd)
    ev["passed"] = all(c["passed"] for c in ev["constraints"])
    folder = Path(out) if out else data_path.parent
    folder.mkdir(parents=True, exist_ok=True)
    from ..atomic import write_atomic

    written = [folder / "eval.json", folder / "eval.md", folder / "eval.html"]
    write_atomic(written[0], json_bytes(ev))
    write_atomic(written[1], markdown(ev).encode("utf-8"))
    write_atomic(written[2], eval_html(ev).encode("utf-8"))
    return EvalResult(EXIT_OK if ev["passed"] else EXIT_FAILED, ev, written)


def judge(spec: ir.Spec, data_path: Path, rd: RealData) -> list[dict]:
    """The spec's constraints that read an evaluation aggregate, judged on the data as validate judges them."""
    from ..validate.checks import dataset_check
    from ..validate.load import load_file
    from ..validate.sql import expr_text

    chosen = [c for c in spec.constraints if c.kind == "dataset" and calls(c.expr)]
    if not chosen:
        return []
    loaded = load_file(spec, data_path)
    try:
        out = []
        for c in chosen:
            r = dataset_check(c, loaded, {}, spec.dataset.seed, rd)
            value = next(iter(r.values.values()), None) if r.values else None
            out.append({"name": c.name, "expr": expr_text(c.expr), "value": value, "passed": r.passed})
        return out
    finally:
        loaded.con.close()


def json_bytes(ev: dict) -> bytes:
    return (json.dumps(ev, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


def markdown(ev: dict) -> str:
    lines = [f"# {ev['dataset']}: evaluation", ""]
    if ev["constraints"]:
        lines += ["| constraint | value | |", "| --- | ---: | --- |"]
        for c in ev["constraints"]:
            value = "–" if c["value"] is None else f"{c['value']:.4f}"
            lines.append(f"| `{c['name']}`: `{c['expr']}` | {value} | {'✅' if c['passed'] else '❌'} |")
        lines.append("")
    return "\n".join(lines + eval_md(ev)) + "\n"
