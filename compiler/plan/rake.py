"""Iterative proportional fitting over a sparse table (the allowed cells of one component).

Targets act on groups of cells: a GroupFit scales each group to its share of the total (marginals and joint
tables); a SliceFit scales sub-groups to their share of their slice (conditionals: P(field | on) within each
value of `on`). Cells that rules forbid are simply absent, so they keep zero mass.
"""

from __future__ import annotations

from dataclasses import dataclass

TOLERANCE = 1e-6  # max |fitted - target| share a plan accepts
_TIGHT = 1e-12  # stop early once this close
_WORK = 10_000_000  # cell updates a fit may spend before giving up


@dataclass
class GroupFit:
    subject: str
    group: list[int]  # per cell: its group
    target: list[float]  # per group: its share of the total


@dataclass
class SliceFit:
    subject: str
    slice_of_sub: list[int]  # per sub-group: its slice
    sub: list[int]  # per cell: its sub-group
    prob: list[float | None]  # per sub-group: its share of its slice (None: free)


Fit = GroupFit | SliceFit


@dataclass
class RakeResult:
    weights: list[float]
    residual: float  # the largest miss of any target by the final weights
    misses: dict[str, float]  # subject -> its largest miss as the last sweep came to it (blame for conflicts)
    sweeps: int
    mean: list[float]  # the average table over the last sweep's steps: a compromise that respects every zero

    @property
    def converged(self) -> bool:
        return self.residual <= TOLERANCE


def _sums(group: list[int], weights: list[float], n: int) -> list[float]:
    out = [0.0] * n
    for g, w in zip(group, weights):
        out[g] += w
    return out


def _step(fit: Fit, w: list[float]) -> tuple[list[float], float]:
    """One proportional adjustment; returns the new weights and how far off the target was before it."""
    if isinstance(fit, GroupFit):
        sums = _sums(fit.group, w, len(fit.target))
        miss = max(abs(s - t) for s, t in zip(sums, fit.target))
        factor = [t / s if s > 0 else 0.0 for s, t in zip(sums, fit.target)]
        return [x * factor[g] for x, g in zip(w, fit.group)], miss
    sub_sums = _sums(fit.sub, w, len(fit.prob))
    slices = _sums(fit.slice_of_sub, sub_sums, max(fit.slice_of_sub, default=-1) + 1)
    miss, factor = 0.0, [1.0] * len(fit.prob)
    for k, (s, p) in enumerate(zip(sub_sums, fit.prob)):
        if p is None:
            continue
        want = p * slices[fit.slice_of_sub[k]]
        miss = max(miss, abs(s - want))
        factor[k] = want / s if s > 0 else 0.0
    return [x * factor[g] for x, g in zip(w, fit.sub)], miss


def rake(weights: list[float], fits: list[Fit], max_sweeps: int | None = None) -> RakeResult:
    """Fit `weights` (summing to 1) to every target in turn until the largest miss is below tolerance."""
    w = list(weights)
    if not fits or not w:
        return RakeResult(w, 0.0, {}, 0, w)
    if max_sweeps is None:
        max_sweeps = max(200, min(20_000, _WORK // (len(w) * len(fits))))
    sweeps, checkpoint, before = 0, 64, float("inf")
    while sweeps < max_sweeps:
        sweeps += 1
        worst = 0.0
        for fit in fits:
            w, miss = _step(fit, w)
            worst = max(worst, miss)
        if worst <= _TIGHT:
            break
        if sweeps == checkpoint:  # conflicting targets make raking cycle: stop once the miss stops shrinking
            if worst > 0.9 * before:
                break
            checkpoint, before = 2 * checkpoint, worst
    # One more sweep to judge the result: each target's miss as its turn comes (which targets conflict), and
    # the mean of the tables it passes through (a compromise for "nearest achievable" when they do).
    final = max(_step(fit, w)[1] for fit in fits)
    misses: dict[str, float] = {}
    mean = [0.0] * len(w)
    v = w
    for fit in fits:
        v, miss = _step(fit, v)
        misses[fit.subject] = max(misses.get(fit.subject, 0.0), miss)
        mean = [m + x for m, x in zip(mean, v)]
    total = sum(mean) or 1.0
    return RakeResult(w, final, misses, sweeps, [m / total for m in mean])
