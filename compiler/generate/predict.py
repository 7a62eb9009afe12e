"""Round 1 of a build, replayed without calling anything: which requests it would send and which of them the
cache already answers. `synthc diff` prices a change with it, `synthc plan` says what a build will spend now, and
`plan --emit-batch` / `ingest` emit and map back exactly the calls the build will make.

The replay follows the executor (build/executor.py) step by step, with the build's own pieces (`RowSource`,
`iter_calls`, `request_body`, `request_key`, `salvage`, `full_row`, `accept.broken`): rows that break a
constraint on planned values alone are dropped before any call; prompts run in the executor's order; a call
leaves out rows rejected at an earlier stage (and so gets another id, seed and key); after each prompt, the
constraints its outputs make decidable drop rows. Rows whose answer is cached carry its values to later
prompts, so a spec whose prompts read each other's outputs is predicted exactly as far as the cache reaches.
A row whose answer is not cached has those outputs `unknown`: a later prompt that reads them makes a call
counted as new, without a key (its request holds text not written yet); a later prompt that does not read them
asks for the row as usual (assuming the unknown answer is accepted).
As in the executor, a row whose answer to its very request the row store holds (run.rowstore) is carried
without a call, and when any row of a prompt is, the prompt's other rows are packed anew (batch.repack).
Top-up rounds (k > 1) depend on how many rows the model gets wrong and are not predicted.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import IO, Optional, Sequence

from .. import ir
from .accept import broken, row_constraints
from .executor import asked, derivable, in_order
from .select import full_row
from ..plan import Plan, PromptPlan, RowSource, iter_calls, row_id
from ..plan.cost import cost_usd
from ..plan.batch import repack
from ..plan.requests import URL, RowDigest, request_body
from ..plan.rows import Call, call_id
from ..run.cache import AnswerCache, request_key
from ..run.client import Answer
from ..run.rowstore import RowStore
from ..run.salvage import row_model, salvage



@dataclass(frozen=True)
class PredictedCall:
    """key: the request's cache key, body: the request; both None when it depends on an answer not made yet."""

    prompt: str
    id: str
    rows: int
    key: Optional[str]
    cached: bool
    body: Optional[dict] = None


def calls_cost(plan: Plan, pp: PromptPlan, calls: Sequence[PredictedCall]) -> Optional[float]:
    """The plan's estimate for these calls of one prompt (tokens per call and per row, priced once as the
    plan prices a prompt); None when the model's prices are unknown."""
    rows = sum(c.rows for c in calls)
    return cost_usd(len(calls) * pp.prompt_tokens_per_call + rows * pp.prompt_tokens_per_row,
                    len(calls) * pp.completion_tokens_per_call + rows * pp.completion_tokens_per_row,
                    plan.profile_of(pp))


@dataclass
class Replay:
    """Round 1 replayed: the calls it would make, and per prompt the rows carried from the row store."""

    calls: list[PredictedCall] = field(default_factory=list)
    carried: Counter = field(default_factory=Counter)


def round_one(spec: ir.Spec, plan: Plan, identity: str, cache: Optional[AnswerCache],
              store: Optional[RowStore] = None) -> Replay:
    """The calls round 1 of `synthc build` would make for this plan, in the order it makes them."""
    replay = Replay()
    if not plan.ok or not plan.prompts:
        return replay
    source = RowSource(spec, plan)
    spans: dict[int, list[int]] = {}
    for pp in plan.prompts:
        for b in pp.batches:
            for seg in b.segments:
                lo, hi = spans.get(seg.stratum, [seg.start, seg.start + seg.count])
                spans[seg.stratum] = [min(lo, seg.start), max(hi, seg.start + seg.count)]
    planned: dict[tuple[int, int], dict] = {}
    for si, (lo, hi) in sorted(spans.items()):
        for i, row in enumerate(source.rows(si, lo, hi - lo), lo):
            planned[(si, i)] = row
    state: dict[tuple[int, int], object] = {}
    for pp in plan.prompts:
        for b in pp.batches:
            for seg in b.segments:
                for i in range(seg.start, seg.start + seg.count):
                    state[(seg.stratum, i)] = {}

    pending = row_constraints(spec, plan)
    known = {f.name for f in spec.fields if f.role == "sampled"}
    known |= derivable(spec, known)
    ready = [c for c in pending if set(c.fields) <= known]
    pending = [c for c in pending if c not in ready]
    _judge(spec, planned, state, list(state), ready)

    out = replay.calls
    unknown: dict[tuple[int, int], set[str]] = {}  # per row: outputs waiting for an answer the cache lacks
    order = in_order(plan.prompts)
    for n, pp in enumerate(order):
        prompt = spec.prompt(pp.prompt)
        known |= set(prompt.outputs)
        known |= derivable(spec, known)
        newly = [c for c in pending if set(c.fields) <= known]
        pending = [c for c in pending if c not in newly]
        if n == len(order) - 1:
            newly += pending
        model = row_model([spec.field(o) for o in prompt.outputs])
        inputs = set(prompt.inputs)
        answered: list[tuple[int, int]] = []
        calls = list(iter_calls(pp, plan.strata))
        if store is not None and len(store):
            fresh, digest = [], RowDigest(spec, plan, pp, identity)
            for call in calls:
                for r in call.rows:
                    if state.get(r) is None:
                        continue
                    rid = row_id(plan.strata[r[0]].key, r[1])
                    e = None if unknown.get(r, set()) & inputs else store.get(
                        rid, digest(asked(planned[r], state[r], rid, prompt.inputs)))
                    if e is None:
                        fresh.append(r)
                        continue
                    replay.carried[pp.prompt] += 1
                    if e["values"] is None:
                        state[r] = None
                    else:
                        state[r].update(e["values"])
                        answered.append(r)
            if replay.carried[pp.prompt]:
                calls = list(iter_calls(repack(spec, pp, plan.strata, fresh), plan.strata))
        for call in calls:
            alive = [r for r in call.rows if state.get(r) is not None]
            if not alive:
                continue
            if len(alive) != len(call.rows):
                first = row_id(plan.strata[alive[0][0]].key, alive[0][1])
                call = Call(call.prompt, call_id(call.prompt, first, len(alive)), tuple(alive))
            if any(unknown.get(r, set()) & inputs for r in alive):
                for r in alive:
                    unknown.setdefault(r, set()).update(prompt.outputs)
                out.append(PredictedCall(pp.prompt, call.id, len(alive), None, False))
                continue
            ids = [row_id(plan.strata[si].key, i) for si, i in alive]
            rows = [asked(planned[r], state[r], rid, prompt.inputs) for r, rid in zip(alive, ids)]
            body = request_body(spec, plan, pp, call, rows)
            key = request_key(identity, body)
            answer = _cached(cache, key)
            out.append(PredictedCall(pp.prompt, call.id, len(alive), key, answer is not None, body))
            if answer is None:
                for r in alive:
                    unknown.setdefault(r, set()).update(prompt.outputs)
                continue
            found = salvage(answer.content, ids, model, rows)
            for r, rid in zip(alive, ids):
                values = found.rows.get(rid)
                if values is None:
                    state[r] = None
                else:
                    state[r].update(values)
                    answered.append(r)
        _judge(spec, planned, state, [r for r in answered if r not in unknown], newly)
        for r, s in state.items():  # rows this prompt did not reach are out of the round, as in the executor
            if s is not None and not set(prompt.outputs) <= set(s) | unknown.get(r, set()):
                state[r] = None
    return replay


def batch_lines(spec: ir.Spec, plan: Plan, identity: str, cache: Optional[AnswerCache], new_only: bool) -> list[dict]:
    """Round 1 as the build will ask it, in the OpenAI Batch API input format (`custom_id` = call id): the calls
    whose request is known now (a prompt reading another's outputs waits for them, unless they are cached),
    leaving out rows the row store answers and, with `new_only`, calls the cache answers. `plan --emit-batch`
    writes the new ones; `ingest` maps every one back to its request."""
    store = RowStore(cache.root) if cache is not None else None
    return [{"custom_id": c.id, "method": "POST", "url": URL, "body": c.body}
            for c in round_one(spec, plan, identity, cache, store).calls
            if c.body is not None and not (new_only and c.cached)]


def this_build(spec: ir.Spec, plan: Plan, identity: str, cache: AnswerCache) -> Optional[dict]:
    """What round 1 of a build will spend with the cache as it is: `{calls, calls_cached, rows_carried,
    cost_est_usd}` (new calls, calls the cache answers, row answers the row store carries, the new calls'
    estimated cost); None when the cache answers nothing, so the plan's own figures are the build's."""
    if not cache.root.is_dir():
        return None
    replay = round_one(spec, plan, identity, cache, RowStore(cache.root))
    new = [c for c in replay.calls if not c.cached]
    carried = sum(replay.carried.values())
    if len(new) == len(replay.calls) and not carried:
        return None
    costs = [calls_cost(plan, pp, [c for c in new if c.prompt == pp.prompt]) for pp in plan.prompts]
    return {"calls": len(new), "calls_cached": len(replay.calls) - len(new), "rows_carried": carried,
            "cost_est_usd": None if any(c is None for c in costs) else round(sum(costs), 6)}


def write_batch(lines: list[dict], out: str | IO[str]) -> int:
    """Batch lines as JSONL, one request per line with sorted keys; returns how many."""
    if isinstance(out, str):
        with open(out, "w", encoding="utf-8") as fp:
            return write_batch(lines, fp)
    for line in lines:
        out.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
    return len(lines)


def _cached(cache: Optional[AnswerCache], key: str) -> Optional[Answer]:
    stored = cache.get(key) if cache is not None else None
    if stored is None:
        return None
    try:
        return Answer.from_dict(stored)
    except TypeError:  # an entry from an incompatible version: the build asks again (run.fetch)
        return None


def _judge(spec: ir.Spec, planned: dict, state: dict, rows: list, constraints: list[ir.Constraint]) -> None:
    rows = [r for r in rows if isinstance(state.get(r), dict)]
    if not rows or not constraints:
        return
    full = {r: full_row(spec, planned[r], state[r]) for r in rows}
    verdicts = broken(spec, list(full.values()), constraints)
    for r in rows:
        if verdicts.get(full[r]["_id"]):
            state[r] = None
