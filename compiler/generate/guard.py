"""The call guard: whether one more call may start (--max-calls, the default ceiling, --max-cost), when the
endpoint counts as down (the failure breaker), and when a prompt's rows keep being rejected (the yield breaker
and the forecast before a top-up). docs/BUILD.md "What a build may spend". A stop is a `Stopped`: exit 3, every
answer kept in the cache."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..plan.model import CEILING_FACTOR, CEILING_SLACK
from ..plan.cost import cost_usd
from ..plan.model import PromptPlan
from ..profiles import ModelProfile
from ..run.client import CallError

DEFAULT_MAX_ROUNDS = 10
# The yield breaker: after each prompt's calls in a round, a prompt whose rows were accepted at less than
# MIN_YIELD, over at least YIELD_MIN_ROWS rows answered (this round's, or all rounds' so far), stops the build:
# the model keeps failing for the same reason, and top-ups would pay for answers the build cannot use.
# --min-yield lowers (0: turns off) the floor.
MIN_YIELD = 0.25
YIELD_MIN_ROWS = 20
BREAKER_MIN = 10  # calls of a round that must have ended before the share failed can stop the build
BREAKER_SHARE = 0.5
FIRST_FAILURES = 3  # calls failing before any call of the build has succeeded: the endpoint is down


@dataclass(frozen=True)
class Budget:
    """max_calls: --max-calls, or the plan's default ceiling when `ceiling` (no --max-calls or --max-cost).
    paid_calls, paid_cost_usd: what earlier runs of the same build paid for (run.ledger); every limit counts them."""

    max_calls: Optional[int] = None
    max_cost: Optional[float] = None
    max_rounds: int = DEFAULT_MAX_ROUNDS
    min_yield: float = MIN_YIELD
    ceiling: bool = False
    paid_calls: int = 0
    paid_cost_usd: float = 0.0


class Stopped(Exception):
    """The build stopped before its quotas were met (exit 3). kind: budget | ceiling | yield | rounds |
    endpoint | offline. details: the `stopped` object of --json (generate.diagnosis), set by the executor."""

    def __init__(self, kind: str, message: str, **facts):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.facts = facts
        self.details: dict = {}


class CallGuard:
    """Admits calls against the budget and watches failures. `stop` is the first reason found to stop."""

    def __init__(self, budget: Budget, round_one_calls: int):
        self.budget = budget
        self.round_one_calls = round_one_calls
        self.stop: Optional[Stopped] = None
        # calls admitted (cache misses), counting those earlier runs of this build paid for; cache hits are free
        self.started = budget.paid_calls
        self.reserved = 0.0  # estimated cost of the calls in flight
        self.offline_misses = 0
        self.round_done = self.round_failed = 0
        self.last_error = ""

    def halt(self, stop: Stopped) -> None:
        if self.stop is None:
            self.stop = stop

    def calls_left(self) -> Optional[int]:
        b = self.budget
        return None if b.max_calls is None else max(0, b.max_calls - self.started)

    def admit(self, pp: PromptPlan, rows: int, body: dict, profile: ModelProfile, spent: Optional[float]
              ) -> Optional[float]:
        """Whether a budget allows one more call; its reserved cost (None: stop instead)."""
        b = self.budget
        if b.max_calls is not None and self.started >= b.max_calls:
            self.halt(self.budget_stop("the next call would pass it"))
            return None
        reserve = 0.0
        if b.max_cost is not None:
            est = cost_usd(pp.prompt_tokens_per_call + rows * pp.prompt_tokens_per_row,
                           int(body.get("max_tokens") or 0), profile) or 0.0
            spent = (spent or 0.0) + b.paid_cost_usd
            if spent + self.reserved + est > b.max_cost:
                self.halt(Stopped("budget", f"--max-cost ${b.max_cost:g} reached (${spent:.4f} spent; the next "
                                            f"call could cost up to ${est:.4f})"))
                return None
            reserve = est
            self.reserved += est
        self.started += 1
        return reserve

    def release(self, reserve: float) -> None:
        self.reserved -= reserve

    def budget_stop(self, why: str) -> Stopped:
        b = self.budget
        earlier = (f"; {b.paid_calls:,} of them paid by earlier runs of this build that stopped" if b.paid_calls
                   else "")
        if b.ceiling:
            return Stopped("ceiling", f"the build's ceiling of {b.max_calls:,} calls is reached ({why}): "
                                      f"{CEILING_FACTOR} x round 1's {self.round_one_calls:,} calls + {CEILING_SLACK}, "
                                      f"as `synthc plan` states{earlier}; to allow more, pass --max-calls N with N above "
                                      f"{b.max_calls:,} (it counts every call the build paid for)",
                           max_calls=b.max_calls, paid_calls=self.started)
        return Stopped("budget", f"--max-calls {b.max_calls} reached ({why}){earlier}; it counts every call the "
                                 f"build paid for: pass a larger N to allow more",
                       max_calls=b.max_calls, paid_calls=self.started)

    def new_round(self) -> None:
        self.round_done = self.round_failed = 0

    def answered(self) -> None:
        self.round_done += 1

    def failed(self, e: CallError, calls_ok: int, failed_calls: int, round_number: int) -> None:
        self.round_done += 1
        self.round_failed += 1
        self.last_error = e.message
        if e.kind in ("auth", "embedded", "offline"):  # no later call can do better
            self.halt(Stopped("endpoint", e.message))
        elif self.round_done >= BREAKER_MIN and self.round_failed >= BREAKER_SHARE * self.round_done:
            self.halt(Stopped("endpoint", self.breaker_message(round_number)))
        elif calls_ok == 0 and failed_calls >= FIRST_FAILURES:
            self.halt(Stopped("endpoint", f"the first {failed_calls} calls all failed; last error: {e.message}"))

    def endpoint_down(self) -> bool:
        return bool(self.round_failed) and self.round_failed >= BREAKER_SHARE * self.round_done

    def breaker_message(self, round_number: int) -> str:
        return (f"{self.round_failed} of {self.round_done} calls of round {round_number} failed; "
                f"last error: {self.last_error}")

    def low_yield(self, prompt: str, rows: tuple[tuple[int, int, str], ...], number: int) -> Optional[Stopped]:
        """The yield breaker over (rows asked, rows lost, scope) figures of one prompt."""
        floor = self.budget.min_yield
        for n, bad, scope in rows:
            if floor <= 0 or n < YIELD_MIN_ROWS or (n - bad) / n >= floor:
                continue
            return Stopped("yield", f"prompt {prompt}: {n - bad} of {n} rows answered in {scope} were accepted "
                                    f"({(n - bad) / n:.0%}, below the {floor:.0%} floor of --min-yield); more "
                                    "top-ups would pay for answers the build cannot use",
                           prompt=prompt, rows_asked=n, rows_accepted=n - bad, yield_rate=round((n - bad) / n, 4),
                           min_yield=floor, round=number)
        return None

    def forecast(self, short: int, judged: int, accepted: int, number: int) -> Optional[Stopped]:
        """Before a top-up: the strata it would ask for accepted `accepted` of `judged` rows so far; below the
        floor the next round would mostly pay for answers the build cannot use."""
        floor = self.budget.min_yield
        if floor <= 0 or judged < YIELD_MIN_ROWS or accepted / judged >= floor:
            return None
        return Stopped("yield", f"the {short:,} strat{'a' if short != 1 else 'um'} still short of rows accepted "
                                f"{accepted:,} of the {judged:,} rows judged in them ({accepted / judged:.0%}, below "
                                f"the {floor:.0%} floor of --min-yield); a top-up round would mostly pay for answers "
                                "the build cannot use", rows_asked=judged, rows_accepted=accepted,
                       yield_rate=round(accepted / judged, 4), min_yield=floor, round=number, strata_short=short)
