"""The plan as frozen pydantic models, its contract JSON (`synthc plan --json`) and its canonical bytes.

A plan stores per-stratum quotas and call batches, never one object per row: row ids and numeric values are
pure functions of (stratum, index) and are computed on demand (`rows.RowSource`), which keeps a 10-million
row plan small.
"""

from __future__ import annotations

import json
from typing import Iterator, Optional

from pydantic import BaseModel, ConfigDict

from ..ir import Value

# `synthc plan --json`: bumped when a key changes meaning or is added (2: judges; 3: rows_dataset, rows_real,
# rows_synthetic, so a complete-mode plan states its dataset's rows beside `rows`, the synthetic rows)
PLAN_VERSION = 3
from ..profiles import ModelProfile, profile_for

DEFAULT_ACCEPTANCE = 0.9
# Without --max-calls/--max-cost a build makes at most CEILING_FACTOR x round 1's calls + CEILING_SLACK.
CEILING_FACTOR = 3
CEILING_SLACK = 10


def call_ceiling(round_one_calls: int) -> int:
    """The default most calls a build may make (`max_calls` in `plan --json` and the report)."""
    return CEILING_FACTOR * round_one_calls + CEILING_SLACK


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PlanProblem(_Frozen):
    """A compile-time error found while planning. subjects: `field:NAME`, `constraint:NAME`, `joint:F1,F2`."""

    code: str
    message: str
    hint: Optional[str] = None
    subjects: tuple[str, ...] = ()


class AcceptanceStats(_Frozen):
    """Acceptance rates measured by earlier builds: overall, and per stratum key where known."""

    rate: Optional[float] = None
    by_stratum: dict[str, float] = {}

    def rate_for(self, key: str) -> float:
        r = self.by_stratum.get(key, self.rate if self.rate is not None else DEFAULT_ACCEPTANCE)
        return min(1.0, max(0.01, r))


def row_id(key: str, index: int) -> str:
    """The stable id of row `index` of the stratum with `key`: independent of N, shares and seed."""
    return f"{key}-{index:06d}"


class Cell(_Frozen):
    """Part of a stratum that differs only in fields no prompt reads (plan.identity): their values and quota.
    key: the sha256 prefix of all its sampled values (the stratum key it would have if every field were read)."""

    key: str
    values: dict[str, Value]
    rows: int


class Stratum(_Frozen):
    """One combination of the sampled categorical values (and numeric bins) the generation reads, with its quota.

    key: short sha256 of those sampled values, the prefix of its row ids. rows: rows the dataset keeps.
    spare: extra rows requested in round 1 for expected rejections. expected: N times the fitted share.
    values: the sampled values, numeric bins as `low..high` labels, and derived categorical values.
    cells: when some categorical field is read by no prompt, the quota split by its values (plan.identity);
    empty otherwise.
    """

    key: str
    values: dict[str, Value]
    rows: int
    spare: int = 0
    expected: float
    cells: tuple[Cell, ...] = ()

    @property
    def requested(self) -> int:
        return self.rows + self.spare


class Segment(_Frozen):
    """Rows `start .. start+count-1` of stratum number `stratum` (an index into Plan.strata)."""

    stratum: int
    start: int
    count: int


class CallBatch(_Frozen):
    """`calls` calls; with calls > 1 there is one segment, split into equal consecutive runs of rows."""

    segments: tuple[Segment, ...]
    calls: int = 1

    @property
    def rows(self) -> int:
        return sum(s.count for s in self.segments)


class PromptPlan(_Frozen):
    """The calls of one prompt in round 1 and what they should cost.

    rows_per_call is k; lower_bound_calls is L = ceil(rows / k) over the rows requested (spares included).
    after: prompts whose outputs this prompt reads, so its calls wait for theirs.
    """

    prompt: str
    profile: str
    model: str
    rows_per_call: int
    rows: int
    calls: int
    lower_bound_calls: int
    prompt_tokens_per_call: int
    prompt_tokens_per_row: int
    completion_tokens_per_call: int
    completion_tokens_per_row: int
    prompt_tokens_est: int
    completion_tokens_est: int
    cost_est_usd: Optional[float]
    after: tuple[str, ...] = ()
    batches: tuple[CallBatch, ...] = ()
    judge: bool = False  # the calls of a judge (plan.judges), not of a prompt


class MarginalValue(_Frozen):
    value: Value
    target_share: float
    planned_rows: int


class Marginal(_Frozen):
    field: str
    values: tuple[MarginalValue, ...]


class RealStratum(_Frozen):
    """One combination of the stratum fields: its target, its usable real rows, the real rows the dataset keeps
    and the synthetic rows planned for it."""

    key: str
    values: dict[str, Value]
    target: int
    real: int
    kept: int
    synthetic: int

    @property
    def overfilled(self) -> bool:
        return self.real > self.target


class RealPlan(_Frozen):
    """The real side of a completed dataset (Plan.real)."""

    reference: str
    path: str
    sha256: str
    file_rows: int
    usable: int
    downsample: bool
    holdout: float
    fields: tuple[str, ...]
    strata: tuple[RealStratum, ...]

    @property
    def real_rows(self) -> int:
        return sum(s.kept for s in self.strata)

    @property
    def synthetic_rows(self) -> int:
        return sum(s.synthetic for s in self.strata)

    @property
    def target_rows(self) -> int:
        return sum(s.target for s in self.strata)

    def to_json_dict(self) -> dict:
        return {"reference": self.reference, "path": self.path, "sha256": self.sha256, "file_rows": self.file_rows,
                "usable": self.usable, "downsample": self.downsample, "holdout": self.holdout,
                "real_rows": self.real_rows, "synthetic_rows": self.synthetic_rows,
                "strata": [s.model_dump(mode="json") for s in self.strata]}


class Plan(_Frozen):
    """What `synthc build` will generate and what it will spend. Empty but for `problems` when planning failed."""

    dataset: str
    rows: int
    seed: int
    spec_digest: str
    profile: ModelProfile
    strata: tuple[Stratum, ...] = ()
    dealt: tuple[Cell, ...] = ()  # values of fields no prompt reads, dealt over all rows after generation
    marginals: tuple[Marginal, ...] = ()
    prompts: tuple[PromptPlan, ...] = ()
    warnings: tuple[str, ...] = ()
    problems: tuple[PlanProblem, ...] = ()
    real: Optional[RealPlan] = None  # complete mode: real rows per stratum (plan.complete); rows is synthetic

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def split(self) -> bool:
        """Whether some sampled values are dealt to rows after generation (plan.identity)."""
        return bool(self.dealt) or any(s.cells for s in self.strata)

    def profile_of(self, pp: "PromptPlan") -> ModelProfile:
        """The model profile a prompt's calls run on: the plan's, unless the prompt names its own model."""
        return self.profile if pp.profile == self.profile.name else profile_for(pp.profile)

    @property
    def calls(self) -> int:
        return sum(p.calls for p in self.prompts)

    @property
    def lower_bound_calls(self) -> int:
        return sum(p.lower_bound_calls for p in self.prompts)

    @property
    def judge_calls(self) -> int:
        """Of `calls`, those of judges."""
        return sum(p.calls for p in self.prompts if p.judge)

    @property
    def max_calls(self) -> int:
        """The default ceiling on a build's calls (without --max-calls/--max-cost): call_ceiling."""
        return call_ceiling(self.calls) if self.prompts else 0

    @property
    def spare_rows(self) -> int:
        return sum(s.spare for s in self.strata)

    @property
    def rows_per_call(self) -> Optional[int]:
        """The largest k over prompts (each prompt's own k is in `prompts`); None without prompts."""
        return max((p.rows_per_call for p in self.prompts), default=None)

    @property
    def prompt_tokens_est(self) -> int:
        return sum(p.prompt_tokens_est for p in self.prompts)

    @property
    def completion_tokens_est(self) -> int:
        return sum(p.completion_tokens_est for p in self.prompts)

    @property
    def cost_est_usd(self) -> Optional[float]:
        costs = [p.cost_est_usd for p in self.prompts]
        if any(c is None for c in costs):
            return None
        return round(sum(costs), 6)

    def stratum(self, key: str) -> Stratum:
        for s in self.strata:
            if s.key == key:
                return s
        raise KeyError(key)

    def row_ids(self) -> Iterator[str]:
        """Every row the dataset keeps, ordered by id (spares excluded)."""
        for s in sorted(self.strata, key=lambda s: s.key):
            for i in range(s.rows):
                yield row_id(s.key, i)

    def to_json_dict(self) -> dict:
        """The `synthc plan --json` object (the issue's contract keys, plus detail per prompt)."""
        return {
            "dataset": self.dataset,
            "rows": self.rows,
            "rows_dataset": self.rows + (self.real.real_rows if self.real is not None else 0),
            "rows_real": self.real.real_rows if self.real is not None else 0,
            "rows_synthetic": self.rows,
            "seed": self.seed,
            "model": self.profile.name,
            "spec_digest": self.spec_digest,
            "calls": self.calls,
            "judge_calls": self.judge_calls,
            "lower_bound_calls": self.lower_bound_calls,
            "max_calls": self.max_calls,
            "rows_per_call": self.rows_per_call,
            "rows_requested": self.rows + self.spare_rows,
            "spare_rows": self.spare_rows,
            "prompt_tokens_est": self.prompt_tokens_est,
            "completion_tokens_est": self.completion_tokens_est,
            "cost_est_usd": self.cost_est_usd,
            "prompts": [
                {k: getattr(p, k) for k in ("prompt", "model", "rows_per_call", "rows", "calls", "lower_bound_calls",
                                            "prompt_tokens_est", "completion_tokens_est", "cost_est_usd")}
                | {"after": list(p.after), "judge": p.judge}
                for p in self.prompts
            ],
            "strata": [{"key": s.key, "values": dict(s.values), "rows": s.rows, "spare": s.spare}
                       | ({"cells": [c.model_dump(mode="json") for c in s.cells]} if s.cells else {})
                       for s in self.strata],
            **({"dealt": [c.model_dump(mode="json") for c in self.dealt]} if self.dealt else {}),
            "marginals": {
                m.field: {value_label(v.value): {"target_share": v.target_share, "planned_rows": v.planned_rows}
                          for v in m.values}
                for m in self.marginals
            },
            "warnings": list(self.warnings),
            "problems": [p.model_dump(mode="json") for p in self.problems],
            **({"real": self.real.to_json_dict()} if self.real is not None else {}),
        }

    def canonical_json(self) -> str:
        """The whole plan, sorted keys and fixed layout: byte-identical for the same (spec, stats, profile)."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def value_label(v: Value) -> str:
    """A value as a JSON object key: strings as they are, others as their JSON text (true, 3, 2.5)."""
    return v if isinstance(v, str) else json.dumps(v)
