"""`synthc plan` at 80 columns (issue 22): the strata tables keep every value whole, one line per stratum where the
values fit, and list the largest strata (or those furthest from target) first."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from synthc.check import check_file
from synthc.plan import AcceptanceStats, build_plan
from synthc.render.plan import render

ROOT = Path(__file__).resolve().parents[2]


def _text(rel: str, width: int) -> str:
    spec = check_file(str(ROOT / "examples" / rel), rel).spec
    out = io.StringIO()
    render(build_plan(spec, AcceptanceStats()), Console(file=out, width=width, color_system=None, highlight=False))
    return out.getvalue()


def _strata_lines(text: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("Strata ("))
    out = []
    for ln in lines[start + 2:]:
        if not ln.strip() or not ln.strip()[0].isdigit():
            break
        out.append(ln)
    return out


@pytest.mark.parametrize("rel", ["product_reviews/reviews.sds", "support_tickets/tickets.sds"])
def test_at_80_columns_each_stratum_is_one_line_with_every_value_whole(rel):
    text = _text(rel, 80)
    lines = _strata_lines(text)
    assert len(lines) == 20 and all(len(ln) <= 80 for ln in lines)
    assert "…" not in "\n".join(lines)
    counts = [int(ln.split()[0].replace(",", "")) for ln in lines]
    assert counts == sorted(counts, reverse=True)  # "the 20 largest" are listed largest first
    assert "largest first" in text


def test_a_wide_terminal_keeps_a_column_per_field():
    text = _text("support_tickets/tickets.sds", 200)
    header = next(ln for ln in text.splitlines() if "intent" in ln and "spare" in ln)
    assert "channel" in header and "target" in header
