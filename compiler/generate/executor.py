"""The round engine: runs a plan's calls, round after round, until every stratum holds its quota of accepted rows.

Round 1 makes the plan's calls; round k > 1 asks `plan.top_up` for the deficits only, at fresh row indices, so
its call ids, and with them the request seeds, differ from every earlier call's (no cached answer is reused
for a re-ask). Prompts run in the stages of `plan.stages.schedule` (a prompt that reads another's outputs waits
for it); after each stage the row constraints that have become decidable are checked in DuckDB (accept.py) and
rejected rows are dropped before anything more is paid for them.

Answers come from an injected source (source.py): through the cache and the client for a build, where `run.fetch`
stores every answer the moment it arrives, so a killed build resumes without repeating a finished call; from the
cache alone for a prediction (predict.py), where a missing answer leaves its rows' outputs unknown: a later
prompt that reads them makes a call counted as new without a request, rows with an unknown output are not
judged, and nothing stops or tops up.

Row verdicts depend only on the answers, never on the order calls finish in: the same answers give the same
accepted rows, the same top-up rounds and the same dataset.

Incremental builds: before a prompt's calls, every row whose answer to that very request (its row digest:
prompt text, schema, input values, model, endpoint, seed) is in the row store (run.rowstore, written by earlier
finished builds) takes it from there and is judged again by the current constraints; the other rows are
packed anew into the fewest calls. So an edit pays only for the rows whose request it changed, whatever the
packing; with an empty store the plan's calls run exactly as planned.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass, field
from typing import Any, Optional, Protocol, Sequence

from .. import ir
from ..plan import AcceptanceStats, Plan, PromptPlan, RowSource, iter_calls, row_id, top_up
from ..plan.batch import repack
from ..plan.judges import engine_spec
from ..plan.requests import RowDigest, request_body
from ..plan.rows import Call, call_id
from ..plan.stages import asked, schedule
from ..profiles import ModelProfile
from ..run.cache import AnswerCache, canonical_bytes, request_key
from ..run.client import Answer
from ..run.rowstore import RowStore, entry, entry_key
from ..run.salvage import MISSING, row_model, salvage
from .accept import Rejections, broken, row_constraints
from .judge import JudgeTally
from .guard import DEFAULT_MAX_ROUNDS, MIN_YIELD, Budget, CallGuard, Stopped
from .repair import near_copies, near_unique_repairs, real_copies, real_copy_repairs, repeats, unique_repairs
from .select import full_row
from .source import UNKNOWN, ClientSource, offline_client
from .tally import Acceptance, Counters

__all__ = ["DEFAULT_MAX_ROUNDS", "MIN_YIELD", "Budget", "Counters", "Executor", "Outcome", "Stopped",
           "offline_client", "unique_repairs"]

FLUSH_ROWS = 64  # rows judged per DuckDB batch while answers arrive ...
FLUSH_SECONDS = 1.0  # ... or after this long, so progress moves on slow endpoints


class Progress(Protocol):
    def round(self, number: int, calls: int) -> None: ...
    def call(self, from_cache: bool, answer: Optional[Answer], cost: Optional[float]) -> None: ...
    def rows(self, accepted: int, needed: int) -> None: ...


class _Quiet:
    def round(self, number, calls): pass
    def call(self, from_cache, answer, cost): pass
    def rows(self, accepted, needed): pass


@dataclass
class Outcome:
    accepted: dict[int, dict[int, dict]]  # stratum number -> row index -> generated values
    counters: Counters
    calls: dict[str, str]  # request key -> answer sha256 (the lock's `calls`)
    rejected: Rejections
    acceptance: AcceptanceStats
    shortfall: dict[str, int]  # stratum key -> rows still missing
    stopped: Optional[Stopped] = None
    new_rows: dict[str, dict] = field(default_factory=dict)  # row store entries this build's calls produced
    carried: int = 0  # (row, prompt) answers taken from the row store instead of a call
    by_position: int = 0  # rows matched to their request by position (run.salvage)
    carried_by_prompt: dict[str, int] = field(default_factory=dict)
    judges: dict[str, dict] = field(default_factory=dict)  # report.json's `judges` (generate.judge)


def answer_sha256(answer: Answer) -> str:
    return hashlib.sha256(canonical_bytes(answer.to_dict())).hexdigest()


@dataclass
class _Stage:
    """One prompt's calls within a round."""

    pp: PromptPlan
    prompt: ir.Prompt
    model: Any
    newly: Sequence[ir.Constraint]  # row constraints decidable once this prompt's outputs are in
    last: bool
    buffer: list[tuple[int, int]] = field(default_factory=list)
    flushed_at: float = 0.0
    digest: Optional[RowDigest] = None  # set by _stage_calls
    asked: int = 0  # rows whose answer (a call's or the row store's) this stage judged
    lost: int = 0  # of those, rows the answer lacked or this stage's constraints rejected


class Executor:
    """`await Executor(spec, plan, client, cache).run()` -> Outcome. client: a ChatClient (its `endpoint` names
    the endpoint in cache keys), or `offline_client(identity)`; or `source=` any answer source (source.py), as
    predict.py passes a CacheSource. `real`: the reference's rows (evaluation.checks.RealData) for the repair of
    `max_similarity_to_real` (repair.py); predictions leave it out. `real_rows`: the real rows a completed
    dataset keeps (complete mode), which the unique(...) repair counts as earlier rows."""

    def __init__(self, spec: ir.Spec, plan: Plan, client, cache: Optional[AnswerCache], *,
                 budget: Budget = Budget(), progress: Optional[Progress] = None,
                 prior: Optional[AcceptanceStats] = None, offline: bool = False, workers: int = 8,
                 store: Optional[RowStore] = None, source=None, locked: frozenset[str] = frozenset(),
                 real=None, real_rows: Sequence[dict] = ()):
        spec = engine_spec(spec)  # judges run as prompts (plan.judges)
        self.spec, self.plan, self.cache, self.store = spec, plan, cache, store
        self.real_rows = real_rows  # rows the dataset holds besides the generated ones (complete mode)
        self.locked = locked  # request keys the last finished build used (its lock's calls)
        self.source = source or ClientSource(client, cache, offline)
        self.identity = self.source.identity
        self.budget = budget
        self.guard = CallGuard(budget, plan.calls)
        self.progress = progress or _Quiet()
        self.workers = max(1, workers)
        self.rows = RowSource(spec, plan)
        self.counters = Counters()
        self.tally = Acceptance(prior or AcceptanceStats())
        self.calls: dict[str, str] = {}
        self.rejected = Rejections()
        self.accepted: dict[int, dict[int, dict]] = {}
        self._toward = 0  # accepted rows that count toward a quota, kept as a running total for the progress bar
        self.requested = {s.key: s.requested for s in plan.strata}
        self._constraints = row_constraints(spec, plan)
        self._unique = unique_repairs(spec)
        self._near = near_unique_repairs(spec)
        self.judged = JudgeTally.of(spec, plan)
        self._real = real, real_copy_repairs(spec, real)  # the reference's rows (evaluation.checks.RealData)
        self.new_rows: dict[str, dict] = {}
        self.carried = 0
        self.carried_by_prompt: dict[str, int] = {}
        self._carried_from: dict[str, ModelProfile] = {}  # request key -> its profile
        self._fetched: set[str] = set()
        self._yield: dict[str, list[int]] = {}  # prompt -> [rows asked, rows lost] over all rounds so far
        self._last: Optional[_Stage] = None  # the round's last stage (unique repairs count against it)
        self.by_position = 0  # rows matched to their request by position (their ids were not copied)
        self._planned: dict[tuple[int, int], dict] = {}
        self._state: dict[tuple[int, int], Optional[dict]] = {}  # generated values so far (None: rejected)
        self._unknown: dict[tuple[int, int], set[str]] = {}  # outputs whose answer no source has (predictions)

    # ---- rounds ---------------------------------------------------------------------------------------

    async def run(self) -> Outcome:
        stop = None
        try:
            await self._rounds()
        except Stopped as s:
            stop = s
        stop = stop or self.guard.stop
        if stop is not None:
            from .diagnosis import diagnose

            stop.details = diagnose(self.spec, stop, self.rejected, self.counters.calls, self.budget,
                                    self.counters.rounds)
        self._count_carried()
        return Outcome(self.accepted, self.counters, dict(sorted(self.calls.items())), self.rejected,
                       self.estimates(), self.shortfall(), stop, self.new_rows, self.carried, self.by_position,
                       self.carried_by_prompt, self.judged.to_json(self.plan))

    def _count_carried(self) -> None:
        """The earlier calls that answered carried rows count toward what the dataset cost in all (`full_*`),
        with their tokens when the cache still holds the answer."""
        for key, profile in sorted(self._carried_from.items()):
            if key in self._fetched:
                continue
            self.counters.carried_calls += 1
            stored = self.cache.get(key) if self.cache is not None else None
            if stored is not None:
                try:
                    self.counters.add(profile, Answer.from_dict(stored), from_cache=True)
                except TypeError:
                    pass

    async def _rounds(self) -> None:
        plan = self.plan
        if not plan.prompts:  # nothing to generate: the planned rows are the dataset
            for si, s in enumerate(plan.strata):
                self.accepted[si] = {i: {} for i in range(s.rows)}
            return
        number, pps = 1, plan.prompts
        while True:
            self.counters.rounds = number
            await self._round(number, pps)
            self._drop_duplicates()
            if self._last is not None:
                self._check_yield(self._last, number)
            short = self.shortfall()
            if not short:
                return
            if number >= self.budget.max_rounds:
                missing = sum(short.values())
                raise Stopped("rounds", f"after {number} round{'s' * (number != 1)} (--max-rounds), {missing} "
                                        f"row{'s are' if missing != 1 else ' is'} still missing in {len(short)} "
                                        f"strat{'a' if len(short) != 1 else 'um'}; the rejections below say which "
                                        "constraints the model keeps breaking")
            judged, ok = self.tally.over(short)
            stop = self.guard.forecast(len(short), judged, ok, number)
            if stop:
                raise stop
            number += 1
            pps = top_up(self.spec, plan, self.accepted_counts(), self.requested, self.estimates(),
                         ceiling=self.guard.calls_left())
            if not any(pp.calls for pp in pps):
                missing = sum(short.values())
                raise self.guard.budget_stop(f"{missing} row{'s are' if missing != 1 else ' is'} still missing and "
                                             "no top-up call fits")
            for pp in pps:
                for b in pp.batches:
                    for seg in b.segments:
                        key = plan.strata[seg.stratum].key
                        self.requested[key] = max(self.requested.get(key, 0), seg.start + seg.count)

    def _drop_duplicates(self) -> None:
        """Repairs `unique(...)` over generated text (repair.py): repeats are rejected under the constraint and
        their strata top up in the next round."""
        found = repeats(self.spec, self.plan, self.rows, self.accepted, self._unique, self.real_rows)
        for si, i, full, bad in found:
            del self.accepted[si][i]
            self._verdict(si, False)
            self._lost(self._last)
            for c in bad:
                self.rejected.constraint(c, full, (self.plan.strata[si].key, i))
        near = near_copies(self.spec, self.plan, self.accepted, self._near)
        real, hooks = self._real
        near += real_copies(self.plan, self.accepted, hooks, real, frozenset((si, i) for si, i, _ in near))
        for si, i, c in near:
            full = full_row(self.spec, self.rows.row(si, i), self.accepted[si][i])
            del self.accepted[si][i]
            self._verdict(si, False)
            self._lost(self._last)
            self.rejected.constraint(c, full, (self.plan.strata[si].key, i))
        if found or near:
            self._toward = self.toward_quota()
            self.progress.rows(self._toward, self.plan.rows)  # the round's line counts rows after the repair

    def accepted_counts(self) -> dict[str, int]:
        return {self.plan.strata[si].key: len(rows) for si, rows in self.accepted.items()}

    def shortfall(self) -> dict[str, int]:
        counts = self.accepted_counts()
        return {s.key: s.rows - counts.get(s.key, 0) for s in self.plan.strata if counts.get(s.key, 0) < s.rows}

    def toward_quota(self) -> int:
        return sum(min(len(self.accepted.get(si, {})), s.rows) for si, s in enumerate(self.plan.strata))

    def estimates(self) -> AcceptanceStats:
        return self.tally.estimates()

    async def _round(self, number: int, pps: Sequence[PromptPlan]) -> None:
        self.guard.new_round()
        self.progress.round(number, sum(pp.calls for pp in pps))
        self._planned, self._state = self._round_rows(pps)
        self._unknown = {}
        plan = schedule(self.spec, pps, self._constraints)
        if plan.ready:  # stage 0: constraints over planned values alone (nothing is paid for a row that breaks one)
            self._judge(list(self._state), plan.ready, last=False)
        for st in plan.stages:
            prompt = self.spec.prompt(st.pp.prompt)
            stage = _Stage(st.pp, prompt, row_model([self.spec.field(o) for o in prompt.outputs]), st.newly,
                           st.last, flushed_at=time.monotonic())
            self._last = stage
            await self._stage(stage)
            self._flush(stage)
            outputs = set(prompt.outputs)
            for k in list(self._state):  # rows this stage did not reach (failed calls, budget): out of the round
                s = self._state[k]
                if s is not None and not outputs <= set(s) | self._unknown.get(k, set()):
                    self._state[k] = None
            if self.guard.stop:
                raise self.guard.stop
            if self.guard.offline_misses:
                n = self.guard.offline_misses
                raise Stopped("offline", f"--offline: the cache holds no answer for {n} call{'s' * (n != 1)}; run "
                                         "without --offline to make them")
            if self.guard.endpoint_down():
                raise Stopped("endpoint", self.guard.breaker_message(number))
            self._check_yield(stage, number)

    def _check_yield(self, stage: _Stage, number: int) -> None:
        """The yield breaker (guard.py): stop when this prompt's rows keep being rejected."""
        asked_all, lost_all = self._yield.get(stage.prompt.name, [0, 0])
        stop = self.guard.low_yield(stage.prompt.name, ((stage.asked, stage.lost, f"round {number}"),
                                                        (asked_all, lost_all, "all rounds")), number)
        if stop:
            raise stop

    def _round_rows(self, pps: Sequence[PromptPlan]) -> tuple[dict, dict]:
        """The round's rows: planned values (from the plan) and generated values so far (None: rejected)."""
        spans: dict[int, list[int]] = {}
        for pp in pps:
            for b in pp.batches:
                for seg in b.segments:
                    lo, hi = spans.get(seg.stratum, [seg.start, seg.start + seg.count])
                    spans[seg.stratum] = [min(lo, seg.start), max(hi, seg.start + seg.count)]
        planned, state = {}, {}
        for si, (lo, hi) in sorted(spans.items()):
            for i, row in enumerate(self.rows.rows(si, lo, hi - lo), lo):
                planned[(si, i)] = row
        for pp in pps:
            for b in pp.batches:
                for seg in b.segments:
                    for i in range(seg.start, seg.start + seg.count):
                        state[(seg.stratum, i)] = {}
        return planned, state

    # ---- calls -------------------------------------------------------------------------------------------

    async def _stage(self, stage: _Stage) -> None:
        calls = iter(self._stage_calls(stage))

        async def worker():
            for call in calls:  # one shared iterator: each call is taken by exactly one worker
                if self.guard.stop:
                    return
                await self._call(stage, call)

        await asyncio.gather(*(worker() for _ in range(self.workers)))

    def _asked(self, stage: _Stage, r: tuple[int, int], rid: str) -> dict:
        return asked(self._planned[r], self._state[r], rid, stage.prompt.inputs)

    def _waits(self, stage: _Stage, r: tuple[int, int]) -> bool:
        """Whether row r's request reads an output no answer has yet (predictions only)."""
        return bool(self._unknown.get(r, set()) & set(stage.prompt.inputs))

    def _stage_calls(self, stage: _Stage) -> list[Call]:
        """The stage's calls. Rows whose answer to this very request the row store holds take it from there;
        when any does, the other rows are packed anew into the fewest calls; otherwise the plan's calls run
        as planned (a first build, or ingest's batch, asks exactly what the plan says)."""
        planned = list(iter_calls(stage.pp, self.plan.strata))
        stage.digest = RowDigest(self.spec, self.plan, stage.pp, self.identity)
        if self.store is None or not len(self.store):
            return planned
        fresh, carried = [], False
        for call in planned:
            for r in call.rows:
                if self._state.get(r) is None:
                    continue
                rid = row_id(self.plan.strata[r[0]].key, r[1])
                e = None if self._waits(stage, r) else self.store.get(rid, stage.digest(self._asked(stage, r, rid)))
                if e is None:
                    fresh.append(r)
                    continue
                carried = True
                self.carried += 1
                self.carried_by_prompt[stage.pp.prompt] = self.carried_by_prompt.get(stage.pp.prompt, 0) + 1
                self._asked_one(stage)
                self.calls[e["call"]] = e["answer"]
                self._carried_from[e["call"]] = self.plan.profile_of(stage.pp)
                self._take(stage, r, rid, e["values"], e.get("reason") or "no row for it in the answer",
                           e.get("kind") or MISSING)
        if not carried:
            return planned
        self._flush(stage)
        return list(iter_calls(repack(self.spec, stage.pp, self.plan.strata, fresh), self.plan.strata))

    def _asked_one(self, stage: _Stage) -> None:
        stage.asked += 1
        self._yield.setdefault(stage.prompt.name, [0, 0])[0] += 1

    def _lost(self, stage: Optional[_Stage]) -> None:
        if stage is not None:
            stage.lost += 1
            self._yield.setdefault(stage.prompt.name, [0, 0])[1] += 1

    def _take(self, stage: _Stage, r: tuple[int, int], rid: str, values: Optional[dict], why: str,
              kind: str = MISSING) -> None:
        """Row r's answer for this stage: its values go to judging, or the row is out (`why` it had none, of
        which kind: run.salvage)."""
        if values is None:
            self._state[r] = None
            self._verdict(r[0], False)
            self._lost(stage)
            self.rejected.answer(kind, (self.plan.strata[r[0]].key, r[1]),
                                 {"_id": rid, "kind": kind, "reason": why[:300]})
        else:
            self._state[r].update(values)
            stage.buffer.append(r)

    async def _call(self, stage: _Stage, call: Call) -> None:
        alive = [r for r in call.rows if self._state.get(r) is not None]
        if not alive:
            return
        if len(alive) != len(call.rows):  # rows rejected at an earlier stage are not asked for
            first = row_id(self.plan.strata[alive[0][0]].key, alive[0][1])
            call = Call(call.prompt, call_id(call.prompt, first, len(alive)), tuple(alive))
        outputs = set(stage.prompt.outputs)
        if any(self._waits(stage, r) for r in alive):  # its request holds text no answer has yet
            await self.source.answer(self, stage.pp, call.id, len(alive), None, None)
            for r in alive:
                self._unknown.setdefault(r, set()).update(outputs)
            return
        ids = [row_id(self.plan.strata[si].key, i) for si, i in alive]
        asked_rows = [self._asked(stage, r, rid) for r, rid in zip(alive, ids)]
        body = request_body(self.spec, self.plan, stage.pp, call, asked_rows)
        key = request_key(self.identity, body)
        answer = await self.source.answer(self, stage.pp, call.id, len(alive), key, body)
        if answer is None:  # failed or not made: its rows are out of the round
            return
        if answer is UNKNOWN:
            for r in alive:
                self._unknown.setdefault(r, set()).update(outputs)
            return
        sha = self.calls[key] = answer_sha256(answer)
        found = salvage(answer.content, ids, stage.model, asked_rows)
        self.by_position += found.by_position
        for r, rid, row in zip(alive, ids, asked_rows):
            values = found.rows.get(rid)
            kind, why = found.failed.get(rid, (MISSING, "no row for it in the answer"))
            self.new_rows[entry_key(rid, stage.digest(row))] = entry(values, key, sha, why[:300], kind)
            self._asked_one(stage)
            self._take(stage, r, rid, values, why, kind)
        now = time.monotonic()
        if len(stage.buffer) >= FLUSH_ROWS or now - stage.flushed_at >= FLUSH_SECONDS:
            self._flush(stage)

    def count(self, answer: Answer, from_cache: bool, profile: ModelProfile, key: str) -> None:
        """An answer the source got: counted (a call or a cache hit), its tokens and cost."""
        from ..plan.cost import cost_usd

        c = self.counters
        earlier = from_cache and key not in self.locked
        c.add(profile, answer, from_cache, earlier)
        self._fetched.add(key)
        if from_cache:
            c.cache_hits += 1
            c.earlier_calls += earlier
        else:
            c.calls += 1
            self.guard.answered()
        self.progress.call(from_cache, answer, cost_usd(answer.prompt_tokens, answer.completion_tokens, profile))

    # ---- verdicts ----------------------------------------------------------------------------------------

    def _flush(self, stage: _Stage) -> None:
        rows, stage.buffer = stage.buffer, []
        stage.flushed_at = time.monotonic()
        if rows:
            self._judge(rows, stage.newly, stage.last, stage)

    def _judge(self, rows: list[tuple[int, int]], constraints: Sequence[ir.Constraint], last: bool,
               stage: Optional[_Stage] = None) -> None:
        """Checks `constraints` on rows (stratum number, index): breakers are dropped and counted, and on the
        last stage the rest are accepted. Rows with an output no answer has yet are not judged."""
        rows = [r for r in rows if self._state.get(r) is not None and r not in self._unknown]
        if not rows:
            return
        full = {r: full_row(self.spec, self._planned[r], self._state[r]) for r in rows}
        verdicts = broken(self.spec, list(full.values()), list(constraints)) if constraints else {}
        if stage is not None:
            self.judged.record(stage.prompt, rows, full, verdicts)
        for r in rows:
            si, i = r
            bad = verdicts.get(full[r]["_id"], [])
            if bad:
                for c in constraints:
                    if c.name in bad:
                        self.rejected.constraint(c, full[r], (self.plan.strata[si].key, i))
                self._state[r] = None
                self._verdict(si, False)
                self._lost(stage)
            elif last:
                kept = self.accepted.setdefault(si, {})
                if i not in kept and len(kept) < self.plan.strata[si].rows:
                    self._toward += 1
                kept[i] = dict(self._state[r])
                self._verdict(si, True)
        if last:
            self.progress.rows(self._toward, self.plan.rows)  # re-summing every stratum per flush was quadratic

    def _verdict(self, si: int, ok: bool) -> None:
        self.tally.verdict(self.plan.strata[si].key, ok)
