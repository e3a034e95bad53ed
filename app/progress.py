"""Progress of long commands (`scn mirror`, `scn load`, `scn synth`, `scn export`).

On a terminal: a bar (rich) with done/total, the rate and the time left. Otherwise (a log, a
pipe, cron): a plain line every PROGRESS_INTERVAL_ENV seconds (default 10), and one when the step
ends, so a log of a million-record run stays a few dozen lines long.

    tracker = Tracker("scn mirror", sys.stderr)
    with tracker.step("snapshot", total=945_484) as step:
        for record in records:
            ...
            step.advance()
"""

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress
from rich.text import Text

PROGRESS_INTERVAL_ENV = "SCN_PROGRESS_INTERVAL"
DEFAULT_INTERVAL = 10.0  # seconds between plain progress lines
BAR_UPDATE = 0.1  # seconds between updates of a bar (advance() is called once per record)


def plain_interval() -> float:
    value = os.environ.get(PROGRESS_INTERVAL_ENV)
    return float(value) if value else DEFAULT_INTERVAL


def duration(seconds: float) -> str:
    """1 h 02 min, 3 min 07 s, 12.4 s."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class _RateColumn(ProgressColumn):
    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} {self.unit}/s" if speed else f"- {self.unit}/s")


class Step:
    """One step's progress: call `advance` as work is done (cheap: it rarely draws)."""

    def __init__(
        self, tracker: "Tracker", label: str, total: int | None, unit: str, quiet: bool
    ) -> None:
        self.tracker, self.label, self.total, self.unit = tracker, label, total, unit
        self.quiet = quiet
        self.done = 0
        self.started = time.monotonic()
        self._next_check = self.started
        self._last_line = (self.started, 0)
        self._bar: RichProgress | None = None
        self._task = None
        if tracker.terminal and not quiet:
            self._bar = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                _RateColumn(unit),
                TextColumn("left"),
                TimeRemainingColumn(),
                TextColumn("elapsed"),
                TimeElapsedColumn(),
                console=tracker.console,
            )
            self._task = self._bar.add_task(label, total=total)
            self._bar.start()

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    def advance(self, count: int = 1) -> None:
        self.done += count
        now = time.monotonic()
        if now >= self._next_check:
            self._show(now)

    def set_total(self, total: int | None) -> None:
        self.total = total
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, total=total)

    def set_done(self, done: int) -> None:
        self.done = done
        self.advance(0)

    def _show(self, now: float) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=self.done)
            self._next_check = now + BAR_UPDATE
            return
        if self.quiet:
            self._next_check = float("inf")
            return
        since, done_then = self._last_line
        interval = plain_interval()
        if now - since < interval:
            self._next_check = since + interval
            return
        rate = (self.done - done_then) / (now - since)  # over the last interval: current speed
        self._last_line = (now, self.done)
        self._next_check = now + interval
        self.tracker.say(
            f"{self.label}: {self._count()}, {rate:,.0f} {self.unit}/s{self._left(rate)}"
        )

    def _count(self) -> str:
        if self.total:
            share = 100 * self.done / self.total
            return f"{self.done:,} of {self.total:,} {self.unit} ({share:.1f}%)"
        return f"{self.done:,} {self.unit}"

    def _left(self, rate: float) -> str:
        if not self.total or rate <= 0:
            return ""
        return f", {duration(max(self.total - self.done, 0) / rate)} left"

    def close(self, *, completed: bool = True) -> None:
        """End the step; when it completed, say how much it did, how fast."""
        if self._bar is not None and self._task is not None:
            total = (self.total or self.done) if completed else self.total
            self._bar.update(self._task, completed=self.done, total=total)
            self._bar.stop()
            self._bar = None
        elif completed and not self.quiet:
            seconds = self.seconds
            self.tracker.say(
                f"{self.label}: {self.done:,} {self.unit} in {duration(seconds)}, "
                f"{self.done / max(seconds, 1e-9):,.0f} {self.unit}/s"
            )


class Tracker:
    """Progress steps and messages of one command, on one stream (standard error)."""

    def __init__(self, prefix: str, stream: TextIO | None = None, *, quiet: bool = False) -> None:
        self.prefix = prefix
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.console = Console(file=self.stream, highlight=False)
        self.terminal = self.console.is_terminal and not self.console.is_dumb_terminal

    def say(self, message: str) -> None:
        """A line of its own (above a bar that is showing)."""
        if self.quiet:
            return
        line = f"{self.prefix}: {message}"
        if self.terminal:
            self.console.print(line, markup=False, soft_wrap=True)
        else:
            print(line, file=self.stream, flush=True)

    @contextmanager
    def step(self, label: str, total: int | None = None, unit: str = "records") -> Iterator[Step]:
        step = Step(self, label, total, unit, self.quiet)
        try:
            yield step
        except BaseException:
            step.close(completed=False)
            raise
        step.close()


QUIET = Tracker("scn", quiet=True)
"""For library calls that show nothing."""
