"""Runs a plan's calls, round after round, until every stratum holds its quota of accepted rows.

Round 1 makes the plan's calls; round k > 1 asks `plan.top_up` for the deficits only, at fresh row indices, so
its call ids, and with them the request seeds, differ from every earlier call's (no cached answer is reused
for a re-ask). Prompts run in stages (a prompt that reads another's outputs waits for it); after each stage
the row constraints that have become decidable are checked in DuckDB (accept.py) and rejected rows are
dropped before anything more is paid for them. Every answer goes through `run.fetch`, which stores it the
moment it arrives, so a killed build resumes without repeating a finished call.

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
import json
import time
from dataclasses import dataclass, field
from typing import Any, Optional, Protocol, Sequence

from .. import ir
from ..evaluate import Unknown, evaluate
from ..plan import AcceptanceStats, Plan, PromptPlan, RowSource, iter_calls, row_id, top_up
from ..plan.cost import cost_usd
from ..plan.dims import generation_fields, read_layout
from ..plan.model import DEFAULT_ACCEPTANCE
from ..plan.batch import CEILING_FACTOR, CEILING_SLACK, repack
from ..plan.requests import RowDigest, request_body
from ..plan.rows import Call, call_id
from ..profiles import ModelProfile
from ..run.cache import AnswerCache, canonical_bytes, request_key
from ..run.client import Answer, CallError
from ..run.fetch import fetch
from ..run.rowstore import RowStore, entry, entry_key
from ..run.salvage import MISSING, row_model, salvage
from .accept import SCHEMA, Rejections, broken, row_constraints
from .select import full_row

DEFAULT_MAX_ROUNDS = 10
# The yield breaker (docs/BUILD.md "What a build may spend"): after each prompt's calls in a round, a prompt
# whose rows were accepted at less than MIN_YIELD, over at least YIELD_MIN_ROWS rows answered (this round's,
# or all rounds' so far), stops the build: the model keeps failing for the same reason, and top-ups would pay
# for answers the build cannot use. --min-yield lowers (0: turns off) the floor.
MIN_YIELD = 0.25
YIELD_MIN_ROWS = 20
BREAKER_MIN = 10  # calls of a round that must have ended before the share failed can stop the build
BREAKER_SHARE = 0.5
FIRST_FAILURES = 3  # calls failing before any call of the build has succeeded: the endpoint is down
FLUSH_ROWS = 64  # rows judged per DuckDB batch while answers arrive ...
FLUSH_SECONDS = 1.0  # ... or after this long, so progress moves on slow endpoints
PRIOR_WEIGHT = 4  # rows' worth of the overall rate a stratum's own rate is smoothed toward


@dataclass(frozen=True)
class Budget:
    """max_calls: --max-calls, or the plan's default ceiling when `ceiling` (no --max-calls or --max-cost)."""

    max_calls: Optional[int] = None
    max_cost: Optional[float] = None
    max_rounds: int = DEFAULT_MAX_ROUNDS
    min_yield: float = MIN_YIELD
    ceiling: bool = False


class Stopped(Exception):
    """The build stopped before its quotas were met (exit 3). kind: budget | ceiling | yield | rounds |
    endpoint | offline. details: the `stopped` object of --json (build.diagnosis), set by the executor."""

    def __init__(self, kind: str, message: str, **facts):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.facts = facts
        self.details: dict = {}


class Progress(Protocol):
    def round(self, number: int, calls: int) -> None: ...
    def call(self, from_cache: bool, answer: Optional[Answer], cost: Optional[float]) -> None: ...
    def rows(self, accepted: int, needed: int) -> None: ...


class _Quiet:
    def round(self, number, calls): pass
    def call(self, from_cache, answer, cost): pass
    def rows(self, accepted, needed): pass


@dataclass
class Counters:
    """calls, tokens and cost: what this run paid; full_*: every answer the build used (cached or not).
    Costs are priced from token totals per profile, never summed call by call, so they do not depend on the
    order answers arrived in."""

    calls: int = 0
    failed_calls: int = 0
    cache_hits: int = 0
    carried_calls: int = 0  # earlier calls whose answers rows were carried from (none fetched by this build)
    rounds: int = 0
    profiles: dict[str, ModelProfile] = field(default_factory=dict)
    run_tokens: dict[str, list[int]] = field(default_factory=dict)  # profile -> [prompt, completion]
    full_tokens: dict[str, list[int]] = field(default_factory=dict)

    def add(self, profile: ModelProfile, answer: Answer, from_cache: bool) -> None:
        self.profiles[profile.name] = profile
        for tokens in (self.full_tokens,) if from_cache else (self.full_tokens, self.run_tokens):
            t = tokens.setdefault(profile.name, [0, 0])
            t[0] += answer.prompt_tokens
            t[1] += answer.completion_tokens

    @property
    def prompt_tokens(self) -> int:
        return sum(t[0] for t in self.run_tokens.values())

    @property
    def completion_tokens(self) -> int:
        return sum(t[1] for t in self.run_tokens.values())

    @property
    def full_prompt_tokens(self) -> int:
        return sum(t[0] for t in self.full_tokens.values())

    @property
    def full_completion_tokens(self) -> int:
        return sum(t[1] for t in self.full_tokens.values())

    @property
    def cost_usd(self) -> Optional[float]:
        return self._cost(self.run_tokens)

    @property
    def full_cost_usd(self) -> Optional[float]:
        return self._cost(self.full_tokens)

    def _cost(self, tokens: dict[str, list[int]]) -> Optional[float]:
        total = 0.0
        for name in sorted(tokens):
            c = cost_usd(tokens[name][0], tokens[name][1], self.profiles[name])
            if c is None:
                return None
            total += c
        return round(total, 6)


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


def answer_sha256(answer: Answer) -> str:
    return hashlib.sha256(canonical_bytes(answer.to_dict())).hexdigest()


class _OfflineClient:
    """Stands in for the client under --offline. The executor counts cache misses instead of asking it; fetch
    asks it only for an entry it cannot read (another cache version)."""

    def __init__(self, endpoint: str):
        self.endpoint = endpoint

    async def complete(self, body):
        raise CallError("--offline: a cached answer could not be read and no call may be made", kind="offline")


def offline_client(identity: str) -> _OfflineClient:
    return _OfflineClient(identity)


@dataclass
class _Stage:
    """One prompt's calls within a round."""

    pp: PromptPlan
    prompt: ir.Prompt
    model: Any
    newly: list[ir.Constraint]  # row constraints decidable once this prompt's outputs are in
    last: bool
    buffer: list[tuple[int, int]] = field(default_factory=list)
    flushed_at: float = 0.0
    digest: Optional[RowDigest] = None  # set by _stage_calls
    asked: int = 0  # rows whose answer (a call's or the row store's) this stage judged
    lost: int = 0  # of those, rows the answer lacked or this stage's constraints rejected


class Executor:
    """`await Executor(spec, plan, client, cache).run()` -> Outcome. client: a ChatClient (its `endpoint` names
    the endpoint in cache keys), or `offline_client(identity)`."""

    def __init__(self, spec: ir.Spec, plan: Plan, client, cache: AnswerCache, *, budget: Budget = Budget(),
                 progress: Optional[Progress] = None, prior: Optional[AcceptanceStats] = None,
                 offline: bool = False, workers: int = 8, store: Optional[RowStore] = None):
        self.spec, self.plan, self.client, self.cache, self.store = spec, plan, client, cache, store
        self.identity = client.endpoint
        self.budget = budget
        self.progress = progress or _Quiet()
        self.prior = prior or AcceptanceStats()
        self.offline = offline
        self.workers = max(1, workers)
        self.source = RowSource(spec, plan)
        self.counters = Counters()
        self.calls: dict[str, str] = {}
        self.rejected = Rejections()
        self.accepted: dict[int, dict[int, dict]] = {}
        self._toward = 0  # accepted rows that count toward a quota, kept as a running total for the progress bar
        self.attempted: dict[str, int] = {}  # stratum key -> rows that got a verdict
        self.kept: dict[str, int] = {}  # stratum key -> rows accepted (spares included)
        self.requested = {s.key: s.requested for s in plan.strata}
        self._stop: Optional[Stopped] = None
        self._started = 0
        self._reserved = 0.0
        self._offline_misses = 0
        self._round_done = self._round_failed = 0
        self._last_error = ""
        self._constraints = row_constraints(spec, plan)
        self._unique = unique_repairs(spec)
        self.new_rows: dict[str, dict] = {}
        self.carried = 0
        self._carried_from: dict[str, ModelProfile] = {}  # request key -> its profile
        self._fetched: set[str] = set()
        self._yield: dict[str, list[int]] = {}  # prompt -> [rows asked, rows lost] over all rounds so far
        self._last: Optional[_Stage] = None  # the round's last stage (unique repairs count against it)
        self.by_position = 0  # rows matched to their request by position (their ids were not copied)

    # ---- rounds ---------------------------------------------------------------------------------------

    async def run(self) -> Outcome:
        try:
            await self._rounds()
        except Stopped as s:
            self._stop = s
        if self._stop is not None:
            from .diagnosis import diagnose

            self._stop.details = diagnose(self.spec, self._stop, self.rejected, self.counters.calls,
                                          self.budget, self.counters.rounds)
        self._count_carried()
        return Outcome(self.accepted, self.counters, dict(sorted(self.calls.items())), self.rejected,
                       self.estimates(), self.shortfall(), self._stop, self.new_rows, self.carried, self.by_position)

    def _count_carried(self) -> None:
        """The earlier calls that answered carried rows count toward what the dataset cost in all (`full_*`),
        with their tokens when the cache still holds the answer."""
        for key, profile in sorted(self._carried_from.items()):
            if key in self._fetched:
                continue
            self.counters.carried_calls += 1
            stored = self.cache.get(key)
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
            self._forecast(short, number)
            number += 1
            left = None if self.budget.max_calls is None else max(0, self.budget.max_calls - self._started)
            pps = top_up(self.spec, plan, self.accepted_counts(), self.requested, self.estimates(), ceiling=left)
            if not any(pp.calls for pp in pps):
                missing = sum(short.values())
                raise self._budget_stop(f"{missing} row{'s are' if missing != 1 else ' is'} still missing and no "
                                        "top-up call fits")
            for pp in pps:
                for b in pp.batches:
                    for seg in b.segments:
                        key = plan.strata[seg.stratum].key
                        self.requested[key] = max(self.requested.get(key, 0), seg.start + seg.count)

    def _drop_duplicates(self) -> None:
        """Repairs `unique(...)` over generated text: among the rows the dataset would keep, visited in `_id`
        order, a row repeating an earlier row's tuple is rejected (counted under the constraint) and its stratum
        tops up in the next round, so the first copy stays and the repeat is written again. Only constraints
        whose arguments read generated text and only fields rows have before they are dealt to cells."""
        if not self._unique:
            return
        seen: list[set] = [set() for _ in self._unique]
        dropped = False
        for si in sorted(self.accepted, key=lambda i: self.plan.strata[i].key):
            rows, quota = self.accepted[si], self.plan.strata[si].rows
            kept = 0
            for i in sorted(rows):
                if kept == quota:
                    break
                full = full_row(self.spec, self.source.row(si, i), rows[i])
                keys = [_unique_key(c.expr, full) for c in self._unique]
                bad = [n for n, k in enumerate(keys) if k is not None and k in seen[n]]
                if bad:
                    del rows[i]
                    dropped = True
                    self._verdict(si, False)
                    self._lost(self._last)
                    for n in bad:
                        self.rejected.constraint(self._unique[n], full, (self.plan.strata[si].key, i))
                    continue
                for n, k in enumerate(keys):
                    if k is not None:
                        seen[n].add(k)
                kept += 1
        if dropped:
            self._toward = self.toward_quota()

    def accepted_counts(self) -> dict[str, int]:
        return {self.plan.strata[si].key: len(rows) for si, rows in self.accepted.items()}

    def shortfall(self) -> dict[str, int]:
        counts = self.accepted_counts()
        return {s.key: s.rows - counts.get(s.key, 0) for s in self.plan.strata if counts.get(s.key, 0) < s.rows}

    def toward_quota(self) -> int:
        return sum(min(len(self.accepted.get(si, {})), s.rows) for si, s in enumerate(self.plan.strata))

    def estimates(self) -> AcceptanceStats:
        """Acceptance measured so far: the overall rate, and each stratum's smoothed toward it (a stratum of
        one row that failed once is not a stratum that always fails)."""
        att, acc = sum(self.attempted.values()), sum(self.kept.values())
        prior = self.prior.rate if self.prior.rate is not None else DEFAULT_ACCEPTANCE
        if not att:
            return self.prior
        rate = acc / att
        pooled = (acc + PRIOR_WEIGHT * prior) / (att + PRIOR_WEIGHT)
        by = {k: round((self.kept.get(k, 0) + PRIOR_WEIGHT * pooled) / (n + PRIOR_WEIGHT), 4)
              for k, n in sorted(self.attempted.items()) if n}
        return AcceptanceStats(rate=round(rate, 4), by_stratum=by)

    async def _round(self, number: int, pps: Sequence[PromptPlan]) -> None:
        self._round_done = self._round_failed = 0
        self.progress.round(number, sum(pp.calls for pp in pps))
        self._planned, self._state = self._round_rows(pps)
        known = self._planned_fields()
        pending = list(self._constraints)
        # stage 0: constraints over planned values alone (nothing is paid for a row that breaks one)
        ready = [c for c in pending if set(c.fields) <= known]
        pending = [c for c in pending if c not in ready]
        if ready:
            self._judge(list(self._state), ready, last=False)
        for n, pp in enumerate(in_order(pps)):
            prompt = self.spec.prompt(pp.prompt)
            known |= set(prompt.outputs)
            known |= derivable(self.spec, known)
            newly = [c for c in pending if set(c.fields) <= known]
            pending = [c for c in pending if c not in newly]
            last = n == len(pps) - 1
            stage = _Stage(pp, prompt, row_model([self.spec.field(o) for o in prompt.outputs]),
                           newly + (pending if last else []), last, flushed_at=time.monotonic())
            self._last = stage
            await self._stage(stage)
            self._flush(stage)
            for k in list(self._state):  # rows this stage did not reach (failed calls, budget): out of the round
                if self._state[k] is not None and not set(prompt.outputs) <= set(self._state[k]):
                    self._state[k] = None
            if self._stop:
                raise self._stop
            if self._offline_misses:
                raise Stopped("offline", f"--offline: the cache holds no answer for {self._offline_misses} "
                                         f"call{'s' * (self._offline_misses != 1)}; run without --offline to make them")
            if self._round_failed and self._round_failed >= BREAKER_SHARE * self._round_done:
                raise Stopped("endpoint", self._breaker_message())
            self._check_yield(stage, number)

    def _forecast(self, short: dict[str, int], number: int) -> None:
        """Before a top-up: the strata it would ask for have accepted rows at some rate so far; below the floor
        (over YIELD_MIN_ROWS rows judged in them) the next round would mostly pay for rejections, so stop."""
        floor = self.budget.min_yield
        n = sum(self.attempted.get(k, 0) for k in short)
        ok = sum(self.kept.get(k, 0) for k in short)
        if floor <= 0 or n < YIELD_MIN_ROWS or ok / n >= floor:
            return
        raise Stopped("yield", f"the {len(short):,} strat{'a' if len(short) != 1 else 'um'} still short of rows "
                               f"accepted {ok:,} of the {n:,} rows judged in them ({ok / n:.0%}, below the "
                               f"{floor:.0%} floor of --min-yield); a top-up round would mostly pay for answers the "
                               "build cannot use", rows_asked=n, rows_accepted=ok, yield_rate=round(ok / n, 4),
                      min_yield=floor, round=number, strata_short=len(short))

    def _check_yield(self, stage: _Stage, number: int) -> None:
        """The yield breaker: stop when this prompt's rows keep being rejected (MIN_YIELD, YIELD_MIN_ROWS)."""
        floor = self.budget.min_yield
        asked, lost = self._yield.get(stage.prompt.name, [0, 0])
        for n, bad, scope in ((stage.asked, stage.lost, f"round {number}"), (asked, lost, "all rounds")):
            if floor <= 0 or n < YIELD_MIN_ROWS or (n - bad) / n >= floor:
                continue
            raise Stopped("yield", f"prompt {stage.prompt.name}: {n - bad} of {n} rows answered in {scope} were "
                                   f"accepted ({(n - bad) / n:.0%}, below the {floor:.0%} floor of --min-yield); "
                                   "more top-ups would pay for answers the build cannot use",
                          prompt=stage.prompt.name, rows_asked=n, rows_accepted=n - bad,
                          yield_rate=round((n - bad) / n, 4), min_yield=floor, round=number)

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
            for i, row in enumerate(self.source.rows(si, lo, hi - lo), lo):
                planned[(si, i)] = row
        for pp in pps:
            for b in pp.batches:
                for seg in b.segments:
                    for i in range(seg.start, seg.start + seg.count):
                        state[(seg.stratum, i)] = {}
        return planned, state

    def _planned_fields(self) -> set[str]:
        names = {f.name for f in self.spec.fields if f.role == "sampled"}
        return names | derivable(self.spec, names)

    # ---- calls -------------------------------------------------------------------------------------------

    async def _stage(self, stage: _Stage) -> None:
        calls = iter(self._stage_calls(stage))

        async def worker():
            for call in calls:  # one shared iterator: each call is taken by exactly one worker
                if self._stop:
                    return
                await self._call(stage, call)

        await asyncio.gather(*(worker() for _ in range(self.workers)))

    def _asked(self, stage: _Stage, r: tuple[int, int], rid: str) -> dict:
        return asked(self._planned[r], self._state[r], rid, stage.prompt.inputs)

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
                e = self.store.get(rid, stage.digest(self._asked(stage, r, rid)))
                if e is None:
                    fresh.append(r)
                    continue
                carried = True
                self.carried += 1
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
        ids = [row_id(self.plan.strata[si].key, i) for si, i in alive]
        asked = [self._asked(stage, r, rid) for r, rid in zip(alive, ids)]
        body = request_body(self.spec, self.plan, stage.pp, call, asked)
        key = request_key(self.identity, body)
        profile = self.plan.profile_of(stage.pp)
        reserve = 0.0
        if self.cache.get(key) is None:
            if self.offline:
                self._offline_misses += 1
                return
            reserve = self._admit(stage.pp, len(alive), body, profile)
            if reserve is None:
                return
        try:
            answer, from_cache = await fetch(self.client, self.cache, body)
        except CallError as e:
            self._reserved -= reserve
            self._failed(e)
            self.progress.call(False, None, None)
            return
        self._reserved -= reserve
        self._count(answer, from_cache, profile)
        self._fetched.add(key)
        sha = self.calls[key] = answer_sha256(answer)
        found = salvage(answer.content, ids, stage.model, asked)
        self.by_position += found.by_position
        for r, rid, row in zip(alive, ids, asked):
            values = found.rows.get(rid)
            kind, why = found.failed.get(rid, (MISSING, "no row for it in the answer"))
            self.new_rows[entry_key(rid, stage.digest(row))] = entry(values, key, sha, why[:300], kind)
            self._asked_one(stage)
            self._take(stage, r, rid, values, why, kind)
        now = time.monotonic()
        if len(stage.buffer) >= FLUSH_ROWS or now - stage.flushed_at >= FLUSH_SECONDS:
            self._flush(stage)

    def _admit(self, pp: PromptPlan, rows: int, body: dict, profile: ModelProfile) -> Optional[float]:
        """Whether a budget allows one more call; its reserved cost (None: stop instead)."""
        b = self.budget
        if b.max_calls is not None and self._started >= b.max_calls:
            self._halt(self._budget_stop("the next call would pass it"))
            return None
        reserve = 0.0
        if b.max_cost is not None:
            est = cost_usd(pp.prompt_tokens_per_call + rows * pp.prompt_tokens_per_row,
                           int(body.get("max_tokens") or 0), profile) or 0.0
            spent = self.counters.cost_usd or 0.0
            if spent + self._reserved + est > b.max_cost:
                self._halt(Stopped("budget", f"--max-cost ${b.max_cost:g} reached (${spent:.4f} spent; the next "
                                             f"call could cost up to ${est:.4f})"))
                return None
            reserve = est
            self._reserved += est
        self._started += 1
        return reserve

    def _count(self, answer: Answer, from_cache: bool, profile: ModelProfile) -> None:
        c = self.counters
        c.add(profile, answer, from_cache)
        if from_cache:
            c.cache_hits += 1
        else:
            c.calls += 1
            self._round_done += 1
        self.progress.call(from_cache, answer, cost_usd(answer.prompt_tokens, answer.completion_tokens, profile))

    def _failed(self, e: CallError) -> None:
        self.counters.failed_calls += 1
        self._round_done += 1
        self._round_failed += 1
        self._last_error = e.message
        if e.kind in ("auth", "embedded", "offline"):  # no later call can do better
            self._halt(Stopped("endpoint", e.message))
        elif self._round_done >= BREAKER_MIN and self._round_failed >= BREAKER_SHARE * self._round_done:
            self._halt(Stopped("endpoint", self._breaker_message()))
        elif self.counters.calls == 0 and self.counters.failed_calls >= FIRST_FAILURES:
            self._halt(Stopped("endpoint", f"the first {self.counters.failed_calls} calls all failed; "
                                           f"last error: {e.message}"))

    def _budget_stop(self, why: str) -> Stopped:
        b = self.budget
        if b.ceiling:
            return Stopped("ceiling", f"the build's ceiling of {b.max_calls:,} calls is reached ({why}): "
                                      f"{CEILING_FACTOR} x round 1's {self.plan.calls:,} calls + {CEILING_SLACK}, as "
                                      "`synthc plan` states; pass --max-calls N to allow more", max_calls=b.max_calls)
        return Stopped("budget", f"--max-calls {b.max_calls} reached ({why})", max_calls=b.max_calls)

    def _breaker_message(self) -> str:
        return (f"{self._round_failed} of {self._round_done} calls of round {self.counters.rounds} failed; "
                f"last error: {self._last_error}")

    def _halt(self, stop: Stopped) -> None:
        if self._stop is None:
            self._stop = stop

    # ---- verdicts ----------------------------------------------------------------------------------------

    def _flush(self, stage: _Stage) -> None:
        rows, stage.buffer = stage.buffer, []
        stage.flushed_at = time.monotonic()
        if rows:
            self._judge(rows, stage.newly, stage.last, stage)

    def _judge(self, rows: list[tuple[int, int]], constraints: list[ir.Constraint], last: bool,
               stage: Optional[_Stage] = None) -> None:
        """Checks `constraints` on rows (stratum number, index): breakers are dropped and counted, and on the
        last stage the rest are accepted."""
        rows = [r for r in rows if self._state.get(r) is not None]
        if not rows:
            return
        full = {r: full_row(self.spec, self._planned[r], self._state[r]) for r in rows}
        verdicts = broken(self.spec, list(full.values()), constraints) if constraints else {}
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
        key = self.plan.strata[si].key
        self.attempted[key] = self.attempted.get(key, 0) + 1
        if ok:
            self.kept[key] = self.kept.get(key, 0) + 1


def unique_repairs(spec: ir.Spec) -> list[ir.Constraint]:
    """The dataset constraints that are one `unique(...)` call the build repairs (executor._drop_duplicates):
    its arguments read generated text (a repeated category is a target problem, not a bad answer) and no
    field dealt after generation (plan.identity)."""
    fields = {f.name: f for f in spec.fields}
    gen = generation_fields(spec, read_layout(spec))
    out = []
    for c in spec.constraints:
        e = c.expr
        if c.kind != "dataset" or e.kind != "call" or e.fn != "unique":
            continue
        refs = set().union(*(a.refs() for a in e.args))
        texts = [n for n in refs if n in fields and fields[n].role == "generated" and fields[n].type.kind == "text"]
        dealt = [n for n in refs if n in fields and fields[n].role == "sampled" and n not in gen]
        if texts and not dealt:
            out.append(c)
    return out


def _unique_key(call: ir.Expr, row: dict):
    """The tuple unique(...) compares, as hashable JSON; None when it cannot be computed (NULL or error)."""
    try:
        values = [evaluate(a, row) for a in call.args]
    except (Unknown, TypeError, ValueError, KeyError, ZeroDivisionError):
        return None
    return json.dumps(values, sort_keys=True, ensure_ascii=False, default=str)


def asked(planned: dict, generated: dict, rid: str, inputs) -> dict:
    """What a call tells the model about a row: its id and the prompt's inputs (planned or generated)."""
    merged = {**planned, **generated}
    return {"id": rid, **{k: merged[k] for k in inputs if k in merged}}


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
    done: set[str] = set()
    out: list[PromptPlan] = []
    left = list(pps)
    while left:
        ready = [pp for pp in left if set(pp.after) <= done] or left[:1]  # a cycle cannot pass the checker
        pp = ready[0]
        out.append(pp)
        done.add(pp.prompt)
        left.remove(pp)
    return out
