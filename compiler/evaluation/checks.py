"""The evaluation aggregates of one dataset constraint (max_similarity_to_real, tstr_lift), measured in Python over
the synthetic rows of the table `data` against the real rows, like quality.checks does for content figures: the
figures enter the constraint's SQL as parameters (validate/sql.py dataset_query).

`RealData` holds the real side once per run (its split, its indexed text columns, the usefulness figures already
computed), so `synthc eval`, `validate` and the build's checks and repair share one computation per figure.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Optional

from ..check.reference import file_sha256
from ..ir import Constraint, Expr, Spec
from ..quality.realindex import open_or_build
from . import EVAL
from .sides import Side, split
from .useful import DEFAULT_SEEDS


class RealData:
    def __init__(self, spec: Spec, real: Side, seeds: int = DEFAULT_SEEDS, sha256: Optional[str] = None,
                 index_dir: Optional[Path] = None):
        self.spec, self.side, self.seeds, self.sha256 = spec, real, seeds, sha256
        self.index_dir = index_dir  # where the index of a large real file's texts is kept (quality.realindex)
        self.split = split(spec, real)
        self._texts: dict[str, Any] = {}
        self._held_texts: dict[str, Any] = {}
        self._useful: dict[tuple, dict] = {}

    def differs(self) -> Optional[str]:
        """What it means for the split that the real rows are not the spec's reference file, or None."""
        ref = self.spec.reference
        if ref is None:
            return None
        out = []
        if self.sha256 is not None and self.sha256 != ref.sha256:
            out.append(f"the real file {self.side.path} is not the spec's reference `{ref.path}` (sha256 "
                       f"{self.sha256[:12]}… differs from {ref.sha256[:12]}…): its rows that the reference does not "
                       "have were never held out, so a build may have shown them as examples or kept them in the "
                       "dataset; held-out rows are chosen by content, so rows both files have are held out alike")
        if self.side.missing:
            out.append(f"the real file lacks {', '.join(f'`{n}`' for n in self.side.missing)}, which the reference "
                       "maps: a row's content key reads them, so this file's held-out rows are not the build's")
        return "; ".join(out) or None

    def held_texts(self, field: str):
        """The held-out real rows of column `field` indexed for nearest-real queries (contamination), built once."""
        from .private import RealTexts

        if field not in self._held_texts:
            col = self.side.column(field) if field in self.side.columns else []
            self._held_texts[field] = RealTexts([t if h else None for t, h in zip(col, self.split.held)])
        return self._held_texts[field]

    def contamination(self, texts: list, rows: list, field: str, threshold: float) -> dict:
        """The synthetic rows whose text is a near-copy of a held-out real row's (above `threshold`): they are
        left out of the usefulness training, and counted, with examples, in the report."""
        from .private import CLOSEST, _short, too_similar

        sims, where = self.held_texts(field).nearest(texts)
        bad = [i for i in range(len(texts)) if isinstance(texts[i], str) and too_similar(sims[i:i + 1], threshold,
                                                                                          False)[0]]
        bad.sort(key=lambda i: (-sims[i], i))
        col = self.side.column(field)
        return {"rows": len(bad), "threshold": threshold, "excluded": [rows[i] for i in sorted(bad)],
                "examples": [{"row": rows[i], "real_row": self.side.rows[where[i]], "similarity": round(float(sims[i]), 4),
                              "text": _short(texts[i]), "real_text": _short(col[where[i]])} for i in bad[:CLOSEST]]}

    def texts(self, field: str):
        """The real column `field` indexed for nearest-real queries, built once: private.RealTexts over the rows in
        memory, or, when they are a sample of a larger file, quality.realindex's index of every row of the file,
        exact from the lowest bound the spec sets on `field` (at most DEFAULT_THRESHOLD) up, kept in `index_dir`
        (a temporary folder without one) under the file's sha256 and reused."""
        from .private import RealTexts

        if field not in self._texts:
            src = self.side.source
            if self.side.sampled and field in src.columns:
                self._texts[field] = open_or_build(
                    self.index_dir or Path(tempfile.gettempdir()) / "synthc-realindex", src.reader(), [src.path],
                    self.sha256 or file_sha256(Path(src.path)), src.columns[field], self.floor(field))
            else:
                self._texts[field] = RealTexts(self.side.column(field) if field in self.side.columns else [],
                                               self.side.rows)
        return self._texts[field]

    def floor(self, field: str) -> float:
        """The lowest similarity a figure of `field` must get exactly: the spec's bounds on it and the report's."""
        from .private import DEFAULT_THRESHOLD

        bounds = [b[1] for c in self.spec.constraints for b in [similarity_bound(c)] if b is not None and b[0] == field]
        return min([DEFAULT_THRESHOLD, *bounds])

    def useful(self, labels: list, texts: list, rows: list, label: str, text: str) -> dict:
        from .useful import useful

        from .private import DEFAULT_THRESHOLD

        k = (label, text, tuple(map(str, labels)), tuple(texts), tuple(rows))
        if k not in self._useful:
            r = self.side
            if label in r.columns and text in r.columns:
                dirty = self.contamination(texts, rows, text, DEFAULT_THRESHOLD)
                drop = set(dirty.pop("excluded"))
                self._useful[k] = {**useful(labels, texts, rows, r.column(label), r.column(text), list(r.keys),
                                            self.split.held, self.spec.dataset.seed, self.seeds,
                                            [x in drop for x in rows]), "contamination": dirty}
            else:
                self._useful[k] = {"skipped": f"the real rows have no `{label}` or `{text}`", "gate": None,
                                   "undecided": f"the real rows have no `{label}` or `{text}`"}
        return self._useful[k]


def similarity_bound(c: Constraint) -> Optional[tuple[str, float, bool]]:
    """(text field, x, strict) when `c` is `max_similarity_to_real(t) <= x` (or `< x`): the form the build repairs."""
    e = c.expr
    if (c.kind == "dataset" and e.kind == "op" and e.op in ("<=", "<") and e.args[0].kind == "call"
            and e.args[0].fn == "max_similarity_to_real" and e.args[1].kind == "lit"):
        return e.args[0].args[0].field, float(e.args[1].value), e.op == "<"
    return None


def calls(e: Expr) -> list[Expr]:
    out = [e] if e.kind == "call" and e.fn in EVAL else []
    for a in e.args:
        out += calls(a)
    return out


def synthetic_columns(con, table: str, names: list[str]) -> tuple[list[int], dict[str, list]]:
    """Row numbers (from 1) and columns of the table's synthetic rows (`_origin` not `real`)."""
    t = _q(table)
    have = {r[0] for r in con.execute(f"DESCRIBE {t}").fetchall()}
    where = f" WHERE {_q('_origin')} IS DISTINCT FROM 'real'" if "_origin" in have else ""
    cols = ", ".join(["rowid + 1", *(_q(n) for n in names)])
    got = con.execute(f"SELECT {cols} FROM {t}{where} ORDER BY rowid").fetchall()
    return [r[0] for r in got], {n: [r[i + 1] for r in got] for i, n in enumerate(names)}


def copies(c: Constraint, con, table: str, real: Optional[RealData], shown: int = 3) -> tuple[int, list[dict]]:
    """For a constraint `max_similarity_to_real(t) <= x`: the synthetic rows above x (rows from 1, with their
    nearest real row), the most similar first, and how many there are."""
    from .private import too_similar

    bound = similarity_bound(c)
    if bound is None or real is None:
        return 0, []
    name, x, strict = bound
    rows, cols = synthetic_columns(con, table, [name])
    index = real.texts(name)
    sims, where = index.nearest(cols[name])
    bad = [i for i in range(len(rows)) if too_similar(sims[i:i + 1], x, strict)[0]]
    bad.sort(key=lambda i: (-sims[i], i))
    texts = index.texts_of([int(where[i]) for i in bad[:shown]])
    return len(bad), [{"row": rows[i], "similarity": round(float(sims[i]), 4), "text": cols[name][i],
                       "real_row": index.row(int(where[i])), "real_text": t} for i, t in zip(bad[:shown], texts)]


def measure(expr: Expr, con, table: str, real: Optional[RealData]) -> dict[str, Any]:
    """Each evaluation call of `expr` (by spec text) and its figure; None (the check fails) without real data."""
    from ..validate.sql import expr_text

    out: dict[str, Any] = {}
    for call in calls(expr):
        k = expr_text(call)
        if k in out:
            continue
        if real is None:
            out[k] = None
            continue
        names = [a.field for a in call.args]
        rows, cols = synthetic_columns(con, table, names)
        if call.fn == "max_similarity_to_real":
            sims, _ = real.texts(names[0]).nearest(cols[names[0]])
            present = [s for s, t in zip(sims, cols[names[0]]) if isinstance(t, str)]
            out[k] = float(max(present)) if present else 0.0  # no synthetic text copies anything
        else:
            u = real.useful(cols[names[0]], cols[names[1]], rows, names[0], names[1])
            out[k] = u.get("gate")
    return out


def undecided(expr: Expr, con, table: str, real: Optional[RealData]) -> Optional[str]:
    """Why a `tstr_lift` of `expr` has no value (a test set too small to decide, degenerate synthetic rows), after
    `measure` computed it; None when every one has a value."""
    if real is None:
        return None
    why = []
    for call in calls(expr):
        if call.fn != "tstr_lift":
            continue
        names = [a.field for a in call.args]
        rows, cols = synthetic_columns(con, table, names)
        u = real.useful(cols[names[0]], cols[names[1]], rows, names[0], names[1])
        if u.get("undecided"):
            why.append(f"tstr_lift({', '.join(names)}) cannot pass: {u['undecided']}")
    return "; ".join(why) or None


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
