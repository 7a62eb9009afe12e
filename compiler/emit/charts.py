"""The charts of report.html and eval.html: inline SVG written directly (rectangles, lines and <text>).

Two shapes only, horizontal grouped bars and a histogram, so they are drawn here rather than by a plotting
library: matplotlib's layout of every tick label took 80 ms a chart and 11 s for a judge's chart of 994 strata
(bench/RESULTS.md "Scale"), more than all of a 1,000-row build's checks. The same figures give the same bytes (no
ids, no date); text stays <text>, so the page stays small and searchable.
"""

from __future__ import annotations

import math
from html import escape
from typing import Optional, Sequence

BLUE, ORANGE, GREY = "#4c78a8", "#f58518", "#9d9d9d"
COLORS = (BLUE, ORANGE, GREY)
WIDTH = 640  # px
FONT = 12  # px; a character is taken as 0.6 em wide to size the label column
BAR = 28  # px per group of bars
_LABEL = 28  # characters of a category label
_STYLE = "font-family:sans-serif;font-size:12px"


def _e(text) -> str:
    return escape(str(text), quote=True)


def _n(x: float) -> str:
    """A coordinate: at most 2 decimals, no trailing zeros."""
    return f"{x:.2f}".rstrip("0").rstrip(".")


def _short(label) -> str:
    text = str(label)
    return text if len(text) <= _LABEL else text[: _LABEL - 1] + "…"


def _tick(v: float) -> str:
    return f"{v:.3g}"


def ticks(top: float, n: int = 5) -> list[float]:
    """Round tick values from 0 to at least `top` (1, 2, 2.5 or 5 x 10^k apart)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    count = math.ceil(top / step - 1e-9)
    return [round(i * step, 10) for i in range(count + 1)]


def _svg(width: float, height: float, title: str, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{_n(width)}" height="{_n(height)}" '
            f'viewBox="0 0 {_n(width)} {_n(height)}" role="img" style="{_STYLE}"><title>{_e(title)}</title>'
            f'<text x="0" y="14" font-size="13">{_e(title)}</text>' + "".join(body) + "</svg>")


def _legend(x: float, y: float, names: Sequence[str], dashed: bool = False) -> list[str]:
    out = []
    for i, name in enumerate(names):
        yy = y + i * 16
        color = ORANGE if dashed else COLORS[i % 3]
        mark = (f'<line x1="{_n(x)}" y1="{_n(yy + 5)}" x2="{_n(x + 14)}" y2="{_n(yy + 5)}" stroke="{color}" '
                f'stroke-dasharray="4 2"/>' if dashed else
                f'<rect x="{_n(x)}" y="{_n(yy)}" width="10" height="10" fill="{color}"/>')
        out.append(mark + f'<text x="{_n(x + 18)}" y="{_n(yy + 9)}">{_e(name)}</text>')
    return out


def _x_axis(x0: float, x1: float, y: float, ticks_at: Sequence[tuple[float, float]], label: str,
            grid_to: float) -> list[str]:
    """An x axis from x0 to x1 at height y, with (x, value) ticks and grid lines up to `grid_to`."""
    out = [f'<line x1="{_n(x0)}" y1="{_n(y)}" x2="{_n(x1)}" y2="{_n(y)}" stroke="#333"/>']
    for x, v in ticks_at:
        out.append(f'<line x1="{_n(x)}" y1="{_n(grid_to)}" x2="{_n(x)}" y2="{_n(y + 4)}" stroke="#ddd"/>'
                   f'<text x="{_n(x)}" y="{_n(y + 16)}" text-anchor="middle">{_tick(v)}</text>')
    out.append(f'<text x="{_n((x0 + x1) / 2)}" y="{_n(y + 32)}" text-anchor="middle">{_e(label)}</text>')
    return out


def bars(title: str, labels: Sequence, series: dict[str, Sequence[Optional[float]]], *,
         spread: Optional[dict[str, Sequence[tuple[float, float]]]] = None, xlabel: str = "share",
         xmax: Optional[float] = None) -> str:
    """Horizontal grouped bars, one group per label, one bar per series (in order; None draws no bar);
    `spread`: per series, (low, high) whiskers around each bar (e.g. min and max over repetitions)."""
    names = list(series)
    n, k = len(labels), max(1, len(names))
    shown = [_short(v) for v in labels]
    left = 8 + 0.6 * FONT * max((len(s) for s in shown), default=1)
    legend = 0 if len(names) <= 1 else 16 + 0.6 * FONT * max(len(s) for s in names) + 18
    x0, x1, y0 = left, WIDTH - 12 - legend, 26
    y1 = y0 + BAR * n
    highs = [v for vals in series.values() for v in vals if v is not None]
    highs += [hi for sp in (spread or {}).values() for _, hi in sp]
    top = xmax if xmax is not None else max(highs, default=0.0)
    values = ticks(top)
    top = values[-1] if xmax is None else xmax
    values = [v for v in values if v <= top + 1e-12]
    body = _x_axis(x0, x1, y1, [(x0 + (x1 - x0) * v / top, v) for v in values], xlabel, y0)
    height = BAR * 0.8 / k
    for g, label in enumerate(shown):
        body.append(f'<text x="{_n(x0 - 6)}" y="{_n(y0 + BAR * g + BAR / 2 + 4)}" text-anchor="end">{_e(label)}</text>')
    for i, name in enumerate(names):
        for g, v in enumerate(series[name]):
            if v is None:
                continue
            y = y0 + BAR * g + BAR * 0.1 + i * height
            w = (x1 - x0) * max(0.0, min(float(v), top)) / top
            body.append(f'<rect x="{_n(x0)}" y="{_n(y)}" width="{_n(w)}" height="{_n(height * 0.9)}" '
                        f'fill="{COLORS[i % 3]}"><title>{_e(labels[g])}: {_tick(float(v))}</title></rect>')
            if spread and name in spread and g < len(spread[name]):
                lo, hi = spread[name][g]
                xa, xb = (x0 + (x1 - x0) * min(max(0.0, t), top) / top for t in (lo, hi))
                ym = y + height * 0.45
                body.append(f'<path d="M{_n(xa)} {_n(ym)}H{_n(xb)}M{_n(xa)} {_n(ym - 2)}V{_n(ym + 2)}'
                            f'M{_n(xb)} {_n(ym - 2)}V{_n(ym + 2)}" stroke="#333" fill="none"/>')
    if len(names) > 1:
        body += _legend(x1 + 16, y0, names)
    return _svg(WIDTH, y1 + 40, title, body)


def histogram(title: str, edges: Sequence[float], counts: Sequence[int], *, xlabel: str,
              marker: Optional[float] = None, marker_label: str = "") -> str:
    """Counts per bin (`edges` has one more item than `counts`); `marker`: a vertical line (a threshold)."""
    x0, x1, y0, y1 = 44, WIDTH - 12, 26, 170
    lo, hi = float(edges[0]), float(edges[-1])
    span = (hi - lo) or 1.0
    up = ticks(max(counts, default=0) or 1, 4)
    top = up[-1]
    at = lambda v: x0 + (x1 - x0) * (float(v) - lo) / span  # noqa: E731
    body = [f'<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y1}" stroke="#333"/>',
            f'<text x="12" y="{_n((y0 + y1) / 2)}" text-anchor="middle" '
            f'transform="rotate(-90 12 {_n((y0 + y1) / 2)})">rows</text>']
    for v in up:
        y = y1 - (y1 - y0) * v / top
        body.append(f'<line x1="{_n(x0 - 4)}" y1="{_n(y)}" x2="{x1}" y2="{_n(y)}" stroke="#eee"/>'
                    f'<text x="{_n(x0 - 6)}" y="{_n(y + 4)}" text-anchor="end">{_tick(v)}</text>')
    for a, b, c in zip(edges, edges[1:], counts):
        h = (y1 - y0) * c / top
        body.append(f'<rect x="{_n(at(a))}" y="{_n(y1 - h)}" width="{_n(max(0.0, at(b) - at(a) - 1))}" '
                    f'height="{_n(h)}" fill="{BLUE}"><title>{_tick(a)} to {_tick(b)}: {c}</title></rect>')
    step = max(1, math.ceil((len(edges) - 1) / 10))
    body += _x_axis(x0, x1, y1, [(at(e), float(e)) for e in edges[::step]], xlabel, y1)
    if marker is not None:
        x = at(marker)
        body.append(f'<line x1="{_n(x)}" y1="{y0}" x2="{_n(x)}" y2="{y1}" stroke="{ORANGE}" stroke-dasharray="4 2"/>')
        if marker_label:
            body += _legend(x1 - 0.6 * FONT * len(marker_label) - 24, y0, [marker_label], dashed=True)
    return _svg(WIDTH, y1 + 40, title, body)
