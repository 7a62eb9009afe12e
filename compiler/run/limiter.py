"""Adaptive concurrency (AIMD): halve the number of calls in flight on a 429, add one back after a run of successes."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import AsyncIterator, Optional


class AdaptiveLimiter:
    """At most `limit` holders at once, `limit` moving between 1 and `max_limit`.

    A slot yields the limiter's epoch at entry; a throttle only cuts when its call started in the current
    epoch, so a burst of 429s from calls that were all in flight together halves the limit once, not once each.
    """

    def __init__(self, max_limit: int, grow_after: int = 10):
        if max_limit < 1:
            raise ValueError("max_limit must be at least 1")
        self.max_limit = max_limit
        self.limit = max_limit
        self.grow_after = max(1, grow_after)
        self.in_flight = 0
        self.peak = 0  # the most holders seen at once (for tests and reports)
        self.epoch = 0
        self._successes = 0
        self._cond: Optional[asyncio.Condition] = None

    def _condition(self) -> asyncio.Condition:
        if self._cond is None:  # created on first use so it binds to the running loop
            self._cond = asyncio.Condition()
        return self._cond

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[int]:
        cond = self._condition()
        async with cond:
            await cond.wait_for(lambda: self.in_flight < self.limit)
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            epoch = self.epoch
        try:
            yield epoch
        finally:
            async with cond:
                self.in_flight -= 1
                cond.notify_all()

    def success(self) -> None:
        """One call succeeded: after `grow_after` in a row (since the last change), allow one more in flight."""
        self._successes += 1
        if self._successes >= self.grow_after and self.limit < self.max_limit:
            self.limit += 1
            self._successes = 0

    def throttle(self, epoch: int) -> None:
        """A call that started in `epoch` was told to slow down (429)."""
        self._successes = 0
        if epoch == self.epoch:
            self.limit = max(1, self.limit // 2)
            self.epoch += 1
