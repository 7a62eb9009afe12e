"""Where the engine's answers come from. The engine (generate.executor) builds every request the same way and
hands it to a source:

ClientSource  a build: the answer cache first, else a call through the client (admitted by the call guard,
              counted, stored the moment it arrives by run.fetch); None when the call failed or was not made.
CacheSource   a prediction (`plan`, `diff`, `plan --emit-batch`, `ingest`): the cache alone; UNKNOWN when the
              cache lacks the answer. It records every call the round would make (PredictedCall).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ..plan.model import PromptPlan
from ..plan.requests import URL
from ..run.cache import AnswerCache
from ..run.client import Answer, CallError
from ..run.fetch import fetch

UNKNOWN = object()  # an answer nobody has yet: its rows' outputs are unknown, not wrong


class _OfflineClient:
    """Stands in for the client under --offline. The source counts cache misses instead of asking it; fetch
    asks it only for an entry it cannot read (another cache version)."""

    def __init__(self, endpoint: str):
        self.endpoint = endpoint

    async def complete(self, body):
        raise CallError("--offline: a cached answer could not be read and no call may be made", kind="offline")


def offline_client(identity: str) -> _OfflineClient:
    return _OfflineClient(identity)


class ClientSource:
    """Answers through the cache and the client; the engine's `guard` admits each call that costs money."""

    def __init__(self, client, cache: AnswerCache, offline: bool = False, ledger=None, pending: Optional[list] = None):
        self.client, self.cache, self.offline = client, cache, offline
        self.ledger = ledger  # run.ledger.Ledger: each paid call is recorded the moment its answer is stored
        # A build after `ingest` (batch mode, offline): the calls the cache lacks are not made but collected
        # here, within the budget, as the lines of the next batch.
        self.pending = pending
        self.identity = client.endpoint

    async def answer(self, engine, pp: PromptPlan, call_id: str, rows: int, key: Optional[str],
                     body: Optional[dict]):
        profile = engine.plan.profile_of(pp)
        guard, counters = engine.guard, engine.counters
        reserve = 0.0
        if self.cache.get(key) is None:
            if self.offline:
                if self.pending is not None:
                    reserve = guard.admit(pp, rows, body, profile, counters.cost_usd)
                    if reserve is None:
                        return None
                    guard.release(reserve)
                    self.pending.append({"custom_id": call_id, "method": "POST", "url": URL, "body": body})
                guard.offline_misses += 1
                return None
            reserve = guard.admit(pp, rows, body, profile, counters.cost_usd)
            if reserve is None:
                return None
        try:
            answer, from_cache = await fetch(self.client, self.cache, body)
        except CallError as e:
            guard.release(reserve)
            counters.failed_calls += 1
            guard.failed(e, counters.calls, counters.failed_calls, counters.rounds)
            engine.progress.call(False, None, None)
            return None
        guard.release(reserve)
        if not from_cache and self.ledger is not None:
            self.ledger.record(key, answer.prompt_tokens, answer.completion_tokens)
        engine.count(answer, from_cache, profile, key)
        return answer


@dataclass(frozen=True)
class PredictedCall:
    """key: the request's cache key, body: the request; both None when it depends on an answer not made yet."""

    prompt: str
    id: str
    rows: int
    key: Optional[str]
    cached: bool
    body: Optional[dict] = None


@dataclass
class CacheSource:
    """Answers from the cache alone, recording each call in the order the round makes it."""

    cache: Optional[AnswerCache]
    identity: str
    calls: list[PredictedCall] = field(default_factory=list)

    async def answer(self, engine, pp: PromptPlan, call_id: str, rows: int, key: Optional[str],
                     body: Optional[dict]):
        answer = _cached(self.cache, key) if key is not None else None
        self.calls.append(PredictedCall(pp.prompt, call_id, rows, key, answer is not None, body))
        return UNKNOWN if answer is None else answer


def _cached(cache: Optional[AnswerCache], key: str) -> Optional[Answer]:
    stored = cache.get(key) if cache is not None else None
    if stored is None:
        return None
    try:
        return Answer.from_dict(stored)
    except TypeError:  # an entry from an incompatible version: the build asks again (run.fetch)
        return None
