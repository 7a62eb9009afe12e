"""The plan delta: rows per stratum before and after, the rows a change drops and adds, and what its build will
call and cost (round-1 calls the cache already answers vs new ones; generate.predict replays them).

Row ids are `<stratum key>-<index>` and a stratum keeps rows 0..rows-1, so a stratum shrinking from 5 to 3
rows drops exactly its ids -000003 and -000004, and a stratum that no longer exists drops all of its rows.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterator, Optional

from pydantic import BaseModel, ConfigDict

from .. import ir
from ..plan import Plan, iter_calls, row_id
from ..run.cache import AnswerCache
from ..run.rowstore import RowStore
from ..generate.predict import PredictedCall, calls_cost, round_one


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StratumDelta(_Frozen):
    """A stratum whose quota changed. old_rows/new_rows: 0 where it does not exist on that side."""

    key: str
    values: dict[str, ir.Value]
    old_rows: int
    new_rows: int

    @property
    def dropped(self) -> int:
        return max(0, self.old_rows - self.new_rows)

    @property
    def added(self) -> int:
        return max(0, self.new_rows - self.old_rows)


class PromptCalls(_Frozen):
    """Round-1 calls of one prompt of the new plan. cached + new = calls; unknown (part of new): calls over rows
    whose earlier answer is not cached, so their request cannot be known yet; unchanged: calls whose request
    the base plan sends too (answered after a build of the base, whatever this cache holds)."""

    prompt: str
    calls: int
    rows: int  # rows the calls ask for (rows breaking a constraint on planned values are never asked)
    cached: int
    new: int
    unknown: int
    unchanged: int
    new_cost_usd: Optional[float]
    cost_usd: Optional[float]
    carried: int = 0  # rows answered by the row store (earlier builds), asked in no call


class PlanDelta(_Frozen):
    """old_*: None when the spec does not exist on the old side. cache: `found` | `empty` (no answers at its
    root) | `off` (the endpoint is unknown, so no key can be computed)."""

    old_rows: Optional[int]
    new_rows: int
    old_strata: Optional[int]
    new_strata: int
    strata: tuple[StratumDelta, ...]  # only strata whose quota changed, by key
    strata_unchanged: int
    rows_kept: int
    rows_dropped: int
    rows_added: int
    old_calls: Optional[int]  # the plans' round-1 calls (plan.calls)
    new_calls: int
    old_cost_usd: Optional[float]
    new_cost_usd: Optional[float]  # a full rebuild's estimate (plan.cost_est_usd)
    prompts: tuple[PromptCalls, ...]
    calls: int  # round-1 calls the build would make (the replay)
    calls_cached: int
    calls_new: int
    calls_unknown: int
    calls_unchanged: int
    rows_carried: int  # rows (per prompt) whose answer an earlier build's row store holds: no call for them
    cost_change_usd: Optional[float]  # estimate of the new calls only
    cache: str
    identity: Optional[str]

    def dropped_ids(self) -> Iterator[str]:
        """The ids of every row the change drops, by stratum key."""
        for s in self.strata:
            for i in range(s.new_rows, s.old_rows):
                yield row_id(s.key, i)

    def added_ids(self) -> Iterator[str]:
        for s in self.strata:
            for i in range(s.old_rows, s.new_rows):
                yield row_id(s.key, i)


def _sum_cost(costs) -> Optional[float]:
    costs = list(costs)
    if any(c is None for c in costs):
        return None
    return round(sum(costs), 6)


def plan_delta(old_spec: Optional[ir.Spec], old_plan: Optional[Plan], new_spec: Optional[ir.Spec],
               new_plan: Optional[Plan], cache: Optional[AnswerCache], identity: Optional[str],
               old_identity: Optional[str] = None) -> PlanDelta:
    """Compare two plans (None: the spec does not exist on that side). identity: the endpoint identity the
    build names in cache keys (endpoint.Endpoint.identity: `embedded` for the embedded model); None:
    no key can be computed, so every call counts as new. old_identity: the base's, when it differs."""
    if new_plan is None or new_spec is None:
        new_spec, new_plan = None, None
    old_by = {s.key: s for s in old_plan.strata} if old_plan is not None else {}
    new_by = {s.key: s for s in new_plan.strata} if new_plan is not None else {}
    strata, unchanged = [], 0
    kept = dropped = added = 0
    for key in sorted(set(old_by) | set(new_by)):
        o, n = old_by.get(key), new_by.get(key)
        orows, nrows = (o.rows if o else 0), (n.rows if n else 0)
        kept += min(orows, nrows)
        dropped += max(0, orows - nrows)
        added += max(0, nrows - orows)
        if orows == nrows:
            unchanged += 1
            continue
        strata.append(StratumDelta(key=key, values=dict((n or o).values), old_rows=orows, new_rows=nrows))

    predicted: list[PredictedCall] = []
    carried: Counter = Counter()
    store = RowStore(cache.root) if cache is not None else None
    if new_plan is not None:
        # without an identity no key can be computed: the plan's calls, all new
        if identity:
            replay = round_one(new_spec, new_plan, identity, cache, store)
            predicted, carried = replay.calls, replay.carried
        else:
            predicted = _unkeyed(new_plan)
    base_keys: set[str] = set()
    if old_plan is not None and old_spec is not None and (old_identity or identity) and any(c.key for c in predicted):
        base_keys = {c.key for c in round_one(old_spec, old_plan, old_identity or identity, cache).calls if c.key}
    prompts = []
    for pp in new_plan.prompts if new_plan is not None else ():
        mine = [c for c in predicted if c.prompt == pp.prompt]
        new = [c for c in mine if not c.cached]
        prompts.append(PromptCalls(
            prompt=pp.prompt, calls=len(mine), rows=sum(c.rows for c in mine), cached=len(mine) - len(new),
            new=len(new), unknown=sum(1 for c in mine if c.key is None),
            unchanged=sum(1 for c in mine if c.key in base_keys),
            new_cost_usd=calls_cost(new_plan, pp, new), cost_usd=calls_cost(new_plan, pp, mine),
            carried=carried[pp.prompt]))
    if cache is None or identity is None:
        state = "off"
    else:
        state = "found" if cache.dir.is_dir() and any(cache.dir.iterdir()) else "empty"
    return PlanDelta(
        old_rows=old_plan.rows if old_plan is not None else None, new_rows=new_plan.rows if new_plan else 0,
        old_strata=len(old_plan.strata) if old_plan is not None else None,
        new_strata=len(new_plan.strata) if new_plan else 0,
        strata=tuple(strata), strata_unchanged=unchanged, rows_kept=kept, rows_dropped=dropped, rows_added=added,
        old_calls=old_plan.calls if old_plan is not None else None, new_calls=new_plan.calls if new_plan else 0,
        old_cost_usd=old_plan.cost_est_usd if old_plan is not None else None,
        new_cost_usd=new_plan.cost_est_usd if new_plan else 0.0,
        prompts=tuple(prompts), calls=len(predicted), calls_cached=sum(p.cached for p in prompts),
        calls_new=sum(p.new for p in prompts), calls_unknown=sum(p.unknown for p in prompts),
        calls_unchanged=sum(p.unchanged for p in prompts), rows_carried=sum(p.carried for p in prompts),
        cost_change_usd=_sum_cost(p.new_cost_usd for p in prompts),
        cache=state, identity=identity)


def _unkeyed(plan: Plan) -> list[PredictedCall]:
    return [PredictedCall(pp.prompt, c.id, len(c.rows), None, False)
            for pp in plan.prompts for c in iter_calls(pp, plan.strata)]
