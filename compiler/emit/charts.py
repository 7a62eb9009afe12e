"""The charts of report.html and eval.html: matplotlib figures rendered to inline SVG text.

matplotlib's object API only (Figure + the SVG canvas): no pyplot, so no global backend or state is touched in
the user's process (a notebook keeps its own). The same figures give the same bytes: no metadata (no date),
a fixed hash salt for the SVG ids, and text kept as <text> (no embedded glyph paths, so the page stays small).
"""

from __future__ import annotations

import io
from typing import Optional, Sequence

import matplotlib
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure

_STYLE = {"svg.hashsalt": "synthc", "svg.fonttype": "none", "font.size": 9, "axes.spines.top": False,
          "axes.spines.right": False}
BLUE, ORANGE, GREY = "#4c78a8", "#f58518", "#9d9d9d"
_NO_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}  # no RDF block, no date
WIDTH = 6.4  # inches; a bar is 0.28 inch high
_LABEL = 28  # characters of a category label


def _svg(fig: Figure) -> str:
    FigureCanvasSVG(fig)
    buf = io.StringIO()
    with matplotlib.rc_context(_STYLE):
        fig.savefig(buf, format="svg", metadata=_NO_METADATA, bbox_inches="tight")
    text = buf.getvalue()
    return text[text.index("<svg"):]  # inline: no XML declaration or doctype


def _short(label) -> str:
    text = str(label)
    return text if len(text) <= _LABEL else text[: _LABEL - 1] + "…"


def bars(title: str, labels: Sequence, series: dict[str, Sequence[Optional[float]]], *,
         spread: Optional[dict[str, Sequence[tuple[float, float]]]] = None, xlabel: str = "share",
         xmax: Optional[float] = None) -> str:
    """Horizontal grouped bars, one group per label, one bar per series (in order; None draws no bar);
    `spread`: per series, (low, high) whiskers around each bar (e.g. min and max over repetitions)."""
    with matplotlib.rc_context(_STYLE):
        n, k = len(labels), max(1, len(series))
        fig = Figure(figsize=(WIDTH, 0.6 + 0.28 * n * k))
        ax = fig.add_subplot()
        height = 0.8 / k
        for i, (name, values) in enumerate(series.items()):
            ys = [g - (k - 1 - 2 * i) * height / 2 for g in range(n)]  # the first series on top (y runs down)
            xs = [0.0 if v is None else float(v) for v in values]
            err = None
            if spread and name in spread:
                err = [[max(0.0, x - lo) for x, (lo, _) in zip(xs, spread[name])],
                       [max(0.0, hi - x) for x, (_, hi) in zip(xs, spread[name])]]
            ax.barh(ys, xs, height=height * 0.9, label=name, color=[BLUE, ORANGE, GREY][i % 3], xerr=err,
                    ecolor="#333333", capsize=2)
        ax.set_yticks(range(n), [_short(v) for v in labels])
        ax.invert_yaxis()
        ax.set_xlabel(xlabel)
        if xmax is not None:
            ax.set_xlim(0, xmax)
        ax.set_title(title, loc="left")
        if len(series) > 1:
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
        return _svg(fig)


def histogram(title: str, edges: Sequence[float], counts: Sequence[int], *, xlabel: str,
              marker: Optional[float] = None, marker_label: str = "") -> str:
    """Counts per bin (`edges` has one more item than `counts`); `marker`: a vertical line (a threshold)."""
    with matplotlib.rc_context(_STYLE):
        fig = Figure(figsize=(WIDTH, 2.4))
        ax = fig.add_subplot()
        widths = [hi - lo for lo, hi in zip(edges, edges[1:])]
        ax.bar(list(edges[:-1]), list(counts), width=widths, align="edge", color=BLUE, edgecolor="white")
        if marker is not None:
            ax.axvline(marker, color=ORANGE, linestyle="--", label=marker_label or None)
            if marker_label:
                ax.legend(loc="upper right", frameon=False)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("rows")
        ax.set_title(title, loc="left")
        return _svg(fig)
