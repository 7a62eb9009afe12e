"""How rows become calls: rows per call (k), spare rows, and packing that meets the lower bound exactly.

For each prompt, k_limit = min(the prompt's `rows per call` (or the profile's), the profile's most rows per call,
the rows whose estimated completion fits the output limit with 25% headroom, the rows that fit the context), and
k = min(k_limit, max(k_shared, ceil(Q / (concurrency x WAVES)))) over the prompt's round-1 quota Q (unless the prompt
sets its own `rows per call`), so the calls fill the profile's slots (docs/BUILD.md "The round engine"), where
k_shared = ceil(prompt_per_call / prompt_per_row): a call carries at least as many rows as make its rows' part of the
prompt as long as its shared part, so filling the pool never pays the shared prompt more than twice per row's worth. Rows of one stratum fill whole calls first; the remainders
(< k rows each) are packed best-fit decreasing into exactly ceil(remainder rows / k) calls, splitting a remainder
over the roomiest calls only when no call has room for it whole. Spare rows only fill the free room of the calls
the quota needs (`fit_spares`), so the round's first prompt makes ceil(Q / k) calls per system-message group. A
writer after the first prompt (in stage order) asks at most half a chunk per call (`later_k`). A prompt after the
first is packed per chunk: `chunk_calls` consecutive calls of the first prompt (enough to hold a full call of every
later prompt), which flow through the stages on their own: ceil(rows of the chunk / k) calls each.
"""

from __future__ import annotations

import math
from functools import lru_cache
from statistics import NormalDist
from typing import Mapping, Sequence

from .. import ir
from ..profiles import ModelProfile, profile_for
from .cost import TokenModel, cost_usd, token_model
from .model import AcceptanceStats, CallBatch, PromptPlan, Segment, Stratum
from .stages import order_names

# Spares buy fewer rounds, not correctness: top-up rounds fill any shortfall. At 0.8 a stratum of one or two
# rows (common once several categorical fields cross) carries no spare at p = 0.9, where 0.95 would double the
# calls of a many-strata spec (measured on examples/product_reviews: 393 round-1 calls at 0.95 for 200 rows).
CONFIDENCE = 0.8
OUTPUT_HEADROOM = 1.25
_EXACT_UP_TO = 2000  # quota size up to which the binomial tail is summed exactly

# Bounded top-ups (docs/BUILD.md "What a build may spend"). A round that accepted few rows must not ask for
# 100x the missing rows: top-ups are sized with a rate of at least RATE_FLOOR, and ask at most TOPUP_FACTOR
# rows per missing row. A rate below the floor, measured on enough rows, stops the build instead (the yield
# breaker, generate.guard), so sizing for a worse rate would only pay for answers the build cannot use.
RATE_FLOOR = 0.25
TOPUP_FACTOR = 4
# Rows per call are cut so that a round's quota fills the profile's concurrency this many times over
# (bench/engine_bench.py measured 1, 2 and 3 waves: 1 had the shortest calls span and the fewest tokens;
# bench/RESULTS.md "The round engine").
WAVES = 1


# ---- spare rows -------------------------------------------------------------------------------------


def _tail_at_least(n: int, m: int, p: float) -> float:
    """P(Binomial(m, p) >= n), summed in log space over the m - n + 1 terms with at most m - n failures."""
    q = 1.0 - p
    if n <= 0:
        return 1.0
    if q <= 0:
        return 1.0 if m >= n else 0.0
    lp, lq = math.log(p), math.log(q)
    logs = [math.lgamma(m + 1) - math.lgamma(f + 1) - math.lgamma(m - f + 1) + (m - f) * lp + f * lq
            for f in range(0, m - n + 1)]
    top = max(logs)
    return min(1.0, math.exp(top) * sum(math.exp(x - top) for x in logs))


@lru_cache(maxsize=4096)
def spare_rows(n: int, p: float, confidence: float = CONFIDENCE) -> int:
    """The fewest extra rows s with P(Binomial(n + s, p) >= n) >= confidence (p: acceptance rate)."""
    if n <= 0 or p >= 1.0:
        return 0
    z = NormalDist().inv_cdf(confidence)
    if n > _EXACT_UP_TO:
        # Normal approximation with continuity correction: smallest m with (m p - n + 0.5) >= z sqrt(m p q).
        q = 1.0 - p
        root = (z * math.sqrt(q) + math.sqrt(z * z * q + 4 * (n - 0.5))) / (2 * math.sqrt(p))
        return max(0, math.ceil(root * root) - n)
    # Start just below the normal guess and walk: the exact tail is monotone in s.
    s = max(0, math.floor((n / p - n) + z * math.sqrt(n * (1 - p)) / p) - 3)
    while s > 0 and _tail_at_least(n, n + s - 1, p) >= confidence:
        s -= 1
    while _tail_at_least(n, n + s, p) < confidence:
        s += 1
    return s


# ---- rows per call ----------------------------------------------------------------------------------


def rows_per_call(prompt: ir.Prompt, profile: ModelProfile, tokens: TokenModel) -> tuple[int, list[str]]:
    """k for one prompt, and a warning for every limit that cut it below what was asked."""
    asked = prompt.rows_per_call or profile.max_rows_per_call
    out_limit = profile.max_output_tokens  # a prompt's max_tokens is per row: it caps rows, not calls
    by_output = math.floor((out_limit / OUTPUT_HEADROOM - tokens.completion_per_call) / tokens.completion_per_row)
    by_context = math.floor((profile.context_tokens - tokens.prompt_per_call - OUTPUT_HEADROOM * tokens.completion_per_call)
                            / (tokens.prompt_per_row + OUTPUT_HEADROOM * tokens.completion_per_row))
    limits = {"the model profile": profile.max_rows_per_call, "the output token limit": by_output,
              "the context size": by_context}
    k = max(1, min(asked, *limits.values()))
    warnings = []
    if prompt.rows_per_call and k < prompt.rows_per_call:
        why = min(limits, key=lambda name: limits[name])
        warnings.append(f"prompt {prompt.name}: {prompt.rows_per_call} rows per call asked, {k} planned "
                        f"({why} of {profile.name})")
    if prompt.max_tokens and prompt.max_tokens < tokens.completion_per_row:
        warnings.append(f"prompt {prompt.name}: max_tokens = {prompt.max_tokens} per row, but a row's fields may "
                        f"need up to {tokens.completion_per_row} tokens; answers may be cut off")
    if tokens.completion_per_call + tokens.completion_per_row > out_limit:
        warnings.append(f"prompt {prompt.name}: one row may need up to {tokens.completion_per_row} completion "
                        f"tokens, more than the {out_limit} allowed; answers may be cut off")
    elif by_context < 1:
        warnings.append(f"prompt {prompt.name}: one row may not fit {profile.name}'s context of "
                        f"{profile.context_tokens} tokens")
    return k, warnings


# ---- packing ----------------------------------------------------------------------------------------


def pack(quotas: Sequence[tuple[int, int, int]], k: int) -> list[CallBatch]:
    """Calls of at most k rows over (stratum, first index, rows) quotas: exactly ceil(total / k) calls."""
    batches: list[CallBatch] = []
    rests: list[tuple[int, int, int]] = []
    for s, start, n in quotas:
        full = n // k
        if full:
            batches.append(CallBatch.model_construct(segments=(Segment.model_construct(stratum=s, start=start, count=full * k),),
                                                     calls=full))
        if n % k:
            rests.append((s, start + full * k, n % k))
    need = math.ceil(sum(r for _, _, r in rests) / k)
    bins: list[list[tuple[int, int, int]]] = []
    free: list[int] = []
    by_free: list[list[int]] = [[] for _ in range(k + 1)]  # bins by free room: best fit in O(k)
    for s, start, r in sorted(rests, key=lambda x: (-x[2], x[0])):
        room = next((f for f in range(r, k + 1) if by_free[f]), None)
        if room is None and len(bins) < need:
            bins.append([])
            free.append(k)
            by_free[k].append(len(bins) - 1)
            room = k
        if room is not None:
            b = by_free[room].pop()
            bins[b].append((s, start, r))
            free[b] -= r
            by_free[free[b]].append(b)
            continue
        while r:  # nothing fits whole and no call is left to open: split over the roomiest calls
            room = next(f for f in range(k, 0, -1) if by_free[f])
            b = by_free[room].pop()
            take = min(room, r)
            bins[b].append((s, start, take))
            free[b] -= take
            by_free[free[b]].append(b)
            start, r = start + take, r - take
    for b in bins:
        segs = tuple(Segment.model_construct(stratum=s, start=st, count=n) for s, st, n in sorted(b))
        batches.append(CallBatch.model_construct(segments=segs, calls=1))
    return batches


def _groups(spec: ir.Spec, prompt: ir.Prompt, strata: Sequence[Stratum]) -> list[list[int]] | None:
    """Strata grouped by the values the system message reads (one group if it reads none).
    None when it reads a per-row value: then every row needs its own call."""
    names = prompt.system.fields if prompt.system is not None else ()
    if not names:
        return [list(range(len(strata)))]
    if strata and any(n not in strata[0].values for n in names):
        return None
    out: dict[tuple, list[int]] = {}
    for i, s in enumerate(strata):
        out.setdefault(tuple(s.values[n] for n in names), []).append(i)
    return list(out.values())


def shared_k(tokens: TokenModel) -> int:
    """The fewest rows whose part of a call's prompt is as long as the part said once per call (k_shared)."""
    return max(1, math.ceil(tokens.prompt_per_call / max(1, tokens.prompt_per_row)))


def pool_k(k_limit: int, quota: int, concurrency: int, waves: int | None = None, floor: int = 1) -> int:
    """Rows per call that keep the pool busy: at most k_limit, and few enough that `quota` rows make about
    `concurrency x waves` calls (default WAVES; 0: no cut, k_limit as before), but never fewer than `floor`
    (shared_k: below it, the shared prompt would cost more than the rows)."""
    waves = WAVES if waves is None else waves
    if waves <= 0:
        return k_limit
    return max(1, min(k_limit, max(floor, math.ceil(quota / max(1, concurrency * waves)))))


def _profile_of(spec: ir.Spec, prompt: ir.Prompt, profile: ModelProfile) -> ModelProfile:
    return profile_for(prompt.model) if prompt.model and prompt.model != spec.dataset.model else profile


def prompt_k(spec: ir.Spec, prompt: ir.Prompt, profile: ModelProfile, strata: Sequence[Stratum]) -> int:
    """Round 1's k for a prompt: its limit, cut to fill the profile's concurrency with the strata's quota."""
    profile = _profile_of(spec, prompt, profile)
    tokens = token_model(spec, prompt)
    k_limit, _ = rows_per_call(prompt, profile, tokens)
    if _groups(spec, prompt, strata) is None:
        return 1
    if prompt.rows_per_call:  # the spec's own number is kept (within the limits)
        return k_limit
    return pool_k(k_limit, sum(s.rows for s in strata), profile.concurrency, floor=shared_k(tokens))


def fit_spares(spec: ir.Spec, prompt: ir.Prompt, k: int, strata: Sequence[Stratum],
               wanted: Sequence[int], quotas: Sequence[int] | None = None) -> list[int]:
    """Spare rows per stratum that fit the free room of the calls the quota needs (per system-message group):
    all wanted spares when they fit, else the largest equal share floor(t x wanted) that fits, then the room left
    one row at a time in stratum key order. quotas: the rows each stratum asks for (default its quota; a
    top-up's missing rows)."""
    quotas = [s.rows for s in strata] if quotas is None else quotas
    out = [0] * len(strata)
    for g in _groups(spec, prompt, strata) or [list(range(len(strata)))]:
        quota = sum(quotas[i] for i in g)
        room = math.ceil(quota / k) * k - quota
        want = {i: wanted[i] for i in g if wanted[i] > 0}
        if sum(want.values()) <= room:
            got = dict(want)
        else:
            lo, hi = 0.0, 1.0
            for _ in range(40):  # the largest share t with sum floor(t x wanted) <= room
                mid = (lo + hi) / 2
                if sum(math.floor(mid * w) for w in want.values()) <= room:
                    lo = mid
                else:
                    hi = mid
            got = {i: math.floor(lo * w) for i, w in want.items()}
            left = room - sum(got.values())
            for i in sorted(want, key=lambda i: strata[i].key):
                if left <= 0:
                    break
                if got[i] < want[i]:
                    got[i] += 1
                    left -= 1
        for i, n in got.items():
            out[i] = n
    return out


def plan_prompt(spec: ir.Spec, prompt: ir.Prompt, profile: ModelProfile, strata: Sequence[Stratum],
                starts: Mapping[int, int] | None = None, counts: Mapping[int, int] | None = None,
                k: int | None = None, chunks: tuple[Sequence[CallBatch], int] | None = None
                ) -> tuple[PromptPlan, list[str]]:
    """The calls of one prompt over `counts[i]` rows of stratum i from index `starts[i]` (default: round 1).
    k: rows per call (default: `prompt_k`); chunks: the first prompt's batches and the calls per chunk, when this
    prompt is packed per chunk of the first prompt (it comes after it in the round's stages)."""
    profile = _profile_of(spec, prompt, profile)
    tokens = token_model(spec, prompt)
    k_limit, warnings = rows_per_call(prompt, profile, tokens)
    if k is not None:
        k = min(k, k_limit)
    else:
        k = k_limit if prompt.rows_per_call else pool_k(k_limit, sum(s.rows for s in strata), profile.concurrency,
                                                        floor=shared_k(tokens))
    groups = _groups(spec, prompt, strata)
    if groups is None:
        warnings.append(f"prompt {prompt.name}: its system message reads a per-row value, so every row is its own call")
        k, groups = 1, [list(range(len(strata)))]
    batches, lower = [], 0
    for g in groups:
        quotas = [(i, (starts or {}).get(i, 0), counts[i] if counts is not None else strata[i].requested) for i in g]
        quotas = [q for q in quotas if q[2] > 0]
        if chunks is None:
            batches += pack(quotas, k)
        lower += math.ceil(sum(q[2] for q in quotas) / k)
    if chunks is not None:
        batches = per_chunk(chunks[0], k, groups, chunks[1])
    rows = sum(b.rows for b in batches)
    calls = sum(b.calls for b in batches)
    p_tok, c_tok = tokens.prompt(calls, rows), tokens.completion(calls, rows)
    inputs = set(prompt.inputs)
    after = tuple(p.name for p in spec.prompts if p.name != prompt.name and inputs & set(p.outputs))
    return PromptPlan(
        prompt=prompt.name, profile=profile.name, model=profile.model, rows_per_call=k, rows=rows, calls=calls,
        lower_bound_calls=lower, prompt_tokens_per_call=tokens.prompt_per_call,
        prompt_tokens_per_row=tokens.prompt_per_row, completion_tokens_per_call=tokens.completion_per_call,
        completion_tokens_per_row=tokens.completion_per_row, prompt_tokens_est=p_tok, completion_tokens_est=c_tok,
        cost_est_usd=cost_usd(p_tok, c_tok, profile), after=after, batches=tuple(batches),
        judge=prompt.judge), warnings


def chunk_runs(batches: Sequence[CallBatch]):
    """The first prompt's calls as runs (stratum, start, rows), one list per call, with how many calls of the
    same shape follow at a stride (a batch of several equal calls is one entry): (runs, repeat, stride)."""
    for b in batches:
        if b.calls > 1:
            seg = b.segments[0]
            per = seg.count // b.calls
            yield [(seg.stratum, seg.start, per)], b.calls, per
        else:
            yield [(seg.stratum, seg.start, seg.count) for seg in b.segments], 1, 0


def _joined(runs: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    out: list[tuple[int, int, int]] = []
    for s, start, n in runs:
        if out and out[-1][0] == s and out[-1][1] + out[-1][2] == start:
            out[-1] = (s, out[-1][1], out[-1][2] + n)
        else:
            out.append((s, start, n))
    return out


def chunk_groups(batches: Sequence[CallBatch], m: int):
    """The round's chunks: `m` consecutive calls of the first prompt each (the last may have fewer), as
    `chunk_runs` gives them: (runs, repeat, stride), equal chunks of one stratum as one entry."""
    pending: list[tuple[int, int, int]] = []
    n = 0
    for runs, repeat, per in chunk_runs(batches):
        if m == 1:
            yield runs, repeat, per
            continue
        r = 0
        while r < repeat:
            if n == 0 and repeat - r >= m and len(runs) == 1:  # whole chunks within a run of equal calls
                whole = (repeat - r) // m
                s, start, _ = runs[0]
                yield [(s, start + r * per, m * per)], whole, m * per
                r += whole * m
                continue
            pending += [(s, start + r * per, c) for s, start, c in runs]
            n, r = n + 1, r + 1
            if n == m:
                yield _joined(pending), 1, 0
                pending, n = [], 0
    if pending:
        yield _joined(pending), 1, 0


def per_chunk(chunks: Sequence[CallBatch], k: int, groups: Sequence[Sequence[int]], m: int = 1) -> list[CallBatch]:
    """A later prompt's calls: each chunk (`m` calls of the first prompt) packed on its own, k rows per call, one
    system message per call (`groups`). A run of equal chunks of one stratum stays one batch when a chunk is one
    call of this prompt too."""
    group_of = {i: n for n, g in enumerate(groups) for i in g}
    out: list[CallBatch] = []
    for runs, repeat, per in chunk_groups(chunks, m):
        if repeat > 1 and per <= k:
            s, start, _ = runs[0]
            out.append(CallBatch.model_construct(segments=(Segment.model_construct(stratum=s, start=start,
                                                                                   count=per * repeat),),
                                                 calls=repeat))
            continue
        for r in range(repeat):
            shifted = [(s, start + r * per, n) for s, start, n in runs]
            by_group: dict[int, list] = {}
            for run in shifted:
                by_group.setdefault(group_of.get(run[0], 0), []).append(run)
            for g in sorted(by_group):
                out += pack(by_group[g], k)
    return out


def chunk_calls(spec: ir.Spec, pps: Sequence[PromptPlan]) -> int:
    """Calls of the round's first prompt (in stage order) per chunk: enough that a chunk holds a full call of
    every later prompt (a one-row first prompt read by a 25-row judge makes chunks of 25 calls), so planning a
    later prompt per chunk never makes its calls smaller than its k."""
    by_name = {pp.prompt: pp.rows_per_call for pp in pps}
    order = [n for n in stage_order(spec) if n in by_name]
    return chunk_size(by_name[order[0]], [by_name[n] for n in order[1:]]) if order else 1


def chunk_size(k_first: int, later: Sequence[int]) -> int:
    """Calls of the first prompt per chunk, from its k and the later prompts' (`chunk_calls`)."""
    return max([1, *(math.ceil(k / max(1, k_first)) for k in later)])


def later_k(k: int, k_first: int, floor: int) -> int:
    """A writer after the first prompt asks at most half a chunk per call (never below its floor k_shared): the
    round's last calls are the later prompts' calls of the last chunks, so halving them halves the tail that
    runs on an idle pool when the build's concurrency passes the profile's (bench/tokens_bench.py)."""
    return min(k, max(floor, math.ceil(k_first / 2)))


def plan_round(spec: ir.Spec, profile: ModelProfile, strata: Sequence[Stratum],
               starts: Mapping[int, int] | None = None, counts: Mapping[int, int] | None = None,
               ks: Mapping[str, int] | None = None) -> tuple[list[PromptPlan], list[str]]:
    """Every prompt's calls of a round, in declaration order: the first prompt in stage order packs the rows,
    the others are packed per chunk of it (`per_chunk`, `chunk_calls`). ks: rows per call per prompt (top-ups
    keep round 1's); else round 1's: `prompt_k`, a writer after the first cut by `later_k`."""
    order = stage_order(spec)
    if ks is None and order:
        k_first = prompt_k(spec, spec.prompt(order[0]), profile, strata)
        ks = {order[0]: k_first}
        for name in order[1:]:
            prompt = spec.prompt(name)
            k = prompt_k(spec, prompt, profile, strata)
            if not prompt.judge and not prompt.rows_per_call:
                k = later_k(k, k_first, shared_k(token_model(spec, prompt)))
            ks[name] = k
    plans: dict[str, PromptPlan] = {}
    warnings: list[str] = []
    first, chunks = None, None
    for name in order:
        pp, notes = plan_prompt(spec, spec.prompt(name), profile, strata, starts, counts,
                                (ks or {}).get(name), chunks)
        if first is None:
            first = pp
            chunks = (first.batches, chunk_size(pp.rows_per_call, [(ks or {}).get(n, 1) for n in order[1:]]))
        plans[name] = pp
        warnings += notes
    return [plans[p.name] for p in spec.prompts], warnings


def stage_order(spec: ir.Spec) -> list[str]:
    """Prompt names in declaration order, each after the prompts whose outputs it reads (plan.stages.in_order)."""
    after = {p.name: {q.name for q in spec.prompts if q.name != p.name and set(p.inputs) & set(q.outputs)}
             for p in spec.prompts}
    return order_names([p.name for p in spec.prompts], after)


def repack(spec: ir.Spec, pp: PromptPlan, strata: Sequence[Stratum], rows) -> PromptPlan:
    """pp's calls over exactly `rows` ((stratum number, row index) pairs), packed as the plan packs: runs of
    consecutive indices per stratum, k rows per call, one system message per call. Used when a build already
    holds the answers of some of a prompt's rows (run.rowstore) and asks for the others only."""
    runs: list[tuple[int, int, int]] = []
    for si, i in sorted(set(rows)):
        if runs and runs[-1][0] == si and runs[-1][1] + runs[-1][2] == i:
            runs[-1] = (si, runs[-1][1], runs[-1][2] + 1)
        else:
            runs.append((si, i, 1))
    batches: list[CallBatch] = []
    for g in _groups(spec, spec.prompt(pp.prompt), strata) or [range(len(strata))]:  # None: k is already 1
        mine = set(g)
        batches += pack([r for r in runs if r[0] in mine], pp.rows_per_call)
    return pp.model_copy(update={"batches": tuple(batches), "rows": sum(b.rows for b in batches),
                                 "calls": sum(b.calls for b in batches)})


def top_up(spec: ir.Spec, plan, accepted: Mapping[str, int], requested: Mapping[str, int] | None = None,
           stats: AcceptanceStats | None = None, ceiling: int | None = None) -> tuple[PromptPlan, ...]:
    """The next round: for each stratum short of its quota, the missing rows plus spares for them, at row
    indices after every row already requested (so no id is reused). Strata that are full get no calls.

    Bounded: spares are sized with an acceptance rate of at least RATE_FLOOR, a stratum asks at most
    TOPUP_FACTOR rows per missing row, and spares only fill the free room of the calls the missing rows need. With `ceiling` (calls the build may still make), the round never has
    more calls: every stratum's rows are capped at the largest level t that fits (small deficits first, so
    a tight ceiling still fills as many strata as it can); the round is empty when not one call fits."""
    stats = stats or AcceptanceStats()
    starts, missing, wanted = {}, [0] * len(plan.strata), [0] * len(plan.strata)
    for i, s in enumerate(plan.strata):
        m = s.rows - accepted.get(s.key, 0)
        if m > 0:
            starts[i] = (requested or {}).get(s.key, s.requested)
            rate = max(RATE_FLOOR, round(stats.rate_for(s.key), 6))
            missing[i], wanted[i] = m, min(spare_rows(m, rate), (TOPUP_FACTOR - 1) * m)

    ks = {pp.prompt: pp.rows_per_call for pp in plan.prompts}  # round 1's k
    # as in round 1, spares ride only in the free room of the calls the missing rows need (docs/BUILD.md
    # "The round engine"): a top-up never pays a call for spares alone
    first = spec.prompt(stage_order(spec)[0]) if spec.prompts else None
    fitted = fit_spares(spec, first, ks.get(first.name, 1), plan.strata, wanted, missing) if first else wanted
    counts = {i: missing[i] + fitted[i] for i in starts}

    def round_at(cap: int | None) -> tuple[PromptPlan, ...]:
        capped = {i: counts.get(i, 0) if cap is None else min(cap, counts.get(i, 0)) for i in range(len(plan.strata))}
        return tuple(plan_round(spec, plan.profile, plan.strata, starts, capped, ks)[0])

    out = round_at(None)
    if ceiling is None or sum(pp.calls for pp in out) <= ceiling:
        return out
    lo, hi = 0, max(counts.values(), default=0)  # calls grow with the cap: the largest cap that fits
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if sum(pp.calls for pp in round_at(mid)) <= max(0, ceiling):
            lo = mid
        else:
            hi = mid - 1
    return round_at(lo)
