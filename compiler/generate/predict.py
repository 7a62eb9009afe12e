"""Round 1 of a build, replayed without calling anything: which requests it would send and which of them the
cache already answers. `synthc diff` prices a change with it, `synthc plan` says what a build will spend now, and
`plan --emit-batch` / `ingest` emit and map back exactly the calls the build will make.

The replay is the build's own round engine (executor.py) with the cache as its answer source (source.py
CacheSource): the same stages, row-store carry, repacking, call re-ids and judging. A row whose answer is not
cached has its outputs unknown: a later prompt that reads them makes a call counted as new, without a key (its
request holds text not written yet); a later prompt that does not read them asks for the row as usual
(assuming the unknown answer is accepted). Top-up rounds (k > 1) depend on how many rows the model gets wrong
and are not predicted.

Before replaying, `round_one` asks the row store's index (docs/BUILD.md, "Pricing round 1 from the row store's
index"): when it shows every row of round 1 carried or rejected by a constraint over planned values, at every
prompt, the round makes no call and its carried rows are counted per stratum from the index's runs, in
O(strata x prompts). Otherwise the round is replayed row by row.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Optional, Sequence

from .. import ir
from ..plan import Plan, PromptPlan
from ..plan.carry import Runs, contexts, count, intersect, stratum_digest, subtract, union
from ..plan.cost import cost_usd
from ..plan.judges import engine_spec
from ..plan.stages import schedule
from ..plan.requests import URL
from ..run.cache import AnswerCache
from ..run.rowstore import RowStore
from .accept import row_constraints
from .executor import Budget, Executor
from .source import CacheSource, PredictedCall

__all__ = ["PredictedCall", "Replay", "batch_lines", "calls_cost", "from_index", "replayed", "round_one", "this_build",
           "write_batch"]


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


class ReplayExecutor(Executor):
    """The round engine for a replay of round 1: the `unique`/`near_unique` repairs after a round change which
    rows a top-up asks for, never a call of round 1 (nor a carried row), so the replay skips them: they were
    over half of `plan`'s time with a full cache (9 of 17 s at 10,000 rows, bench/scale_bench.py)."""

    def _drop_duplicates(self) -> None:
        pass


def round_one(spec: ir.Spec, plan: Plan, identity: str, cache: Optional[AnswerCache],
              store: Optional[RowStore] = None) -> Replay:
    """The calls round 1 of `synthc build` would make for this plan, in the order it makes them: from the row
    store's index when it answers for every row, else replayed."""
    if not plan.ok or not plan.prompts:
        return Replay()
    if store is not None:
        known = from_index(spec, plan, identity, store)
        if known is not None:
            return known
    return replayed(spec, plan, identity, cache, store)


def replayed(spec: ir.Spec, plan: Plan, identity: str, cache: Optional[AnswerCache],
             store: Optional[RowStore] = None) -> Replay:
    """Round 1 replayed row by row through the round engine (what `round_one` does when the index cannot answer)."""
    if not plan.ok or not plan.prompts:
        return Replay()
    source = CacheSource(cache, identity)
    engine = ReplayExecutor(spec, plan, None, cache, budget=Budget(max_rounds=1, min_yield=0.0), workers=1,
                      store=store, source=source)
    outcome = asyncio.run(engine.run())
    return Replay(source.calls, Counter(outcome.carried_by_prompt))


def from_index(spec: ir.Spec, plan: Plan, identity: str, store: RowStore) -> Optional[Replay]:
    """Round 1 from the row store's index: the round's rows per stratum are the first prompt's planned segments,
    stage 0 drops the rows the index shows dead, and each prompt carries the rows still alive and passes on those
    whose answer passed its constraints (the engine's schedule, plan.stages). None when some alive row's answer
    is not held (round 1 would call for it) or the index lacks a context or a stratum: the replay decides then."""
    espec = engine_spec(spec)
    sched = schedule(espec, plan.prompts, row_constraints(espec, plan))
    ctx = contexts(espec, plan, identity, sched)
    if not sched.stages or any(c is None for c in ctx.stages):
        return None
    index = store.index()
    if not index.stages:
        return None
    segments: dict[int, Runs] = {}
    for b in sched.stages[0].pp.batches:
        for seg in b.segments:
            segments.setdefault(seg.stratum, []).append([seg.start, seg.start + seg.count])
    alive = {si: union(runs, []) for si, runs in segments.items()}
    digests = {si: stratum_digest(plan.strata[si]) for si in alive}
    dead = index.dead.get(ctx.ready, {}) if ctx.ready is not None else {}
    for si, runs in alive.items():
        rec = dead.get(plan.strata[si].key)
        if rec is not None and rec[0] == digests[si]:
            alive[si] = subtract(runs, rec[1])
    carried: Counter = Counter()
    for st, c in zip(sched.stages, ctx.stages):
        held = index.stages.get(c, {})
        passed: dict[int, Runs] = {}
        for si, runs in alive.items():
            if not runs:
                continue
            rec = held.get(plan.strata[si].key)
            if rec is None or rec[0] != digests[si] or subtract(runs, rec[1]):
                return None
            carried[st.pp.prompt] += count(runs)
            passed[si] = intersect(runs, rec[2])
        alive = passed
    return Replay([], carried)


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
    store = RowStore(cache.root)
    if not store.has_files() and not (cache.dir.is_dir() and any(cache.dir.iterdir())):
        return None  # no answer and no row answer: every call is new, nothing carried
    replay = round_one(spec, plan, identity, cache, store)
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
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        with open(out, "w", encoding="utf-8") as fp:
            return write_batch(lines, fp)
    for line in lines:
        out.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
    return len(lines)
