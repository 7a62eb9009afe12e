"""The checks of a completed dataset (LANGUAGE.md, "Completing to the targets"): real rows first, then synthetic.

Dataset constraints, the schema and the targets are judged on the whole output: that is the dataset a user
gets. Row constraints and the `type:FIELD` checks judge the synthetic rows only (the build rejected and
rewrote those that broke a rule), and each one's SQL says so. Real rows are never rejected: the ones that break
a row constraint or do not fit a field's type (a missing value) are *findings*, counted per check with a few
examples, and never fail the build.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from ..ir import Spec
from .checks import run_checks
from .load import load_rows
from .models import CheckResult, ValidationReport
from .rows import validate_rows

PER_ROW = ("row", "type")
ORIGIN = "_origin"


def _per_row(spec: Spec, rows: Sequence[Mapping]) -> dict[str, CheckResult]:
    loaded = load_rows(spec, rows)
    try:
        return {c.name: c for c in run_checks(spec, loaded).checks if c.kind in PER_ROW}
    finally:
        loaded.con.close()


def _shift(c: CheckResult, by: int) -> CheckResult:
    """Examples numbered as rows of the whole output (the synthetic rows follow the real ones)."""
    examples = tuple({**e, "row": e["row"] + by} if isinstance(e.get("row"), int) else e for e in c.examples)
    return c.model_copy(update={"examples": examples})


def _synthetic_sql(sql: str) -> str:
    return f"SELECT * FROM (\n{sql}\n) WHERE \"{ORIGIN}\" = 'synthetic'"


def validate_completed(spec: Spec, real: Sequence[Mapping], synthetic: Sequence[Mapping], reference=None
                       ) -> tuple[ValidationReport, dict[str, dict]]:
    """The report of the whole output (row and type checks over its synthetic rows), and the findings on the
    real rows: {check name: {"kind", "count", "examples"}} in check order, each example with the row's `_id`.
    `reference`: the reference's rows for the evaluation aggregates (evaluation.checks.RealData)."""
    whole = validate_rows(spec, [*real, *synthetic], reference)
    if not real and not synthetic:
        return whole, {}
    syn = _per_row(spec, synthetic) if synthetic else {}
    found = _per_row(spec, real) if real else {}
    checks = []
    for c in whole.checks:
        if c.kind not in PER_ROW:
            checks.append(c)
            continue
        s = syn.get(c.name)
        if s is None:  # no synthetic row: nothing to judge
            s = c.model_copy(update={"passed": True, "violations": 0, "examples": (), "detail": None})
        checks.append(_shift(s, len(real)).model_copy(update={"sql": _synthetic_sql(c.sql)}))
    findings = {}
    for name, c in found.items():
        if c.violations:
            examples = [{"_id": real[e["row"] - 1]["_id"], **{k: v for k, v in e.items() if k != "row"}}
                        if isinstance(e.get("row"), int) else e for e in c.examples]
            findings[name] = {"kind": c.kind, "count": c.violations, "examples": examples,
                              **({"detail": c.detail} if c.detail else {})}
    return whole.model_copy(update={"checks": tuple(checks)}), findings
