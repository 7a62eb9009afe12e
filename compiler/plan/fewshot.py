"""Few-shot examples from real rows (`examples = NAME(K)`, LANGUAGE.md "Few-shot examples from real rows").

For a call, the candidates are the reference's pool (`ir.Reference.pool`: never held-out rows, at most 4 K per
stratum). Each candidate is ranked by how it agrees with the call's first row on the prompt's *stratum inputs*
(the reference's stratum fields the prompt reads): most fields agreeing first, and among equals the one agreeing
on earlier fields (declaration order); then by sha256("SEED:ID:ROW") of the call's first row id. The first K
are shown, so they come from the call's own stratum when it has any, else (or to make up K) from the nearest,
differ from call to call, and never repeat within a call. A pure function of the IR and the row: no network.
plan.requests sends them as earlier turns of the conversation (`example_turns`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

from .. import ir


@dataclass(frozen=True)
class Shown:
    """The real rows a call shows: `rows`, and when some do not share the call's stratum, the values of the
    stratum the first of those comes from (`nearest`)."""

    rows: tuple[ir.RealRow, ...]
    nearest: Optional[dict] = None


def stratum_inputs(spec: ir.Spec, prompt: ir.Prompt) -> tuple[str, ...]:
    ref = spec.reference
    return tuple(n for n in ref.strata_fields if n in prompt.inputs) if ref is not None else ()


def choose(spec: ir.Spec, prompt: ir.Prompt, row: Mapping) -> Shown:
    """The real rows shown with a call whose first row is `row` (its `id` and input values)."""
    want = prompt.real_examples
    ref = spec.reference
    if want is None or ref is None or "id" not in row:
        return Shown(())
    fields = stratum_inputs(spec, prompt)
    seed, first = spec.dataset.seed, row["id"]

    def rank(r: ir.RealRow):
        agree = tuple(r.values.get(n) == row.get(n) for n in fields)
        return (-sum(agree), tuple(not a for a in agree),
                hashlib.sha256(f"{seed}:{first}:{r.row}".encode("utf-8")).hexdigest())

    rows = tuple(sorted(ref.pool, key=rank)[: want.k])
    off = [r for r in rows if any(r.values.get(n) != row.get(n) for n in fields)]
    return Shown(rows, {n: off[0].values.get(n) for n in fields} if off else None)


def example(spec: ir.Spec, prompt: ir.Prompt, r: ir.RealRow) -> dict:
    """A real row as an example: the prompt's inputs and outputs that the reference maps."""
    return {n: r.values[n] for n in (*prompt.inputs, *prompt.outputs) if n in r.values}


def nearest_strata(spec: ir.Spec, prompt: ir.Prompt, strata: Sequence) -> list[tuple[dict, dict]]:
    """(stratum values, nearest stratum values) for each planned stratum whose calls cannot show real rows of
    its own stratum alone. A call's examples depend only on its first row's stratum and id; a stratum with
    fewer than K candidates of its own makes up K from the nearest, whatever the id."""
    if prompt.real_examples is None or spec.reference is None:
        return []
    fields = stratum_inputs(spec, prompt)
    out, seen = [], set()
    for s in strata:
        combo = tuple(s.values.get(n) for n in fields)
        if combo in seen:
            continue
        seen.add(combo)
        shown = choose(spec, prompt, {"id": f"{s.key}-000000", **s.values})
        if shown.nearest is not None:
            out.append((dict(zip(fields, combo)), shown.nearest))
    return out


def _label(values: Mapping) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items()) or "all rows"


def notes(spec: ir.Spec, strata: Sequence) -> list[str]:
    """The plan's word on calls that show real rows of the nearest stratum (LANGUAGE.md: "the plan says so")."""
    out = []
    for p in spec.prompts:
        found = nearest_strata(spec, p, strata)
        if found:
            shown = "; ".join(f"{_label(s)} from {_label(n)}" for s, n in found[:5])
            more = f" and {len(found) - 5} more" if len(found) > 5 else ""
            out.append(f"prompt {p.name}: {len(found)} strat{'um has' if len(found) == 1 else 'a have'} fewer than "
                       f"{p.real_examples.k} real rows to show, so {'its' if len(found) == 1 else 'their'} calls show rows of "
                       f"the nearest stratum "
                       f"({shown}{more})")
    return out
