"""Build progress: rich bars on a terminal (calls done/total, rows accepted/needed, tokens, cost, ETA), plain
lines otherwise (one per round). Terminal output only: nothing here reaches a file."""

from __future__ import annotations

import sys
from typing import Optional

from ..run.client import Answer


def _tokens(n: int) -> str:
    return f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.1f}k" if n >= 1e4 else str(n)


class _Tally:
    def __init__(self):
        self.number = 0
        self.calls = self.done = self.cached = self.failed = 0
        self.tokens = 0
        self.cost: Optional[float] = 0.0
        self.accepted = self.needed = 0

    def call(self, from_cache: bool, answer: Optional[Answer], cost: Optional[float]) -> None:
        self.done += 1
        if answer is None:
            self.failed += 1
        elif from_cache:
            self.cached += 1
        else:
            self.tokens += answer.prompt_tokens + answer.completion_tokens
            self.cost = None if cost is None or self.cost is None else self.cost + cost

    def rows_text(self) -> str:
        """Rows accepted of rows needed; before any row came back (every call failed) there is no ratio to show."""
        if not self.needed:
            return "no rows received yet"
        return f"{self.accepted}/{self.needed} rows accepted"

    def cost_text(self) -> str:
        return "cost unknown" if self.cost is None else f"${self.cost:.4f}"


class PlainProgress(_Tally):
    """One line per round on stderr, for logs and CI."""

    def __init__(self, stream=None):
        super().__init__()
        self.stream = stream or sys.stderr

    def round(self, number: int, calls: int) -> None:
        self._line()
        self.number, self.calls, self.done, self.cached, self.failed = number, calls, 0, 0, 0

    def rows(self, accepted: int, needed: int) -> None:
        self.accepted, self.needed = accepted, needed

    def _line(self) -> None:
        if self.number:
            extra = "".join(f", {n} {w}" for n, w in ((self.cached, "from cache"), (self.failed, "failed")) if n)
            print(f"synthc: round {self.number}: {self.done} of {self.calls} calls{extra}; "
                  f"{self.rows_text()}; {_tokens(self.tokens)} tokens, {self.cost_text()}",
                  file=self.stream, flush=True)

    def close(self) -> None:
        self._line()
        self.number = 0


class RichProgress(_Tally):
    """Two bars on a rich console: the round's calls and the rows accepted toward the quotas."""

    def __init__(self, console):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        super().__init__()
        self._bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                              TextColumn("{task.fields[info]}"), TimeRemainingColumn(), console=console,
                              transient=False)
        self._calls = self._bars.add_task("calls", total=None, info="")
        self._rows = self._bars.add_task("rows accepted", total=None, info="")
        self._bars.start()

    def round(self, number: int, calls: int) -> None:
        self.number, self.calls, self.done, self.cached, self.failed = number, calls, 0, 0, 0
        self._bars.reset(self._calls, total=calls, description=f"round {number} calls", info=self._info())

    def call(self, from_cache, answer, cost) -> None:
        super().call(from_cache, answer, cost)
        self._bars.update(self._calls, completed=self.done, info=self._info())

    def rows(self, accepted: int, needed: int) -> None:
        self.accepted, self.needed = accepted, needed
        self._bars.update(self._rows, completed=accepted, total=needed)

    def _info(self) -> str:
        extra = f", {self.cached} cached" if self.cached else ""
        extra += f", {self.failed} failed" if self.failed else ""
        return f"{_tokens(self.tokens)} tok, {self.cost_text()}{extra}"

    def close(self) -> None:
        self._bars.stop()


def make_progress(console):
    """Rich bars when the console is a terminal, plain lines otherwise."""
    return RichProgress(console) if console.is_terminal else PlainProgress(console.file)
