"""Model profiles: what a model can carry in one call and what it costs.

The planner reads a profile to size calls (rows per call, output and context limits) and to price them.
Built-ins cover the embedded model and a few hosted ones; an unknown name gets a generic profile with no
prices, so the plan reports tokens but no cost. (User profiles in synthc.toml come later.)
"""

from __future__ import annotations

from typing import Optional

from pydantic import BaseModel, ConfigDict


class ModelProfile(BaseModel):
    """One model as the planner sees it. Prices are USD per million tokens, None when unknown."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    model: str
    endpoint: Optional[str] = None
    max_rows_per_call: int
    context_tokens: int
    max_output_tokens: int
    input_usd_per_mtok: Optional[float] = None
    output_usd_per_mtok: Optional[float] = None
    concurrency: int = 4


BUILTIN: dict[str, ModelProfile] = {
    p.name: p
    for p in (
        # A 135M model follows one short JSON object at a time; more rows per call make it lose the format.
        ModelProfile(name="embedded", model="SmolLM2-135M-Instruct", max_rows_per_call=1, context_tokens=8192,
                     max_output_tokens=512, input_usd_per_mtok=0.0, output_usd_per_mtok=0.0, concurrency=1),
        ModelProfile(name="gpt-4o-mini", model="gpt-4o-mini", max_rows_per_call=25, context_tokens=128_000,
                     max_output_tokens=16_384, input_usd_per_mtok=0.15, output_usd_per_mtok=0.60, concurrency=16),
        ModelProfile(name="gpt-4o", model="gpt-4o", max_rows_per_call=25, context_tokens=128_000,
                     max_output_tokens=16_384, input_usd_per_mtok=2.50, output_usd_per_mtok=10.00, concurrency=16),
        ModelProfile(name="gpt-4.1-mini", model="gpt-4.1-mini", max_rows_per_call=25, context_tokens=1_047_576,
                     max_output_tokens=32_768, input_usd_per_mtok=0.40, output_usd_per_mtok=1.60, concurrency=16),
    )
}


def generic(name: str) -> ModelProfile:
    """A cautious profile for a model synthc knows nothing about: modest limits, no prices."""
    return ModelProfile(name=name, model=name, max_rows_per_call=10, context_tokens=32_768,
                        max_output_tokens=4096, concurrency=4)


def profile_for(name: str) -> ModelProfile:
    """The built-in profile called `name`, or a generic one (cost unknown)."""
    return BUILTIN.get(name) or generic(name)
