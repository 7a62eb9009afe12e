"""The stage schedule of a round: prompts in the order their inputs allow, and after each prompt the row
constraints that have become decidable (its outputs, and the derived fields they complete, are known).

Stage 0 holds the constraints over planned values alone: a row that breaks one is dropped before anything is
paid for it. The last stage also takes every constraint still pending. The build and its predictions walk this
one schedule (generate.executor)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from .. import ir
from .model import PromptPlan


@dataclass(frozen=True)
class Stage:
    """One prompt's place in a round: its calls, and the constraints judged once its answers are in."""

    pp: PromptPlan
    newly: tuple[ir.Constraint, ...]
    last: bool


@dataclass(frozen=True)
class Schedule:
    ready: tuple[ir.Constraint, ...]  # decidable on planned values alone (stage 0)
    stages: tuple[Stage, ...]


def schedule(spec: ir.Spec, pps: Sequence[PromptPlan], constraints: Sequence[ir.Constraint]) -> Schedule:
    """The round's stages over `pps` for the row constraints a build judges."""
    known = planned_fields(spec)
    pending = list(constraints)
    ready = [c for c in pending if set(c.fields) <= known]
    pending = [c for c in pending if c not in ready]
    stages = []
    order = in_order(pps)
    for n, pp in enumerate(order):
        known |= set(spec.prompt(pp.prompt).outputs)
        known |= derivable(spec, known)
        newly = [c for c in pending if set(c.fields) <= known]
        pending = [c for c in pending if c not in newly]
        last = n == len(order) - 1
        stages.append(Stage(pp, tuple(newly + (pending if last else [])), last))
    return Schedule(tuple(ready), tuple(stages))


def planned_fields(spec: ir.Spec) -> set[str]:
    """The fields a row has before any call: sampled ones and the derived fields they complete."""
    names = {f.name for f in spec.fields if f.role == "sampled"}
    return names | derivable(spec, names)


def derivable(spec: ir.Spec, known: set[str]) -> set[str]:
    """The derived fields computable once `known` fields have values (not already in `known`)."""
    out = set(known)
    changed = True
    while changed:
        changed = False
        for f in spec.fields:
            if f.role == "derived" and f.name not in out and set(f.depends_on) <= out:
                out.add(f.name)
                changed = True
    return out - known


def in_order(pps: Sequence[PromptPlan]) -> list[PromptPlan]:
    """Prompts in declaration order, each after the prompts whose outputs it reads."""
    by_name = {pp.prompt: pp for pp in pps}
    return [by_name[n] for n in order_names([pp.prompt for pp in pps], {pp.prompt: set(pp.after) for pp in pps})]


def order_names(names: Sequence[str], after: Mapping[str, set]) -> list[str]:
    """`names` in their order, each after the names it is `after` (a cycle cannot pass the checker)."""
    done: set[str] = set()
    out: list[str] = []
    left = list(names)
    while left:
        ready = [n for n in left if after.get(n, set()) <= done] or left[:1]
        out.append(ready[0])
        done.add(ready[0])
        left.remove(ready[0])
    return out


def asked(planned: Mapping, generated: Mapping, rid: str, inputs) -> dict:
    """What a call tells the model about a row: its id and the prompt's inputs (planned or generated)."""
    merged = {**planned, **generated}
    return {"id": rid, **{k: merged[k] for k in inputs if k in merged}}
