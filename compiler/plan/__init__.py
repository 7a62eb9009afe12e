"""The planner: from a checked spec to the rows that will exist, the calls that will write them, and their cost.

`build_plan(spec, stats, profile)` is a pure function of its arguments: no network, no clock, no global random
state (every random choice is seeded from `spec.dataset.seed` through hashlib or a local `random.Random`), so
the plan's canonical JSON is byte-identical across runs and machines.

Errors are values: when the targets cannot be met (SDS029) the returned Plan has `problems` and no strata or
calls; callers check `plan.ok` (the CLI turns problems into diagnostics through their `subjects`).
"""

from __future__ import annotations

from .. import ir
from ..profiles import ModelProfile, profile_for
from .allocate import allocate as _allocate
from .batch import fit_spares, plan_round, prompt_k, spare_rows, stage_order, top_up
from .complete import completing, fill_to_targets, marginals as _real_marginals
from .fewshot import notes as fewshot_notes
from .identity import group_strata
from .judges import engine_spec
from .model import (AcceptanceStats, CallBatch, Cell, Marginal, MarginalValue, Plan, PlanProblem, PromptPlan, Segment,
                    Stratum, row_id)
from .numeric import is_numeric_sampled
from .reach import unreachable
from .rows import Call, RowSource, iter_calls

__all__ = ["build_plan", "top_up", "Plan", "PlanProblem", "Stratum",
           "PromptPlan", "CallBatch", "Cell", "Segment", "Marginal", "MarginalValue", "AcceptanceStats", "RowSource",
           "Call", "iter_calls", "row_id"]


def build_plan(spec: ir.Spec, stats: AcceptanceStats | None = None, profile: ModelProfile | None = None) -> Plan:
    """Plan `spec`: strata and quotas, round-1 calls per prompt, token and cost estimates, warnings, problems.

    profile: the model profile for the dataset's model (default: the built-in or generic profile of
    `spec.dataset.model`); a prompt naming another model uses that model's profile.
    stats: acceptance rates of earlier builds (default: 0.9 everywhere), which size the spare rows.
    """
    profile = profile or profile_for(spec.dataset.model)
    stats = stats or AcceptanceStats()
    base = dict(dataset=spec.dataset.name, rows=spec.dataset.rows, seed=spec.dataset.seed,
                spec_digest=spec.digest(), profile=profile)
    spec = engine_spec(spec)  # judges are planned as prompts over the rows they judge
    alloc = _allocate(spec, deal=not completing(spec))
    warnings = list(alloc.warnings)
    problems = alloc.problems or ([] if completing(spec) else unreachable(spec, alloc.marginals))
    if problems:
        return Plan(**base, warnings=tuple(warnings), problems=tuple(problems))
    real = None
    if completing(spec):  # take the real rows off each stratum's quota before batching
        real, notes, problems = fill_to_targets(spec, alloc)
        if problems:
            return Plan(**base, warnings=tuple(warnings), problems=tuple(problems))
        warnings += notes
        alloc.marginals = _real_marginals(real, alloc.marginals)
        base["rows"] = real.synthetic_rows
    strata = tuple(
        Stratum.model_construct(key=key, values=values, rows=rows, expected=expected, cells=cells,
                                spare=spare_rows(rows, round(stats.rate_for(key), 6)))
        for key, values, rows, expected, cells in group_strata(spec, alloc.layout, alloc.strata))
    if spec.prompts:  # spares fill the free room of the first prompt's calls, never a call of their own
        first = spec.prompt(stage_order(spec)[0])
        fitted = fit_spares(spec, first, prompt_k(spec, first, profile, strata), strata, [s.spare for s in strata])
        strata = tuple(s.model_copy(update={"spare": n}) if n != s.spare else s for s, n in zip(strata, fitted))
    prompts, notes = plan_round(spec, profile, strata)
    warnings += notes
    warnings += _notes(spec)
    warnings += fewshot_notes(spec, strata)
    warnings += _spare_note(strata, spec.dataset.rows)
    dealt = tuple(Cell(key=d.key, values=d.values, rows=d.rows) for d in alloc.dealt)
    return Plan(**base, strata=strata, dealt=dealt, marginals=tuple(alloc.marginals), prompts=tuple(prompts),
                warnings=tuple(warnings), real=real)


def _spare_note(strata, rows: int) -> list[str]:
    """Spares are sized per stratum (batch.CONFIDENCE): when small strata still make them dear, say so."""
    spare = sum(s.spare for s in strata)
    if rows and spare > 0.5 * rows:
        small = sum(1 for s in strata if s.rows <= 3)
        return [f"{spare:,} spare rows ({100 * spare / rows:.0f}% of {rows:,}): {small:,} of {len(strata):,} strata "
                f"get 3 rows or fewer, and each carries its own spares; fewer categorical fields or more rows "
                f"make strata larger and spares cheaper"]
    return []


def _notes(spec: ir.Spec) -> list[str]:
    out = []
    for f in spec.fields:
        if is_numeric_sampled(f) and f.type.kind == "date" and f.dist is not None and f.dist.kind != "uniform":
            out.append(f"field {f.name}: dates are planned uniform over their range ({f.dist.kind} is not supported)")
    if not spec.prompts:
        out.append("no prompt: nothing is generated, so the plan makes no calls")
    return out
