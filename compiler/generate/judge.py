"""Judge verdicts as a build reads them (docs/BUILD.md, "Judges"): per judge and per stratum, the rows whose
answer held a verdict and those that met every judge constraint on it. The round engine runs judges as prompts
(plan.judges); this only counts what its judging found, for report.json's `judges`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

from .. import ir
from ..plan import Plan
from ..plan.model import value_label


@dataclass
class JudgeTally:
    """judge -> stratum number -> [judged, passed]."""

    constraints: dict[str, tuple[str, ...]]  # judge -> the names of the constraints on its verdict
    models: dict[str, str] = field(default_factory=dict)  # judge -> the model its calls ask
    inputs: dict[str, tuple[str, ...]] = field(default_factory=dict)  # judge -> the fields its question reads
    counts: dict[str, dict[int, list[int]]] = field(default_factory=dict)

    @classmethod
    def of(cls, spec: ir.Spec, plan: Plan) -> "JudgeTally":
        """For an engine spec (plan.judges): its judge prompts and the row constraints on their verdicts."""
        judges = [p.name for p in spec.prompts if p.judge]
        cons = {j: tuple(c.name for c in spec.constraints if c.judge == j) for j in judges}
        models = {pp.prompt: pp.model for pp in plan.prompts if pp.judge}
        return cls(cons, models, {p.name: p.inputs for p in spec.prompts if p.judge})

    def record(self, prompt: ir.Prompt, rows: Sequence[tuple[int, int]], full: Mapping[tuple[int, int], dict],
               broken: Mapping[str, list[str]]) -> None:
        """Rows (stratum number, index) judged at `prompt`'s stage, their full rows and the constraints each broke."""
        if not prompt.judge:
            return
        mine = set(self.constraints.get(prompt.name, ()))
        per = self.counts.setdefault(prompt.name, {})
        for r in rows:
            row = full[r]
            if row.get(prompt.name) is None:
                continue
            c = per.setdefault(r[0], [0, 0])
            c[0] += 1
            c[1] += not (mine & set(broken.get(row["_id"], ())))

    def to_json(self, plan: Plan) -> dict:
        """report.json's `judges`."""
        out = {}
        for name, cons in self.constraints.items():
            per = self.counts.get(name, {})
            judged = sum(c[0] for c in per.values())
            passed = sum(c[1] for c in per.values())
            strata = sorted(per, key=lambda si: plan.strata[si].key)
            out[name] = {"constraints": list(cons), "model": self.models.get(name), "judged": judged, "passed": passed,
                         "pass_rate": _rate(passed, judged),
                         "by_stratum": [{"values": dict(plan.strata[si].values), "judged": per[si][0],
                                         "passed": per[si][1], "pass_rate": _rate(per[si][1], per[si][0])}
                                        for si in strata],
                         "by_value": self._by_value(name, per, plan)}
        return out

    def _by_value(self, name: str, per: dict[int, list[int]], plan: Plan) -> dict[str, dict]:
        """Per stratum field the question reads, per value: the strata's counts summed (`{field: {value: ...}}`)."""
        out: dict[str, dict] = {}
        for f in self.inputs.get(name, ()):
            sums: dict[str, list[int]] = {}
            for si, (judged, passed) in sorted(per.items(), key=lambda kv: plan.strata[kv[0]].key):
                if f not in plan.strata[si].values:
                    continue
                c = sums.setdefault(value_label(plan.strata[si].values[f]), [0, 0])
                c[0] += judged
                c[1] += passed
            if sums:
                out[f] = {v: {"judged": j, "passed": p, "pass_rate": _rate(p, j)} for v, (j, p) in sorted(sums.items())}
        return out


def _rate(passed: int, judged: int) -> float | None:
    return round(passed / judged, 6) if judged else None
