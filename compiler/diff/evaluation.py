"""How the three answers of the evaluation (faithful, private, useful) moved between two builds: the headline
figures of each build's `eval.json`, else of its report.json's `eval` (docs/EVAL.md), when both builds have one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from pydantic import BaseModel, ConfigDict


class EvalShift(BaseModel):
    """One figure of one answer in each build (None: that build does not have it)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    answer: str  # faithful | private | useful
    figure: str  # e.g. `auc(synopsis)`, `max(synopsis)`, `lift(section from synopsis)`
    old: Optional[float]
    new: Optional[float]


def read(folder: Path) -> Optional[dict]:
    for path, pick in ((folder / "eval.json", lambda d: d), (folder / "report.json", lambda d: d.get("eval"))):
        try:
            data = pick(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(data, dict) and "eval_version" in data:
            return data
    return None


def figures(ev: dict) -> dict[tuple[str, str], Optional[float]]:
    """The headline figures of one evaluation, in a fixed order."""
    out: dict[tuple[str, str], Optional[float]] = {}
    for name, f in sorted((ev.get("faithful") or {}).get("fields", {}).items()):
        if f.get("kind") == "categorical":
            out[("faithful", f"tvd({name})")] = f.get("tvd")
        elif f.get("kind") == "numeric":
            out[("faithful", f"ks({name})")] = f.get("ks")
        elif f.get("kind") == "text":
            out[("faithful", f"auc({name})")] = f.get("auc")
            out[("faithful", f"length_ks({name})")] = f.get("length_ks")
    for name, p in sorted((ev.get("private") or {}).get("texts", {}).items()):
        out[("private", f"max({name})")] = p.get("max")
        out[("private", f"share_above({name})")] = p.get("share_above")
    u = ev.get("useful") or {}
    if not u.get("skipped") and u.get("models"):
        task = f"{u.get('label')} from {u.get('text')}"
        for m in ("synthetic", "real", "real+synthetic"):
            out[("useful", f"macro_f1[{m}]({task})")] = ((u["models"].get(m) or {}).get("macro_f1") or {}).get("mean")
        out[("useful", f"lift({task})")] = (u.get("lift") or {}).get("mean")
        if "gate" in u:  # eval_version 2: the lift's 95% lower bound (tstr_lift) and the contamination
            out[("useful", f"lift_low({task})")] = (u.get("lift") or {}).get("low")
            out[("useful", f"contamination({task})")] = (u.get("contamination") or {}).get("rows")
    return out


def eval_shifts(old_dir: Path, new_dir: Path) -> tuple[bool, tuple[EvalShift, ...]]:
    """(both builds have an evaluation, every figure either has, in order)."""
    a, b = read(Path(old_dir)), read(Path(new_dir))
    if a is None or b is None:
        return False, ()
    fa, fb = figures(a), figures(b)
    keys = list(fb) + [k for k in fa if k not in fb]
    return True, tuple(EvalShift(answer=k[0], figure=k[1], old=fa.get(k), new=fb.get(k)) for k in keys)
