"""What a build counts as it goes: calls, tokens and cost (Counters), and acceptance per stratum (Acceptance),
which the planner's `top_up` sizes the next round with."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ..plan import AcceptanceStats
from ..plan.cost import cost_usd
from ..plan.model import DEFAULT_ACCEPTANCE
from ..profiles import ModelProfile
from ..run.client import Answer

PRIOR_WEIGHT = 4  # rows' worth of the overall rate a stratum's own rate is smoothed toward


@dataclass
class Counters:
    """calls, tokens and cost: what this run paid; full_*: every answer the build used (cached or not).
    Costs are priced from token totals per profile, never summed call by call, so they do not depend on the
    order answers arrived in."""

    calls: int = 0
    failed_calls: int = 0
    cache_hits: int = 0
    carried_calls: int = 0  # earlier calls whose answers rows were carried from (none fetched by this build)
    earlier_calls: int = 0  # cache hits no finished build of this spec used: paid by an interrupted run
    rounds: int = 0
    profiles: dict[str, ModelProfile] = field(default_factory=dict)
    run_tokens: dict[str, list[int]] = field(default_factory=dict)  # profile -> [prompt, completion]
    full_tokens: dict[str, list[int]] = field(default_factory=dict)
    earlier_tokens: dict[str, list[int]] = field(default_factory=dict)

    def add(self, profile: ModelProfile, answer: Answer, from_cache: bool, earlier: bool = False) -> None:
        """earlier: a cache hit that an interrupted run of this build paid for (no lock lists it)."""
        self.profiles[profile.name] = profile
        kinds = (self.full_tokens,) if from_cache else (self.full_tokens, self.run_tokens)
        for tokens in kinds + ((self.earlier_tokens,) if earlier else ()):
            t = tokens.setdefault(profile.name, [0, 0])
            t[0] += answer.prompt_tokens
            t[1] += answer.completion_tokens

    @property
    def prompt_tokens(self) -> int:
        return sum(t[0] for t in self.run_tokens.values())

    @property
    def completion_tokens(self) -> int:
        return sum(t[1] for t in self.run_tokens.values())

    @property
    def full_prompt_tokens(self) -> int:
        return sum(t[0] for t in self.full_tokens.values())

    @property
    def full_completion_tokens(self) -> int:
        return sum(t[1] for t in self.full_tokens.values())

    @property
    def cost_usd(self) -> Optional[float]:
        return self._cost(self.run_tokens)

    @property
    def full_cost_usd(self) -> Optional[float]:
        return self._cost(self.full_tokens)

    @property
    def earlier_cost_usd(self) -> Optional[float]:
        return self._cost(self.earlier_tokens)

    def _cost(self, tokens: dict[str, list[int]]) -> Optional[float]:
        total = 0.0
        for name in sorted(tokens):
            c = cost_usd(tokens[name][0], tokens[name][1], self.profiles[name])
            if c is None:
                return None
            total += c
        return round(total, 6)


@dataclass
class Acceptance:
    """Rows that got a verdict and rows accepted, per stratum key (spares included)."""

    prior: AcceptanceStats = field(default_factory=AcceptanceStats)
    attempted: dict[str, int] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)

    def verdict(self, key: str, ok: bool) -> None:
        self.attempted[key] = self.attempted.get(key, 0) + 1
        if ok:
            self.kept[key] = self.kept.get(key, 0) + 1

    def estimates(self) -> AcceptanceStats:
        """Acceptance measured so far: the overall rate, and each stratum's smoothed toward it (a stratum of
        one row that failed once is not a stratum that always fails)."""
        att, acc = sum(self.attempted.values()), sum(self.kept.values())
        prior = self.prior.rate if self.prior.rate is not None else DEFAULT_ACCEPTANCE
        if not att:
            return self.prior
        rate = acc / att
        pooled = (acc + PRIOR_WEIGHT * prior) / (att + PRIOR_WEIGHT)
        by = {k: round((self.kept.get(k, 0) + PRIOR_WEIGHT * pooled) / (n + PRIOR_WEIGHT), 4)
              for k, n in sorted(self.attempted.items()) if n}
        return AcceptanceStats(rate=round(rate, 4), by_stratum=by)

    def over(self, keys) -> tuple[int, int]:
        """(rows judged, rows accepted) in the strata `keys`."""
        return sum(self.attempted.get(k, 0) for k in keys), sum(self.kept.get(k, 0) for k in keys)
