"""The content-quality aggregates of one dataset constraint, measured in Python over columns pulled from DuckDB.

validate/checks.py calls measure() before it runs a dataset constraint's SQL; the figures enter that SQL as
parameters (validate/sql.py dataset_query), so the check's verdict, display and rerunnable SQL work as for any
other aggregate. distinct_n, compression_ratio, self_similarity and shortcut_lift read the seeded sample of
sample.py (every row up to SAMPLE); near_unique reads the whole column, as it bounds every pair.
"""

from __future__ import annotations

from typing import Any

from ..ir import Expr
from . import QUALITY
from .sample import sampled
_SHOWN = 200  # characters of each text shown in a near-duplicate example


def calls(e: Expr) -> list[Expr]:
    out = [e] if e.kind == "call" and e.fn in QUALITY else []
    for a in e.args:
        out += calls(a)
    return out


def column(con, table: str, name: str) -> list:
    q = '"' + name.replace('"', '""') + '"'
    t = '"' + table.replace('"', '""') + '"'
    return [r[0] for r in con.execute(f"SELECT {q} FROM {t} ORDER BY rowid").fetchall()]


def measure(expr: Expr, con, table: str, seed: int) -> tuple[dict[str, Any], list[dict]]:
    """Each content-quality call of `expr` (by spec text) and its figure; with the near-duplicate pairs of a
    near_unique call as report examples (rows count from 1): the rows the build would reject, in row order."""
    from ..validate.sql import expr_text
    from .diversity import compression_ratio, distinct_n, self_similarity
    from .neardup import near_duplicate_rejects
    from .shortcuts import shortcut_lift

    out: dict[str, Any] = {}
    pairs: list[dict] = []
    for call in calls(expr):
        key = expr_text(call)
        if key in out:
            continue
        if call.fn == "shortcut_lift":
            rows, _ = sampled(con, table, [call.args[0].field, call.args[-1].field], seed)
            out[key] = shortcut_lift([r[0] for r in rows], [_text(r[1]) for r in rows], seed)
            continue
        if call.fn == "near_unique":
            text = [_text(t) for t in column(con, table, call.args[0].field)]
            rejects = near_duplicate_rejects(text, float(call.args[1].value), seed)
            out[key] = not rejects
            pairs = pair_examples(text, rejects)
            continue
        text = [_text(r[0]) for r in sampled(con, table, [call.args[0].field], seed)[0]]
        if call.fn == "distinct_n":
            out[key] = distinct_n(text, int(call.args[1].value))
        elif call.fn == "compression_ratio":
            out[key] = compression_ratio(text)
        else:
            out[key] = self_similarity(text)
    return out, pairs


def _text(t):
    return t if isinstance(t, str) else None  # a number in a text field is the type check's finding


def pair_examples(text: list, rejects: list[tuple[int, int, float]], shown: int = _SHOWN) -> list[dict]:
    """near_duplicate_rejects' pairs as report rows: rows counted from 1, texts cut to `shown` characters."""
    return [{"row": i + 1, "copies_row": j + 1, "similarity": round(s, 4), "text": _short(text[i], shown),
             "copied_text": _short(text[j], shown)} for i, j, s in rejects]


def _short(t, shown: int):
    return t if not isinstance(t, str) or len(t) <= shown else t[:shown - 1] + "…"
