"""Controlled rounding: whole rows that add up to N and keep every marginal within one row of its target.

Guarantees (cells are the allowed cells of one component; `t` is N times a target share):
- one dimension: largest remainder; every count is floor(t) or ceil(t), and exactly t when t is whole;
- two dimensions: a bounded flow (rows -> columns through cells with capacity one over their floors) gives
  every margin floor(t)/ceil(t), exact when t is whole, and every cell floor/ceil of its fitted value, which
  keeps conditional and joint targets within a row too. Such a rounding always exists, because the fitted
  table is itself a fractional solution of the flow.
- three or more dimensions: no rounding with all margins within one need exist once cells are forbidden
  (three binary fields allowing only even-parity cells, N = 2). The first dimension is solved against the
  combinations of the others by the flow, then single-dimension moves repair the other margins; when a
  margin still misses, `round_table` says so and the plan carries a warning.
"""

from __future__ import annotations

import math
import random
from collections import deque
from itertools import islice, product

_WHOLE = 1e-6  # N * share this close to an integer is that integer
_POSITIVE = 1e-12


def bounds(t: float) -> tuple[int, int]:
    """The integers a count with real target t may take."""
    r = round(t)
    if abs(t - r) <= _WHOLE:
        return r, r
    return math.floor(t), math.ceil(t)


def largest_remainder(reals: list[float], total: int) -> list[int]:
    """Integers summing to `total`, each floor or ceil of its real (whole reals stay whole); ties go to the
    earlier value, so the result is deterministic."""
    out = [math.floor(x + _WHOLE) for x in reals]
    left = total - sum(out)
    order = sorted(range(len(reals)), key=lambda i: (-(reals[i] - out[i]), i))
    if left < 0:  # only float noise can overshoot: take back from the smallest remainders
        order = [i for i in reversed(order) if out[i] > 0]
    for i in order[:abs(left)]:
        out[i] += 1 if left > 0 else -1
    return out


# ---- max flow (Dinic) -------------------------------------------------------------------------------


class _Flow:
    def __init__(self, n: int):
        self.adj: list[list[list[int]]] = [[] for _ in range(n)]  # edge: [to, capacity, index of reverse]

    def add(self, u: int, v: int, cap: int) -> list[int]:
        e = [v, cap, len(self.adj[v])]
        self.adj[u].append(e)
        self.adj[v].append([u, 0, len(self.adj[u]) - 1])
        return e

    def max_flow(self, s: int, t: int) -> int:
        total = 0
        while True:
            level = [-1] * len(self.adj)
            level[s] = 0
            queue = deque([s])
            while queue:
                u = queue.popleft()
                for v, cap, _ in self.adj[u]:
                    if cap > 0 and level[v] < 0:
                        level[v] = level[u] + 1
                        queue.append(v)
            if level[t] < 0:
                return total
            it = [0] * len(self.adj)

            def push(u: int, f: int) -> int:
                if u == t:
                    return f
                while it[u] < len(self.adj[u]):
                    e = self.adj[u][it[u]]
                    v, cap, rev = e
                    if cap > 0 and level[v] == level[u] + 1:
                        got = push(v, min(f, cap))
                        if got:
                            e[1] -= got
                            self.adj[v][rev][1] += got
                            return got
                    it[u] += 1
                return 0

            while True:
                f = push(s, 1 << 60)
                if not f:
                    break
                total += f


def _pick_2d(rows: list[int], cols: list[int], resid: list[float], row_bounds: list[tuple[int, int]],
             col_bounds: list[tuple[int, int]], need: int) -> list[int] | None:
    """Choose cells to raise by one: `need` in all, row and column totals within bounds. None if impossible."""
    if any(hi < lo for lo, hi in row_bounds + col_bounds):
        return None
    cand = [i for i, r in enumerate(resid) if r > _POSITIVE]
    # Greedy by largest remainder solves most tables outright; the flow settles the rest.
    up, rc, cc = [], [0] * len(row_bounds), [0] * len(col_bounds)
    for i in sorted(cand, key=lambda i: (-resid[i], i)):
        if len(up) < need and rc[rows[i]] < row_bounds[rows[i]][1] and cc[cols[i]] < col_bounds[cols[i]][1]:
            up.append(i)
            rc[rows[i]] += 1
            cc[cols[i]] += 1
    if len(up) == need and all(c >= lo for c, (lo, _) in zip(rc, row_bounds)) \
            and all(c >= lo for c, (lo, _) in zip(cc, col_bounds)):
        return up
    nr, nc = len(row_bounds), len(col_bounds)
    s, t, s2, t2 = nr + nc, nr + nc + 1, nr + nc + 2, nr + nc + 3
    flow = _Flow(nr + nc + 4)
    excess = [0] * (nr + nc + 4)

    def bounded(u: int, v: int, lo: int, hi: int) -> None:
        flow.add(u, v, hi - lo)
        excess[v] += lo
        excess[u] -= lo

    for a, (lo, hi) in enumerate(row_bounds):
        bounded(s, a, lo, hi)
    for b, (lo, hi) in enumerate(col_bounds):
        bounded(nr + b, t, lo, hi)
    bounded(t, s, need, need)
    edges = [(i, flow.add(rows[i], nr + cols[i], 1)) for i in cand]
    wanted = 0
    for v, x in enumerate(excess):
        if x > 0:
            flow.add(s2, v, x)
            wanted += x
        elif x < 0:
            flow.add(v, t2, -x)
    if flow.max_flow(s2, t2) != wanted:
        return None
    return [i for i, e in edges if e[1] == 0]


# ---- one component ----------------------------------------------------------------------------------


def round_table(cells: list[tuple[int, ...]], reals: list[float], total: int,
                targets: list[list[float]]) -> tuple[list[int], list[str]]:
    """Whole counts for `cells` (value indices per dimension) summing to `total`.

    reals: the fitted table times N; targets[j][v]: N times the target share of value v of dimension j.
    Returns the counts and the margins it could not bring within one row (as `dim:value` strings).
    """
    if not cells:
        return [], []
    dims = len(cells[0])
    if dims == 0:
        return [total], []
    floors = [math.floor(x + _WHOLE) for x in reals]
    resid = [max(0.0, x - f) for x, f in zip(reals, floors)]
    need = total - sum(floors)
    margin_bounds = [[bounds(t) for t in tj] for tj in targets]

    def shifted(pos: list[int], bnds: list[tuple[int, int]]) -> list[tuple[int, int]]:
        got = [0] * len(bnds)
        for p, f in zip(pos, floors):
            got[p] += f
        return [(max(lo - g, 0), hi - g) for (lo, hi), g in zip(bnds, got)]

    rows = [c[0] for c in cells]
    if dims == 1:
        counts = [0] * len(cells)
        want = largest_remainder(targets[0], total)
        for i, c in enumerate(cells):
            counts[i] = want[c[0]]
        return counts, misses(cells, counts, margin_bounds)
    if dims == 2:
        cols = [c[1] for c in cells]
        col_bounds = margin_bounds[1]
    else:
        combos: dict[tuple, int] = {}
        cols = [combos.setdefault(c[1:], len(combos)) for c in cells]
        col_real = [0.0] * len(combos)
        for c, x in zip(cols, reals):
            col_real[c] += x
        col_bounds = [bounds(x) for x in col_real]
    up = _pick_2d(rows, cols, resid, shifted(rows, margin_bounds[0]), shifted(cols, col_bounds), need)
    if up is None:  # targets and fitted table disagree by float noise: fall back to the fitted margins
        fitted = [[0.0] * len(tj) for tj in targets]
        for c, x in zip(cells, reals):
            for j, v in enumerate(c):
                fitted[j][v] += x
        row_b = [bounds(x) for x in fitted[0]]
        if dims == 2:
            col_bounds = [bounds(x) for x in fitted[1]]
        up = _pick_2d(rows, cols, resid, shifted(rows, row_b), shifted(cols, col_bounds), need) or []
    counts = list(floors)
    for i in up:
        counts[i] += 1
    _fill(counts, total)
    if dims > 2:
        _repair(cells, counts, reals, margin_bounds)
    return counts, misses(cells, counts, margin_bounds)


def _fill(counts: list[int], total: int) -> None:
    """Last resort when no bounded rounding was found: fix the total on the largest cells."""
    left = total - sum(counts)
    order = sorted(range(len(counts)), key=lambda i: (-counts[i], i))
    k = 0
    while left and order:
        i = order[k % len(order)]
        if left > 0:
            counts[i] += 1
            left -= 1
        elif counts[i] > 0:
            counts[i] -= 1
            left += 1
        k += 1


def _margins(cells, counts, j: int, size: int) -> list[int]:
    out = [0] * size
    for c, n in zip(cells, counts):
        out[c[j]] += n
    return out


def _repair(cells, counts, reals, margin_bounds) -> None:
    """Move rows between values of one dimension (other coordinates fixed) until its margins are in bounds."""
    where = {c: i for i, c in enumerate(cells)}
    for j, bnds in enumerate(margin_bounds):
        by_value: list[list[int]] = [[] for _ in bnds]
        for i, c in enumerate(cells):
            by_value[c[j]].append(i)
        m = _margins(cells, counts, j, len(bnds))
        for _ in range(sum(abs(x) for x in m) + 1):  # each move fixes a unit of excess or shortfall
            over = [v for v, (lo, hi) in enumerate(bnds) if m[v] > hi]
            under = [v for v, (lo, hi) in enumerate(bnds) if m[v] < lo]
            if not over and not under:
                break
            src = over or [v for v, (lo, _) in enumerate(bnds) if m[v] > lo]
            dst = under or [v for v, (_, hi) in enumerate(bnds) if m[v] < hi]
            best, best_score = None, None
            for i in (i for v in src for i in by_value[v] if counts[i] > 0):
                c = cells[i]
                for v in dst:
                    k = where.get(c[:j] + (v,) + c[j + 1:])
                    if k is None:
                        continue
                    # Prefer taking from the most over-filled cell and giving to the most under-filled one.
                    score = (counts[i] - reals[i]) - (counts[k] + 1 - reals[k])
                    if best_score is None or score > best_score:
                        best, best_score = (i, k), score
            if best is None:
                break
            counts[best[0]] -= 1
            counts[best[1]] += 1
            m[cells[best[0]][j]] -= 1
            m[cells[best[1]][j]] += 1


def misses(cells, counts, margin_bounds) -> list[str]:
    out = []
    for j, bnds in enumerate(margin_bounds):
        m = _margins(cells, counts, j, len(bnds))
        out += [f"{j}:{v}" for v, (lo, hi) in enumerate(bnds) if not lo <= m[v] <= hi]
    return out


# ---- targets over several dimensions -----------------------------------------------------------------

Group = tuple[tuple[int, ...], dict[tuple[int, ...], tuple[int, int]]]  # dims, value indices -> (lo, hi)
MAX_GROUP_WORK = 4_000_000  # cells x groups: beyond it a miss is reported, not repaired
MAX_PAIR_STARTS = 500  # first moves tried when no single move helps


def group_sums(cells, counts, dims: tuple[int, ...]) -> dict[tuple[int, ...], int]:
    out: dict[tuple[int, ...], int] = {}
    for c, n in zip(cells, counts):
        key = tuple(c[d] for d in dims)
        out[key] = out.get(key, 0) + n
    return out


def repair_groups(cells, counts: list[int], groups: list[Group]) -> list[int]:
    """Bring the sums of `counts` over each group's dimensions (a joint table's cells, a conditional's pairs,
    a single margin) within their bounds: move one row at a time along one dimension, the other coordinates
    fixed, while that lowers the total distance outside the bounds (so no move breaks more than it mends).
    Deterministic. Returns the indices of the groups still out of bounds."""
    if not cells or len(cells) * len(groups) > MAX_GROUP_WORK:
        return [g for g, (dims, bnds) in enumerate(groups) if group_off(cells, counts, dims, bnds)]
    sizes = [max(c[j] for c in cells) + 1 for j in range(len(cells[0]))]
    where = {c: i for i, c in enumerate(cells)}
    keys = [[tuple(c[d] for d in dims) for c in cells] for dims, _ in groups]
    sums = [group_sums(cells, counts, dims) for dims, _ in groups]
    members: list[dict[tuple, list[int]]] = []
    for g in range(len(groups)):
        by: dict[tuple, list[int]] = {}
        for i, k in enumerate(keys[g]):
            by.setdefault(k, []).append(i)
        members.append(by)

    def off(g: int, key, m: int) -> int:
        lo, hi = groups[g][1].get(key, (0, 0))
        return max(0, lo - m, m - hi)

    def delta(i: int, k: int) -> int:
        d = 0
        for g in range(len(groups)):
            a, b = keys[g][i], keys[g][k]
            if a != b:
                ma, mb = sums[g].get(a, 0), sums[g].get(b, 0)
                d += off(g, a, ma - 1) - off(g, a, ma) + off(g, b, mb + 1) - off(g, b, mb)
        return d

    def moves(g: int, key, over: bool):
        for x in members[g][key]:
            c = cells[x]
            for j in groups[g][0]:
                for v in range(sizes[j]):
                    if v == c[j]:
                        continue
                    y = where.get(c[:j] + (v,) + c[j + 1:])
                    if y is None:
                        continue
                    i, k = (x, y) if over else (y, x)
                    if counts[i] > 0:
                        yield i, k

    def move(i: int, k: int, n: int = 1) -> None:
        counts[i] -= n
        counts[k] += n
        for g in range(len(groups)):
            sums[g][keys[g][i]] -= n
            sums[g][keys[g][k]] = sums[g].get(keys[g][k], 0) + n

    def candidates():
        for g, (dims, bnds) in enumerate(groups):
            for key, (lo, hi) in bnds.items():
                m = sums[g].get(key, 0)
                if not lo <= m <= hi:
                    yield from moves(g, key, m > hi)

    def best_move(limit: int):
        best, best_delta = None, limit
        for i, k in candidates():
            d = delta(i, k)
            if d < best_delta:
                best, best_delta = (i, k), d
        return best, best_delta

    for _ in range(sum(counts) + len(cells)):  # each step lowers the distance by at least one row
        (first, d1) = best_move(0)
        if first is not None:
            move(*first)
            continue
        # No single move helps: try a move that costs nothing followed by one that then helps (a row moved
        # along a dimension, and another moved back along it elsewhere, keeps that dimension's margins).
        pair = None
        for i, k in list(islice(candidates(), MAX_PAIR_STARTS)):
            d1 = delta(i, k)
            if d1 > 0:
                continue
            move(i, k)
            second, d2 = best_move(-d1)
            move(k, i)
            if second is not None:
                pair = (i, k), second
                break
        if pair is None:
            break
        move(*pair[0])
        move(*pair[1])
    return [g for g, (dims, bnds) in enumerate(groups) if group_off(cells, counts, dims, bnds)]


def group_off(cells, counts, dims, bnds) -> bool:
    sums = group_sums(cells, counts, dims)
    return any(not lo <= sums.get(key, 0) <= hi for key, (lo, hi) in bnds.items())


# ---- independent components -------------------------------------------------------------------------

MAX_PAIRED_CELLS = 2_000_000


def combine(parts: list[list[int]], total: int, seed: int) -> dict[tuple[int, ...], int]:
    """Whole counts over the product of independent components whose own counts (`parts[i][cell]`) are fixed.

    Aims at the independent table N * prod(count_i / N): floors first, then the remainders, one row per
    combination per pass while every component cell still lacks rows, taking combinations in *order sampling*
    order: combination k comes at u_k / f_k, where f_k is its fractional part and u_k a permanent random
    number (seeded, drawn per combination of cells, whatever N is). That is the survey statisticians' way to
    coordinate samples across occasions: when N changes, f_k = N * share_k moves in proportion for the many
    combinations below one row, so the order barely moves and a stratum that had a row mostly keeps it (a
    largest-remainder order with random ties redrew about a fifth of the reviews example's 200 strata for one
    row more). Each component's counts are kept exactly. Above MAX_PAIRED_CELLS combinations the floors are
    skipped and all rows are paired in seeded random order.
    """
    live = [[c for c, n in enumerate(p) if n > 0] for p in parts]
    if len(parts) == 1:
        return {(c,): parts[0][c] for c in live[0]}
    rng = random.Random(f"combine:{seed}")
    size = math.prod(len(x) for x in live)
    full = [len(p) for p in parts]
    out: dict[tuple[int, ...], int] = {}
    deficit = [list(p) for p in parts]
    if size <= MAX_PAIRED_CELLS and math.prod(full) <= MAX_PAIRED_CELLS and total > 0:
        combos = list(product(*live))
        reals = [float(total)] * len(combos)
        for i, p in enumerate(parts):
            col = [p[c] / total for c in live[i]]
            # product() varies the last component fastest: repeat each weight over the combos after it.
            inner = math.prod(len(x) for x in live[i + 1:])
            outer = len(combos) // (inner * len(col))
            scale = [w for w in col for _ in range(inner)] * outer
            reals = [r * s for r, s in zip(reals, scale)]
        floors = [math.floor(r + _WHOLE) for r in reals]
        for combo, f in zip(combos, floors):
            if f:
                out[combo] = f
                for i, c in enumerate(combo):
                    deficit[i][c] -= f
        prn = random.Random(f"prn:{seed}")
        u = [prn.random() for _ in range(math.prod(full))]
        radix = [math.prod(full[i + 1:]) for i in range(len(full))]
        keys = []
        for combo, r, f in zip(combos, reals, floors):
            frac = r - f
            keys.append(u[sum(c * w for c, w in zip(combo, radix))] / frac if frac > _POSITIVE else math.inf)
        order = sorted(range(len(combos)), key=keys.__getitem__)
        left = sum(deficit[0])
        while left > 0:
            took = 0
            for k in order:
                combo = combos[k]
                if all(deficit[i][c] > 0 for i, c in enumerate(combo)):
                    out[combo] = out.get(combo, 0) + 1
                    for i, c in enumerate(combo):
                        deficit[i][c] -= 1
                    took += 1
                    left -= 1
                    if not left:
                        break
            if not took:
                break
    queues = []
    for d in deficit:
        q = [c for c, n in enumerate(d) for _ in range(n)]
        rng.shuffle(q)
        queues.append(q)
    for combo in zip(*queues):
        out[combo] = out.get(combo, 0) + 1
    return out
