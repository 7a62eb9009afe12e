"""The round engine: runs a plan's calls, round after round, until every stratum holds its quota of accepted rows.

Round 1 makes the plan's calls; round k > 1 asks `plan.top_up` for the deficits only, at fresh row indices, so
its call ids, and with them the request seeds, differ from every earlier call's (no cached answer is reused
for a re-ask). A round is a stream of chunks (docs/BUILD.md "The round engine"): a chunk is the rows of one call
of the round's first prompt (in the order of `plan.stages.schedule`), and it flows through every prompt on its
own: after each prompt's answers the row constraints that have become decidable are checked in DuckDB
(accept.py), rejected rows are dropped before anything more is paid for them, and the survivors' calls of the
next prompt start at once, with no barrier between prompts. Every call of every prompt takes a slot of one pool
of `workers`, and chunks are admitted only while the rows in flight stay under a bound (`rows_bound`), so the
rows held are O(workers x rows per call), not O(rows).

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
packed anew into the fewest calls (for the first prompt over the whole round, for a later prompt within its
chunk). So an edit pays only for the rows whose request it changed, whatever the packing; with an empty store
the plan's calls run exactly as planned.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from typing import Any, Optional, Protocol, Sequence

import duckdb

from .. import ir
from ..plan import AcceptanceStats, Plan, PromptPlan, RowSource, iter_calls, row_id, top_up
from ..plan.batch import chunk_calls, repack
from ..plan.carry import contexts
from ..plan.judges import engine_spec
from ..plan.requests import RowDigest, request_body
from ..plan.rows import Call, call_id
from ..plan.stages import asked, schedule
from ..profiles import ModelProfile
from ..run.cache import AnswerCache, canonical_bytes, request_key
from ..run.client import Answer
from ..run.rowstore import IndexRecorder, RowStore, entry, entry_key
from ..run.salvage import MISSING, row_model, salvage
from .accept import Rejections, broken, row_constraints
from .judge import JudgeTally
from .guard import DEFAULT_MAX_ROUNDS, MIN_YIELD, Budget, CallGuard, Stopped
from .repair import near_copies, near_unique_repairs, real_copies, real_copy_repairs, repeats, unique_repairs
from .select import full_row
from .source import UNKNOWN, ClientSource, offline_client
from .spool import Spool
from .tally import Acceptance, Counters

__all__ = ["DEFAULT_MAX_ROUNDS", "MIN_YIELD", "Budget", "Counters", "Executor", "Outcome", "Stopped",
           "offline_client", "unique_repairs"]

FLUSH_ROWS = 256  # rows judged per DuckDB batch while answers arrive ...
FLUSH_SECONDS = 0.1  # ... or after this long: a chunk waits at most this for its verdicts
# (a batch costs about 12 ms however small, bench/RESULTS.md "The spool": 64 rows made it 0.2 ms a row a stage)
BOUND_FACTOR = 2  # rows in flight at most BOUND_FACTOR x workers x the round's largest k (one chunk always fits)


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
    accepted: Spool  # the accepted rows (spool.py): stratum number, row index -> generated values
    counters: Counters
    calls: dict[str, str]  # request key -> answer sha256 (the lock's `calls`)
    rejected: Rejections
    acceptance: AcceptanceStats
    shortfall: dict[str, int]  # stratum key -> rows still missing
    stopped: Optional[Stopped] = None
    # row store entries this build's calls produced are in `accepted.entries()` (spool.py)
    carried: int = 0  # (row, prompt) answers taken from the row store instead of a call
    by_position: int = 0  # rows matched to their request by position (run.salvage)
    carried_by_prompt: dict[str, int] = field(default_factory=dict)
    judges: dict[str, dict] = field(default_factory=dict)  # report.json's `judges` (generate.judge)
    index: Optional[IndexRecorder] = None  # what the rounds decided, for the row store's index (run.rowstore)


def _groups(calls, m: int):
    """Consecutive calls, m at a time (the last group may be shorter)."""
    group: list[Call] = []
    for call in calls:
        group.append(call)
        if len(group) == m:
            yield tuple(group)
            group = []
    if group:
        yield tuple(group)


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
    digest: RowDigest
    ctx: Optional[str] = None  # the stage's context in the row store's index (plan.carry)
    asked: int = 0  # rows whose answer (a call's or the row store's) this stage judged
    lost: int = 0  # of those, rows the answer lacked or this stage's constraints rejected
    pending: list = field(default_factory=list)  # (rows, future) waiting for one DuckDB batch of verdicts
    timer: Any = None


@dataclass(frozen=True)
class _Chunk:
    """Rows that flow through the round's stages together: `plan.batch.chunk_calls` calls of the first prompt
    (`calls`), or rows the row store answers for it (no calls); `ready`: the constraints over planned values were
    judged already."""

    rows: tuple[tuple[int, int], ...]
    calls: tuple[Call, ...]
    ready: bool = False
    dead: frozenset = frozenset()  # rows a planned-values constraint rejected already


class Executor:
    """`await Executor(spec, plan, client, cache).run()` -> Outcome. client: a ChatClient (its `endpoint` names
    the endpoint in cache keys), or `offline_client(identity)`; or `source=` any answer source (source.py), as
    predict.py passes a CacheSource. `real`: the reference's rows (evaluation.checks.RealData) for the repair of
    `max_similarity_to_real` (repair.py); predictions leave it out. `real_rows`: the real rows a completed
    dataset keeps (complete mode), which the unique(...) repair counts as earlier rows. `spool`: where accepted
    rows and row store entries go (spool.py; an in-memory one by default); the caller closes it."""

    def __init__(self, spec: ir.Spec, plan: Plan, client, cache: Optional[AnswerCache], *,
                 budget: Budget = Budget(), progress: Optional[Progress] = None,
                 prior: Optional[AcceptanceStats] = None, offline: bool = False, workers: int = 8,
                 store: Optional[RowStore] = None, source=None, locked: frozenset[str] = frozenset(),
                 real=None, real_rows: Sequence[dict] = (), spool: Optional[Spool] = None):
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
        self.accepted = spool if spool is not None else Spool([s.key for s in plan.strata])
        self._toward = 0  # accepted rows that count toward a quota, kept as a running total for the progress bar
        self.requested = {s.key: s.requested for s in plan.strata}
        self._constraints = row_constraints(spec, plan)
        self._unique = unique_repairs(spec)
        self._near = near_unique_repairs(spec)
        self.judged = JudgeTally.of(spec, plan)
        self._real = real, real_copy_repairs(spec, real)  # the reference's rows (evaluation.checks.RealData)
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
        self.index = IndexRecorder()  # the verdicts per stage context, for the row store's index
        self._ready_ctx: Optional[str] = None
        self.rows_bound = 0  # the most rows a round may hold in flight (set per round)
        self.rows_in_flight = 0  # rows of the chunks admitted and not yet through the last stage
        self.peak_rows_in_flight = 0  # the most rows held in flight at once, over the build
        self._duck = None  # the DuckDB connection verdicts are judged on

    # ---- rounds ---------------------------------------------------------------------------------------

    async def run(self) -> Outcome:
        stop = None
        try:
            await self._rounds()
        except Stopped as s:
            stop = s
        finally:
            if self._duck is not None:
                self._duck.close()
                self._duck = None
        stop = stop or self.guard.stop
        if stop is not None:
            from .diagnosis import diagnose

            stop.details = diagnose(self.spec, stop, self.rejected, self.counters.calls, self.budget,
                                    self.counters.rounds)
        self._count_carried()
        return Outcome(self.accepted, self.counters, dict(sorted(self.calls.items())), self.rejected,
                       self.estimates(), self.shortfall(), stop, self.carried, self.by_position,
                       self.carried_by_prompt, self.judged.to_json(self.plan), self.index)

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
                for i in range(s.rows):
                    self.accepted.accept(si, i, {})
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
        self.accepted.remove((si, i) for si, i, _, _ in found)
        for si, i, full, bad in found:
            self._verdict(si, False)
            self._lost(self._last)
            for c in bad:
                self.rejected.constraint(c, full, (self.plan.strata[si].key, i))
        near = near_copies(self.spec, self.plan, self.accepted, self._near)
        real, hooks = self._real
        near += real_copies(self.plan, self.accepted, hooks, real, frozenset((si, i) for si, i, _, _ in near))
        for si, i, c, values in near:
            full = full_row(self.spec, self.rows.row(si, i), values)
            self._verdict(si, False)
            self._lost(self._last)
            self.rejected.constraint(c, full, (self.plan.strata[si].key, i))
        self.accepted.remove((si, i) for si, i, _, _ in near)
        if found or near:
            self._toward = self.toward_quota()
            self.progress.rows(self._toward, self.plan.rows)  # the round's line counts rows after the repair

    def accepted_counts(self) -> dict[str, int]:
        return {s.key: n for s, n in zip(self.plan.strata, self.accepted.counts) if n}

    def shortfall(self) -> dict[str, int]:
        counts = self.accepted_counts()
        return {s.key: s.rows - counts.get(s.key, 0) for s in self.plan.strata if counts.get(s.key, 0) < s.rows}

    def toward_quota(self) -> int:
        return sum(min(n, s.rows) for n, s in zip(self.accepted.counts, self.plan.strata))

    def estimates(self) -> AcceptanceStats:
        return self.tally.estimates()

    async def _round(self, number: int, pps: Sequence[PromptPlan]) -> None:
        self.guard.new_round()
        self.progress.round(number, sum(pp.calls for pp in pps))
        self._planned, self._state, self._unknown = {}, {}, {}
        plan = schedule(self.spec, pps, self._constraints)
        ctx = contexts(self.spec, self.plan, self.identity, plan)
        self._ready_ctx = ctx.ready
        stages = []
        for st, c in zip(plan.stages, ctx.stages):
            prompt = self.spec.prompt(st.pp.prompt)
            stages.append(_Stage(st.pp, prompt, row_model([self.spec.field(o) for o in prompt.outputs]), st.newly,
                                 st.last, RowDigest(self.spec, self.plan, st.pp, self.identity), c))
        self._last = stages[-1]
        self.rows_bound = BOUND_FACTOR * self.workers * max(pp.rows_per_call for pp in pps)
        pool, room = asyncio.Semaphore(self.workers), asyncio.Condition()
        flows: set[asyncio.Task] = set()
        for chunk in self._chunks(stages[0], plan.ready, chunk_calls(self.spec, pps)):
            async with room:
                await room.wait_for(lambda: not self.rows_in_flight
                                    or self.rows_in_flight + len(chunk.rows) <= self.rows_bound)
            if self._halted(number):
                break
            self.rows_in_flight += len(chunk.rows)
            self.peak_rows_in_flight = max(self.peak_rows_in_flight, self.rows_in_flight)
            task = asyncio.create_task(self._flow(chunk, stages, plan.ready, pool, room, number))
            flows.add(task)
            task.add_done_callback(flows.discard)
        if flows:
            await asyncio.gather(*flows)
        if self.guard.stop:
            raise self.guard.stop
        if self.guard.offline_misses:
            n = self.guard.offline_misses
            raise Stopped("offline", f"--offline: the cache holds no answer for {n} call{'s' * (n != 1)}; run "
                                     "without --offline to make them")
        for stage in stages:  # each prompt's yield, in stage order, once all its calls of the round are in
            self._check_yield(stage, number)

    def _halted(self, number: int) -> bool:
        """Whether the round must admit nothing more: a guard stopped it, or the endpoint breaker trips."""
        if self.guard.stop is None and self.guard.endpoint_down():
            self.guard.halt(Stopped("endpoint", self.guard.breaker_message(number)))
        return self.guard.stop is not None

    def _check_yield(self, stage: _Stage, number: int) -> None:
        """The yield breaker (guard.py): stop when this prompt's rows keep being rejected."""
        asked_all, lost_all = self._yield.get(stage.prompt.name, [0, 0])
        stop = self.guard.low_yield(stage.prompt.name, ((stage.asked, stage.lost, f"round {number}"),
                                                        (asked_all, lost_all, "all rounds")), number)
        if stop:
            raise stop

    # ---- chunks ------------------------------------------------------------------------------------------

    def _enter(self, rows: Sequence[tuple[int, int]]) -> None:
        """Rows join the round: their planned values (drawn from the plan per run of indices) and no answer yet."""
        run: list[tuple[int, int]] = []
        for r in sorted(rows):
            if run and (r[0] != run[0][0] or r[1] != run[-1][1] + 1):
                self._draw(run)
                run = []
            run.append(r)
        if run:
            self._draw(run)

    def _draw(self, run: list[tuple[int, int]]) -> None:
        si, lo = run[0]
        for r, row in zip(run, self.rows.rows(si, lo, len(run))):
            self._planned[r] = row
            self._state[r] = {}

    def _leave(self, rows: Sequence[tuple[int, int]]) -> None:
        for r in rows:
            self._planned.pop(r, None)
            self._state.pop(r, None)
            self._unknown.pop(r, None)

    def _chunks(self, first: _Stage, ready: Sequence[ir.Constraint], m: int):
        """The round's chunks of `m` calls: the first prompt's planned calls; or, when the row store answers some
        of its rows, the other rows packed anew into the fewest calls, then the answered rows in runs of m x k."""
        planned = iter_calls(first.pp, self.plan.strata)
        if self.store is None or not len(self.store):
            yield from (_Chunk(sum((c.rows for c in calls), ()), calls) for calls in _groups(planned, m))
            return
        fresh, carried, dead = [], [], set()
        for call in planned:  # judged here already: a row a planned-values constraint rejects is in no chunk
            self._enter(call.rows)
            if ready:
                self._judge(list(call.rows), ready, last=False)
            for r in call.rows:
                if self._state.get(r) is None:
                    dead.add(r)
                    continue
                rid = row_id(self.plan.strata[r[0]].key, r[1])
                hit = self.store.get(rid, first.digest(self._asked(first, r, rid)))
                (carried if hit is not None else fresh).append(r)
            self._leave(call.rows)
        if not carried:  # the plan's calls, as planned
            for calls in _groups(iter_calls(first.pp, self.plan.strata), m):
                rows = sum((c.rows for c in calls), ())
                yield _Chunk(rows, calls, True, frozenset(r for r in rows if r in dead))
            return
        for calls in _groups(iter_calls(repack(self.spec, first.pp, self.plan.strata, fresh), self.plan.strata), m):
            yield _Chunk(sum((c.rows for c in calls), ()), calls, ready=True)
        k = first.pp.rows_per_call * m
        for n in range(0, len(carried), k):
            yield _Chunk(tuple(carried[n: n + k]), (), ready=True)

    async def _flow(self, chunk: _Chunk, stages: Sequence[_Stage], ready: Sequence[ir.Constraint],
                    pool: asyncio.Semaphore, room: asyncio.Condition, number: int) -> None:
        """One chunk through every stage: its calls of a prompt start as soon as the earlier prompt's verdicts on
        its rows are in."""
        try:
            self._enter(chunk.rows)
            for r in chunk.dead:
                self._state[r] = None
            if ready and not chunk.ready:  # constraints over planned values: nothing is paid for a row breaking one
                self._judge(list(chunk.rows), ready, last=False)
            for n, stage in enumerate(stages):
                if self._halted(number):
                    return
                alive = [r for r in chunk.rows if self._state.get(r) is not None]
                if not alive:
                    return
                if n == 0 and chunk.calls:
                    calls = list(chunk.calls)
                else:
                    fresh = await self._carry(stage, alive)
                    calls = list(iter_calls(repack(self.spec, stage.pp, self.plan.strata, fresh), self.plan.strata)) \
                        if fresh else []
                await asyncio.gather(*(self._slot(pool, stage, call) for call in calls))
                outputs = set(stage.prompt.outputs)
                for r in chunk.rows:  # rows this stage did not reach (failed calls, budget): out of the round
                    st = self._state.get(r)
                    if st is not None and not outputs <= set(st) | self._unknown.get(r, set()):
                        self._state[r] = None
        finally:
            self._leave(chunk.rows)
            async with room:
                self.rows_in_flight -= len(chunk.rows)
                room.notify_all()

    async def _slot(self, pool: asyncio.Semaphore, stage: _Stage, call: Call) -> None:
        async with pool:
            if self.guard.stop:
                return
            got = await self._call(stage, call)
        if got:
            await self._verdicts(stage, got)

    # ---- calls -------------------------------------------------------------------------------------------

    def _asked(self, stage: _Stage, r: tuple[int, int], rid: str) -> dict:
        return asked(self._planned[r], self._state[r], rid, stage.prompt.inputs)

    def _waits(self, stage: _Stage, r: tuple[int, int]) -> bool:
        """Whether row r's request reads an output no answer has yet (predictions only)."""
        return bool(self._unknown.get(r, set()) & set(stage.prompt.inputs))

    async def _carry(self, stage: _Stage, rows: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Rows whose answer to this very request the row store holds take it from there (and are judged); the
        others are returned, to be asked."""
        if self.store is None or not len(self.store):
            return rows
        fresh, taken = [], []
        for r in rows:
            rid = row_id(self.plan.strata[r[0]].key, r[1])
            e = None if self._waits(stage, r) else self.store.get(rid, stage.digest(self._asked(stage, r, rid)))
            if e is None:
                fresh.append(r)
                continue
            self.carried += 1
            self.carried_by_prompt[stage.pp.prompt] = self.carried_by_prompt.get(stage.pp.prompt, 0) + 1
            self._asked_one(stage)
            self.calls[e["call"]] = e["answer"]
            self._carried_from[e["call"]] = self.plan.profile_of(stage.pp)
            if self._take(stage, r, rid, e["values"], e.get("reason") or "no row for it in the answer",
                          e.get("kind") or MISSING):
                taken.append(r)
        if taken:
            await self._verdicts(stage, taken)
        return fresh

    def _asked_one(self, stage: _Stage) -> None:
        stage.asked += 1
        self._yield.setdefault(stage.prompt.name, [0, 0])[0] += 1

    def _lost(self, stage: Optional[_Stage]) -> None:
        if stage is not None:
            stage.lost += 1
            self._yield.setdefault(stage.prompt.name, [0, 0])[1] += 1

    def _take(self, stage: _Stage, r: tuple[int, int], rid: str, values: Optional[dict], why: str,
              kind: str = MISSING) -> bool:
        """Row r's answer for this stage: its values go to judging (True), or the row is out (`why` it had none,
        of which kind: run.salvage)."""
        self.index.took(stage.ctx, (r,))
        if values is None:
            self._state[r] = None
            self._verdict(r[0], False)
            self._lost(stage)
            self.rejected.answer(kind, (self.plan.strata[r[0]].key, r[1]),
                                 {"_id": rid, "kind": kind, "reason": why[:300]})
            return False
        self._state[r].update(values)
        return True

    async def _call(self, stage: _Stage, call: Call) -> list[tuple[int, int]]:
        """Makes one call; returns the rows whose answers are to be judged."""
        alive = [r for r in call.rows if self._state.get(r) is not None]
        if not alive:
            return []
        if len(alive) != len(call.rows):  # rows rejected at an earlier stage are not asked for
            first = row_id(self.plan.strata[alive[0][0]].key, alive[0][1])
            call = Call(call.prompt, call_id(call.prompt, first, len(alive)), tuple(alive))
        outputs = set(stage.prompt.outputs)
        if any(self._waits(stage, r) for r in alive):  # its request holds text no answer has yet
            await self.source.answer(self, stage.pp, call.id, len(alive), None, None)
            for r in alive:
                self._unknown.setdefault(r, set()).update(outputs)
            return []
        ids = [row_id(self.plan.strata[si].key, i) for si, i in alive]
        asked_rows = [self._asked(stage, r, rid) for r, rid in zip(alive, ids)]
        body = request_body(self.spec, self.plan, stage.pp, call, asked_rows)
        key = request_key(self.identity, body)
        answer = await self.source.answer(self, stage.pp, call.id, len(alive), key, body)
        if answer is None:  # failed or not made: its rows are out of the round
            return []
        if answer is UNKNOWN:
            for r in alive:
                self._unknown.setdefault(r, set()).update(outputs)
            return []
        sha = self.calls[key] = answer_sha256(answer)
        found = salvage(answer.content, ids, stage.model, asked_rows)
        self.by_position += found.by_position
        got = []
        for r, rid, row in zip(alive, ids, asked_rows):
            values = found.rows.get(rid)
            kind, why = found.failed.get(rid, (MISSING, "no row for it in the answer"))
            self.accepted.entry(entry_key(rid, stage.digest(row)), entry(values, key, sha, why[:300], kind))
            self._asked_one(stage)
            if self._take(stage, r, rid, values, why, kind):
                got.append(r)
        return got

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

    async def _verdicts(self, stage: _Stage, rows: list[tuple[int, int]]) -> None:
        """Judges rows with the stage's constraints, in one DuckDB batch with the rows other calls hand in within
        FLUSH_SECONDS (or FLUSH_ROWS rows): verdicts depend on each row alone, so batching changes none."""
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        stage.pending.append((rows, done))
        if sum(len(r) for r, _ in stage.pending) >= FLUSH_ROWS:
            self._flush(stage)
        elif stage.timer is None:
            stage.timer = loop.call_later(FLUSH_SECONDS, self._flush, stage)
        await done

    def _flush(self, stage: _Stage) -> None:
        pending, stage.pending = stage.pending, []
        if stage.timer is not None:
            stage.timer.cancel()
            stage.timer = None
        try:
            self._judge([r for rows, _ in pending for r in rows], stage.newly, stage.last, stage)
        except BaseException as e:  # handed to every waiting chunk
            for _, done in pending:
                done.set_exception(e)
            return
        for _, done in pending:
            done.set_result(None)

    def _judge(self, rows: list[tuple[int, int]], constraints: Sequence[ir.Constraint], last: bool,
               stage: Optional[_Stage] = None) -> None:
        """Checks `constraints` on rows (stratum number, index): breakers are dropped and counted, and on the
        last stage the rest are accepted. Rows with an output no answer has yet are not judged."""
        rows = [r for r in rows if self._state.get(r) is not None and r not in self._unknown]
        if not rows:
            return
        full = {r: full_row(self.spec, self._planned[r], self._state[r]) for r in rows}
        if constraints and self._duck is None:
            self._duck = duckdb.connect()  # one connection for every batch of verdicts (accept.broken)
        verdicts = broken(self.spec, list(full.values()), list(constraints), self._duck) if constraints else {}
        if stage is not None:
            self.judged.record(stage.prompt, rows, full, verdicts)
        record = self.index.rejected if stage is None else self.index.passed
        record(self._ready_ctx if stage is None else stage.ctx,
               [r for r in rows if bool(verdicts.get(full[r]["_id"])) == (stage is None)])
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
                if self.accepted.count(si) < self.plan.strata[si].rows:
                    self._toward += 1
                self.accepted.accept(si, i, self._state[r])
                self._verdict(si, True)
        if last:
            self.progress.rows(self._toward, self.plan.rows)  # re-summing every stratum per flush was quadratic

    def _verdict(self, si: int, ok: bool) -> None:
        self.tally.verdict(self.plan.strata[si].key, ok)
