"""Why a build stopped, as facts a user can act on: the `stopped` object of `synthc build --json`, also rendered
by the CLI. Per reason (each constraint, and each kind of answer problem: run.salvage), how many rows were
rejected over the whole build, one to three short examples, and what to do about it."""

from __future__ import annotations

from typing import Any

from .. import ir
from .accept import Rejections

EXAMPLE_CHARS = 80

_ADVICE = {
    "empty": "the model returned empty answers or no JSON: check that the endpoint serves this model, and that it "
             "supports JSON answers (response_format)",
    "truncated": "answers were cut off before their last rows: raise the prompt's max_tokens or lower its "
                 "rows_per_call",
    "unmatched_ids": "answers held rows that could not be matched to the rows asked for (ids not copied, rows in "
                     "another order or number): lower the prompt's rows_per_call, or use a stronger model",
    "missing": "answers held fewer rows than asked: lower the prompt's rows_per_call, or use a stronger model",
    "schema": "answer rows did not fit the fields' types: use a model with structured outputs (json_schema), "
              "describe the fields in the prompt, or use a stronger model",
}


def next_step(kind: str, max_calls=None) -> str:
    """What to do after a stop of this kind: a rerun resumes only where the stop was not the build's own verdict."""
    if kind == "ceiling":
        return (f"the same command makes no new call (the ceiling counts every call this build paid for): to go on, "
                f"pass --max-calls N with N above {max_calls:,}" if max_calls else
                "the same command makes no new call: pass --max-calls N to go on")
    if kind == "budget":
        return "the same command stops again before its first new call: pass a larger --max-calls or --max-cost"
    if kind == "yield":
        return ("the same command stops again at the same point (its answers are cached and judged the same): change "
                "what the rejections name (the prompt, the constraint, the model), or lower --min-yield on purpose")
    if kind == "rounds":
        return "change what the rejections name, or pass a larger --max-rounds; the same command resumes from the cache"
    if kind == "offline":
        return "run without --offline to make the missing calls"
    return "the same command resumes from the cache once the cause is fixed"


def diagnose(spec: ir.Spec, stop, rejected: Rejections, calls: int, budget, rounds: int) -> dict[str, Any]:
    """The `stopped` object for a Stopped `stop` (generate.guard)."""
    reasons = rejected.by_reason()
    constraints = {c.name for c in spec.constraints}
    advice = []
    for name, r in reasons.items():
        if name in constraints:
            advice.append(f"constraint {name} rejected {r['count']:,} rows: loosen or fix it, change the prompt so "
                          "answers meet it, or use a stronger model")
        elif name in _ADVICE:
            advice.append(f"{name.replace('_', ' ')} ({r['count']:,} rows): {_ADVICE[name]}")
    if stop.kind == "yield":
        advice.append(f"to build anyway at this yield, lower the floor on purpose: --min-yield 0.05 (0 turns the "
                      f"breaker off); the default ceiling of calls still applies")
    elif stop.kind == "ceiling":
        advice.append("to allow more calls on purpose: --max-calls N (or --max-cost USD)")
    out: dict[str, Any] = {"reason": stop.kind, "message": stop.message, "calls": calls, "rounds": rounds}
    out |= {k: v for k, v in stop.facts.items() if v is not None}
    if budget.max_calls is not None:
        out.setdefault("max_calls", budget.max_calls)
    out["rejected"] = {n: {"count": r["count"], "examples": [_short(e) for e in r["examples"]]}
                       for n, r in reasons.items()}
    out["advice"] = advice
    out["next"] = next_step(stop.kind, out.get("max_calls"))
    return out


def _short(example: dict) -> dict:
    out = {}
    for k, v in example.items():
        if isinstance(v, dict):
            v = _short(v)
        elif isinstance(v, str) and len(v) > EXAMPLE_CHARS:
            v = v[: EXAMPLE_CHARS - 1] + "…"
        out[k] = v
    return out


def lines(details: dict) -> list[str]:
    """The diagnosis as text lines for the terminal (after the `stopped:` line)."""
    out = []
    rejected = details.get("rejected") or {}
    if rejected:
        out.append("rejected rows, by reason:")
        for name, r in rejected.items():
            out.append(f"  {name}: {r['count']:,}")
            for e in r["examples"]:
                shown = e.get("reason") or ", ".join(f"{k} = {v!r}" for k, v in (e.get("values") or {}).items())
                out.append(f"    e.g. {e.get('_id')}: {shown}")
    for a in details.get("advice") or []:
        out.append(f"help: {a}")
    return out
