"""What `validate` found: frozen models and their report.json shapes."""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict

from ..ir import Value


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CheckResult(_Frozen):
    """One check. kind row: a row constraint, `violations` counts the rows that break it. kind dataset: a
    dataset constraint, `violations` is 0 or 1 (for a bare unique(...): the rows repeating an earlier tuple).
    kind schema: spec fields missing from the data. kind type (named `type:FIELD`): `violations` counts the rows
    whose value of FIELD does not fit its declared type, domain, range or derivation; `detail` splits them by
    problem and each example names its `problem`.
    `violations` is None when the check could not run (`detail` says why); such a check has failed.
    `sql` reruns the check (on the table `data`, see ValidationReport.load_sql); `values` holds the aggregates
    a dataset check measured; `examples` up to 3 offending rows (`row` counts from 1) or repeated tuples. A `per`
    constraint counts its failing groups in `violations` and judged `groups`; its examples are failing groups."""

    name: str
    kind: Literal["row", "dataset", "schema", "type"]
    passed: bool
    violations: Optional[int]
    sql: str
    examples: tuple[dict[str, Any], ...] = ()
    values: dict[str, Any] = {}
    detail: Optional[str] = None
    groups: Optional[int] = None  # a `per` constraint: how many groups it judged (violations: how many failed)

    def to_json_dict(self) -> dict:
        out = {"name": self.name, "kind": self.kind, "passed": self.passed, "violations": self.violations,
               "sql": self.sql, "examples": list(self.examples), "values": dict(self.values), "detail": self.detail}
        if self.groups is not None:
            out["groups"] = self.groups
        return out


class MarginalValue(_Frozen):
    value: Optional[Value]  # None: rows with no value
    target: float
    actual: float
    count: int

    @property
    def key(self) -> str:
        return value_key(self.value)


class MarginalResult(_Frozen):
    """Target vs actual shares of one categorical field; tvd = 0.5 * sum |actual - target|."""

    field: str
    values: tuple[MarginalValue, ...]
    tvd: float
    sql: str


class ValidationReport(_Frozen):
    rows: int
    checks: tuple[CheckResult, ...]
    marginals: tuple[MarginalResult, ...] = ()
    source: Optional[str] = None  # the data file; None for rows passed in memory
    load_sql: Optional[str] = None  # creates the table `data` the checks' SQL reads
    content: Optional[dict[str, Any]] = None  # the build's content figures (quality.report), rows in memory only
    findings: dict[str, Any] = {}  # a completed dataset: real rows that break a row or type check, per check

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if not c.passed)

    @property
    def tvd(self) -> dict[str, float]:
        return {m.field: m.tvd for m in self.marginals}

    def to_json_dict(self) -> dict:
        return {
            "rows": self.rows,
            "passed": self.passed,
            "source": self.source,
            "load_sql": self.load_sql,
            "checks": [c.to_json_dict() for c in self.checks],
            "marginals": {m.field: {v.key: {"target": v.target, "actual": v.actual, "count": v.count}
                                    for v in m.values} for m in self.marginals},
            "tvd": self.tvd,
            **({"findings": self.findings} if self.findings else {}),
        }


def value_key(v) -> str:
    """A data value as a JSON object key: text as is, true/false, numbers as written, null."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    return v if isinstance(v, str) else str(v)


def number_text(v: float) -> str:
    """A measured number for people: 0 for float noise (|v| < 1e-12, e.g. a tvd of 2.082e-17), else up to four
    decimals without trailing zeros (0.0208, 3.4, 1,250), so columns of figures read alike."""
    if abs(v) < 1e-12:
        return "0"
    text = f"{v:,.4f}".rstrip("0").rstrip(".")
    if text in ("0", "-0"):  # below 0.00005: keep two significant digits rather than show a false 0
        return f"{v:.2g}"
    return text


# Text output (the terminal, report.md) shows at most this many values of a field's marginal: the ones furthest
# from their target, in their own order, then "and N more". JSON keeps every value.
SHOWN_VALUES = 30


def worst_first(items: list, off, n: int = SHOWN_VALUES) -> tuple[list, int]:
    """The n items with the largest `off(item)` (ties: the earlier first), kept in their given order, and how many
    were left out."""
    if len(items) <= n:
        return list(items), 0
    chosen = set(sorted(range(len(items)), key=lambda i: (-off(items[i]), i))[:n])
    return [x for i, x in enumerate(items) if i in chosen], len(items) - n
