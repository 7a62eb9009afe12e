"""Per-row values of numeric fields: stratified quantiles of the (truncated) target distribution.

Row i of a stratum takes the quantile at u_i = frac(vdc(i) + shift), where vdc is the base-2 van der Corput
radical inverse and `shift` a seeded Cranley-Patterson rotation per (field, stratum). The first n points of that
sequence are spread evenly over [0, 1) for every n, so a stratum's values track the target however many rows
it gets, and row i's value depends only on i: changing N keeps the values of every surviving row.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import math
from statistics import NormalDist

from .. import ir

_STD = NormalDist()
_EPS = 1e-12
_POISSON_CUT = 45.0  # e^-45 of the peak: below a float's resolution of the cdf
_POISSON_MAX_TABLE = 200_000  # per side; lambda <= limits.MAX_POISSON_LAMBDA needs about 10,000


def vdc(i: int) -> float:
    """The base-2 radical inverse of i: 0, 1/2, 1/4, 3/4, 1/8, ..."""
    out, denom = 0.0, 1.0
    while i:
        denom *= 2.0
        out += (i & 1) / denom
        i >>= 1
    return out


def shift(seed: int, field: str, stratum_key: str) -> float:
    """A seeded offset in [0, 1) for one field within one stratum."""
    h = hashlib.sha256(f"{seed}\x1f{field}\x1f{stratum_key}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2.0**64


def unit_points(seed: int, field: str, stratum_key: str, start: int, count: int) -> list[float]:
    s = shift(seed, field, stratum_key)
    return [(vdc(i) + s) % 1.0 for i in range(start, start + count)]


def _as_number(x, kind: str) -> float | int | None:
    """A bound on the number line; whole numbers stay exact Python ints (floats cannot hold 2**63 - 1)."""
    if x is None:
        return None
    if kind == "date":
        return dt.date.fromisoformat(str(x)).toordinal()
    return x if isinstance(x, int) and kind == "int" else float(x)


def _sig(x: float) -> float:
    """Six significant digits: readable, and immune to last-bit libm differences between machines."""
    return float(f"{x:.6g}")


class NumericDist:
    """The target of one numeric field: uniform, normal, lognormal or poisson, truncated to the type's range.

    Values are on a number line: ints and dates (as day ordinals) are discrete, floats continuous. An int field
    with a continuous distribution takes the nearest integer (the mass of [k-0.5, k+0.5)).
    """

    def __init__(self, ftype: ir.Type, dist: ir.Dist):
        self.type_kind = ftype.kind
        # Dates only support uniform: their params would have to be dates, which Dist.params cannot hold.
        self.kind = "uniform" if ftype.kind == "date" else dist.kind
        dist = dist if self.kind == dist.kind else ir.Dist(kind="uniform")
        p = dist.params
        self.discrete = ftype.kind in ("int", "date") or dist.kind == "poisson"
        lo = _as_number(p.get("low", ftype.low), ftype.kind) if dist.kind == "uniform" else _as_number(ftype.low, ftype.kind)
        hi = _as_number(p.get("high", ftype.high), ftype.kind) if dist.kind == "uniform" else _as_number(ftype.high, ftype.kind)
        if dist.kind == "poisson" or (dist.kind == "lognormal" and self.discrete):
            lo = max(lo if lo is not None else 0.0, 0.0)
        self.low = lo if lo is not None else -math.inf
        self.high = hi if hi is not None else math.inf
        if dist.kind == "uniform" and not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise ValueError("a uniform distribution needs a bounded range")
        if self.discrete:
            self.low = math.ceil(self.low) if math.isfinite(self.low) else self.low
            self.high = math.floor(self.high) if math.isfinite(self.high) else self.high
        self._table: list[float] | None = None
        if dist.kind == "poisson":
            self._poisson_table(float(p.get("lambda", p.get("lam", 1.0))))
        elif dist.kind == "normal":
            self._base = NormalDist(p.get("mean", 0.0), max(p.get("sd", 1.0), 1e-12))
        elif dist.kind == "lognormal":
            self._base = NormalDist(p.get("mu", 0.0), max(p.get("sigma", 1.0), 1e-12))
        # The truncation window in base-CDF terms.
        if self._table is None:
            a, b = (self.low - 0.5, self.high + 0.5) if self.discrete else (self.low, self.high)
            self._ga, self._gb = self._g(a), self._g(b)
            if self._gb - self._ga < 1e-300:
                raise ValueError("the distribution puts no mass on the field's range")

    # ---- the untruncated continuous base -------------------------------------------------------------
    def _g(self, x: float) -> float:
        if self.kind == "uniform":
            a, b = (self.low - 0.5, self.high + 0.5) if self.discrete else (self.low, self.high)
            return min(1.0, max(0.0, (x - a) / (b - a))) if b > a else float(x >= a)
        if math.isinf(x):
            return 0.0 if x < 0 else 1.0
        if self.kind == "normal":
            return self._base.cdf(x)
        return self._base.cdf(math.log(x)) if x > 0 else 0.0  # lognormal

    def _g_inv(self, q: float) -> float:
        q = min(1.0 - _EPS, max(_EPS, q))
        if self.kind == "uniform":
            a, b = (self.low - 0.5, self.high + 0.5) if self.discrete else (self.low, self.high)
            return a + q * (b - a)
        if self.kind == "normal":
            return self._base.inv_cdf(q)
        return math.exp(self._base.inv_cdf(q))

    def _poisson_table(self, lam: float) -> None:
        """The truncated pmf as a cdf table over the values that carry mass: from the truncated mode outwards
        while the pmf is within e^-_POISSON_CUT of its peak (about 19 * sqrt(lambda) values, however wide the
        range). Successive values come from the ratio pmf(k+1)/pmf(k) = lambda/(k+1), which stays exact where
        k * log(lambda) - lgamma(k+1) would lose every digit to cancellation."""
        lam = max(lam, 1e-9)
        log_lam = math.log(lam)
        if self.high < 0:
            raise ValueError("a poisson count is never negative: no mass in the range")
        self.low = max(self.low, 0)
        lo = int(self.low)
        hi = int(self.high) if math.isfinite(self.high) else None
        mode = max(lo, math.floor(lam))
        if hi is not None:
            mode = min(mode, hi)
        below, k, rel = [], mode, 0.0
        while k > lo and len(below) < _POISSON_MAX_TABLE:
            rel -= log_lam - math.log(k)  # log pmf(k-1) - log pmf(mode)
            if rel < -_POISSON_CUT:
                break
            k -= 1
            below.append(rel)
        above, k, rel = [], mode, 0.0
        while (hi is None or k < hi) and len(above) < _POISSON_MAX_TABLE:
            rel += log_lam - math.log(k + 1)
            if rel < -_POISSON_CUT:
                break
            k += 1
            above.append(rel)
        pmf = [math.exp(r) for r in reversed(below)] + [1.0] + [math.exp(r) for r in above]
        total = sum(pmf)
        acc, cdf = 0.0, []
        for m in pmf:
            acc += m / total
            cdf.append(acc)
        cdf[-1] = 1.0
        self.low = mode - len(below)
        self.high = mode + len(above)
        self._table = cdf

    # ---- the truncated target ------------------------------------------------------------------------
    def cdf(self, x: float) -> float:
        """P(X <= x) under the truncated target."""
        if x < self.low:
            return 0.0
        if x >= self.high:
            return 1.0
        if self._table is not None:
            return self._table[int(math.floor(x)) - int(self.low)]
        if self.discrete:
            x = math.floor(x) + 0.5
        return (self._g(x) - self._ga) / (self._gb - self._ga)

    def quantile(self, p: float) -> float:
        """The smallest value v with cdf(v) > p (for p in [0, 1)); continuous fields invert the cdf."""
        p = min(max(p, 0.0), 1.0 - _EPS)
        if self._table is not None:
            return self.low + min(bisect.bisect_right(self._table, p), len(self._table) - 1)
        y = self._g_inv(self._ga + p * (self._gb - self._ga))
        if not self.discrete:
            return min(self.high, max(self.low, y))
        return self._smallest_above(p, min(self.high, max(self.low, math.floor(y + 0.5))))

    def _smallest_above(self, p: float, guess: int) -> int:
        """The smallest whole k in [low, high] with cdf(k) > p, searched from `guess` by doubling steps and
        then bisection: O(log range) cdf evaluations, also where floats are too coarse to tell k from k+1
        (the guess can then be far off, and stepping by one would take forever)."""
        lo, hi = self.low, self.high  # invariant: the answer is in [lo, hi]
        step = 1
        if self.cdf(guess) > p:
            hi = guess
            while hi - step >= lo and self.cdf(hi - step) > p:
                hi -= step
                step *= 2
            lo = max(lo, hi - step + 1)
        else:
            lo = guess + 1
            while lo + step <= hi and self.cdf(lo + step - 1) <= p:
                lo += step
                step *= 2
            hi = min(hi, lo + step - 1)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.cdf(mid) > p:
                hi = mid
            else:
                lo = mid + 1
        return lo

    def mass(self, low: float, high: float) -> float:
        """P(low < X <= high)."""
        return max(0.0, self.cdf(high) - self.cdf(low))

    def value(self, x: float):
        """A number on the line as a data value: int, six-digit float or ISO date."""
        if self.type_kind == "date":
            return dt.date.fromordinal(int(x)).isoformat()
        if self.discrete or self.type_kind == "int":
            return int(x)
        v = _sig(x)
        return min(self.high, max(self.low, v))


def numeric_dist(field: ir.Field, on_value=None) -> NumericDist | None:
    """The target of a sampled numeric field, for conditionals the case `on_value` picks (None if none)."""
    if field.dist is not None and field.dist.kind != "shares":
        return NumericDist(field.type, field.dist)
    if field.given is not None:
        for case in field.given.cases:
            if case.when == on_value and case.dist.kind != "shares":
                return NumericDist(field.type, case.dist)
    return None


def is_numeric_sampled(field: ir.Field) -> bool:
    """A sampled field that gets per-row quantiles rather than a stratum (int/float/date, non-shares dist)."""
    if field.role != "sampled" or field.categorical or field.type.kind not in ("int", "float", "date"):
        return False
    if field.dist is not None:
        return field.dist.kind != "shares"
    return field.given is not None and all(c.dist.kind != "shares" for c in field.given.cases)
