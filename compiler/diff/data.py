"""The dataset delta between two builds: rows added, removed and changed by `_id` (with the fields that
changed), marginal shifts, and checks whose state changed.

Reads `<dataset>.jsonl` of each build folder (docs/BUILD.md "Outputs") and, when both have one, `report.json`:
its `marginals` (actual shares) and `checks`. Without both reports the shares are counted from the rows over
the specs' categorical fields, and checks are not compared.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from pydantic import BaseModel, ConfigDict

from .. import ir
from ..validate.models import value_key
from .evaluation import EvalShift, eval_shifts
from .revision import DiffError

ID = "_id"
LISTED = 1000  # ids listed per kind of change (the counts are always complete)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RowChange(_Frozen):
    id: str
    fields: tuple[str, ...]


class MarginalShift(_Frozen):
    """The actual share of `value` of `field` in each build (None: absent there)."""

    field: str
    value: str
    old: Optional[float]
    new: Optional[float]

    @property
    def delta(self) -> float:
        return (self.new or 0.0) - (self.old or 0.0)


class CheckChange(_Frozen):
    """A check whose state changed. old/new: `passed` | `failed` | None (not run by that build)."""

    name: str
    kind: Optional[str]
    old: Optional[str]
    new: Optional[str]
    old_violations: Optional[int] = None
    new_violations: Optional[int] = None


class DataDelta(_Frozen):
    old_rows: int
    new_rows: int
    rows_added: int
    rows_removed: int
    rows_changed: int
    rows_unchanged: int
    added: tuple[str, ...]  # the first LISTED ids of each kind, in id order
    removed: tuple[str, ...]
    changed: tuple[RowChange, ...]
    changed_fields: dict[str, int]  # field -> rows whose value of it changed
    marginals: tuple[MarginalShift, ...]  # only values whose share moved
    marginals_from: str  # report | rows
    checks: tuple[CheckChange, ...]  # only checks whose state changed
    checks_compared: bool
    evaluation: tuple[EvalShift, ...] = ()  # the evaluation's headline figures in each build (diff/evaluation.py)
    evaluation_compared: bool = False  # both builds have an evaluation (eval.json or report.json's `eval`)


def _dataset_file(folder: Path, name: Optional[str]) -> Path:
    if not folder.is_dir():
        raise DiffError(f"build folder {folder} does not exist")
    if name and (folder / f"{name}.jsonl").is_file():
        return folder / f"{name}.jsonl"
    found = sorted(folder.glob("*.jsonl"))
    if len(found) == 1:
        return found[0]
    want = f"{name}.jsonl" if name else "a <dataset>.jsonl"
    raise DiffError(f"build folder {folder} has no {want}" + (f" (found {', '.join(p.name for p in found)})"
                                                             if found else ""))


def read_rows(path: Path) -> dict[str, dict]:
    rows: dict[str, dict] = {}
    try:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError as e:
                    raise DiffError(f"{path}:{n}: not JSON ({e})") from None
                if not isinstance(row, dict) or not isinstance(row.get(ID), str):
                    raise DiffError(f"{path}:{n}: a row without an `{ID}`")
                rows[row[ID]] = row
    except OSError as e:
        raise DiffError(f"cannot read {path}: {e.strerror}") from None
    return rows


def _report(folder: Path) -> Optional[dict]:
    try:
        data = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _shares_from_rows(rows: dict[str, dict], fields: list[str]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    n = len(rows) or 1
    for f in fields:
        counts: dict[str, int] = {}
        for r in rows.values():
            k = value_key(r.get(f))
            counts[k] = counts.get(k, 0) + 1
        out[f] = {k: c / n for k, c in counts.items()}
    return out


def _shares_from_report(report: dict) -> dict[str, dict[str, float]]:
    out = {}
    for f, values in (report.get("marginals") or {}).items():
        if isinstance(values, dict):
            out[f] = {k: v.get("actual") for k, v in values.items() if isinstance(v, dict)}
    return out


def _categorical(spec: Optional[ir.Spec]) -> list[str]:
    return [f.name for f in spec.fields if f.categorical] if spec is not None else []


def _state(c: Optional[dict]) -> Optional[str]:
    if c is None:
        return None
    return "passed" if c.get("passed") else "failed"


def data_delta(old_dir: Path, new_dir: Path, old_spec: Optional[ir.Spec] = None,
               new_spec: Optional[ir.Spec] = None) -> DataDelta:
    """Compare the builds in two folders; the specs name the dataset files and the categorical fields."""
    old_dir, new_dir = Path(old_dir), Path(new_dir)
    old = read_rows(_dataset_file(old_dir, old_spec.dataset.name if old_spec else None))
    new = read_rows(_dataset_file(new_dir, new_spec.dataset.name if new_spec else None))
    added = sorted(k for k in new if k not in old)
    removed = sorted(k for k in old if k not in new)
    changed: list[RowChange] = []
    per_field: dict[str, int] = {}
    for k in sorted(k for k in new if k in old):
        a, b = old[k], new[k]
        diff = tuple(sorted(f for f in set(a) | set(b) if f != ID and a.get(f) != b.get(f)))
        if diff:
            changed.append(RowChange(id=k, fields=diff))
            for f in diff:
                per_field[f] = per_field.get(f, 0) + 1

    ro, rn = _report(old_dir), _report(new_dir)
    order = list(dict.fromkeys(_categorical(new_spec) + _categorical(old_spec)))
    if ro is not None and rn is not None:
        so, sn, source = _shares_from_report(ro), _shares_from_report(rn), "report"
        order += sorted((set(so) | set(sn)) - set(order))
    else:  # without specs there are no categorical fields to count: no shifts
        so, sn, source = _shares_from_rows(old, order), _shares_from_rows(new, order), "rows"
    shifts = []
    for f in order:
        a, b = so.get(f, {}), sn.get(f, {})
        for v in list(b) + sorted(v for v in a if v not in b):
            if a.get(v) is None and b.get(v) is None:
                continue
            if a.get(v) is None or b.get(v) is None or abs(a[v] - b[v]) > 1e-9:
                shifts.append(MarginalShift(field=f, value=v, old=a.get(v), new=b.get(v)))

    checks: list[CheckChange] = []
    if ro is not None and rn is not None:
        co = {c.get("name"): c for c in ro.get("checks") or [] if isinstance(c, dict)}
        cn = {c.get("name"): c for c in rn.get("checks") or [] if isinstance(c, dict)}
        for name in list(cn) + [n for n in co if n not in cn]:
            a, b = co.get(name), cn.get(name)
            if _state(a) != _state(b):
                checks.append(CheckChange(name=str(name), kind=(b or a).get("kind"), old=_state(a), new=_state(b),
                                          old_violations=a.get("violations") if a else None,
                                          new_violations=b.get("violations") if b else None))
    compared, moved = eval_shifts(old_dir, new_dir)
    return DataDelta(
        old_rows=len(old), new_rows=len(new), rows_added=len(added), rows_removed=len(removed),
        rows_changed=len(changed), rows_unchanged=len(old) - len(removed) - len(changed),
        added=tuple(added[:LISTED]), removed=tuple(removed[:LISTED]), changed=tuple(changed[:LISTED]),
        changed_fields=dict(sorted(per_field.items(), key=lambda kv: (-kv[1], kv[0]))),
        marginals=tuple(shifts), marginals_from=source, checks=tuple(checks),
        checks_compared=ro is not None and rn is not None, evaluation=moved, evaluation_compared=compared)
