"""What `vae-pipe sweep` shows: a live table of grid points and an overall ETA, then the failures."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.live import Live
from rich.table import Table

from pipeline.sweep.plan import CACHED, FAILED, FINAL, RUNNING, SUCCESS, PointState
from pipeline.sweep.progress import Training

_STYLE = {SUCCESS: "green", CACHED: "green", FAILED: "red", RUNNING: "yellow"}


Trainings = Callable[[set[str]], dict[str, Training]]


class SweepView:
    def __init__(
        self,
        sweep: str,
        jobs: int,
        threads: int,
        trainings: Trainings | None = None,
        progress_every: float = 60.0,
    ) -> None:
        """`trainings`: reads the running points' training progress (pipeline/sweep/progress.py), printed
        every `progress_every` seconds when the output is not a terminal."""
        self.sweep, self.jobs, self.threads = sweep, jobs, threads
        self.console = Console(stderr=True)
        self.started = time.time()
        self.trainings, self.progress_every = trainings, progress_every
        self._last_progress = self.started

    def _eta(self, states: list[PointState]) -> str:
        durations = [s.finished - s.started for s in states if s.state == SUCCESS and s.started and s.finished]
        left = sum(s.state not in FINAL for s in states)
        if not left:
            return "finished"
        if not durations:
            return "eta: after the first experiment"
        return f"eta {left * sum(durations) / len(durations) / self.jobs:.0f} s"

    def _title(self, states: list[PointState]) -> str:
        done = sum(s.state in FINAL for s in states)
        elapsed = time.time() - self.started
        return (
            f"{self.sweep}: {done}/{len(states)} final, {elapsed:.0f} s, {self._eta(states)} "
            f"({self.jobs} worker(s) × {self.threads} thread(s))"
        )

    def table(self, states: list[PointState]) -> Table:
        table = Table(title=self._title(states))
        for column in ("grid point", "DVC experiment", "state", "time"):
            table.add_column(column)
        for s in states:
            seconds = f"{(s.finished or time.time()) - s.started:.0f} s" if s.started else ""
            style = _STYLE.get(s.state, "")
            table.add_row(s.point.label, s.name, f"[{style}]{s.state}[/]" if style else s.state, seconds)
        return table

    def print_table(self, states: list[PointState]) -> None:
        self.console.print(self.table(states))

    @contextmanager
    def live(self) -> Iterator[Callable[[list[PointState]], None]]:
        if not self.console.is_terminal:
            last: dict[str, str] = {}
            latest: list[list[PointState]] = [[]]

            def log_changes(states: list[PointState]) -> None:
                latest[0] = states
                for s in states:
                    if last.get(s.name) != s.state:
                        last[s.name] = s.state
                        self.console.print(f"{s.point.label} ({s.name}): {s.state}", highlight=False, soft_wrap=True)
                if time.time() - self._last_progress >= self.progress_every:
                    self._last_progress = time.time()
                    self.print_progress(states)

            yield log_changes
            self.print_table(latest[0])
            return
        with Live(console=self.console, refresh_per_second=2) as live:
            yield lambda states: live.update(self.table(states))

    def print_progress(self, states: list[PointState]) -> None:
        """A log's periodic lines: the sweep's title, then each running point's step, images/s and eta."""
        running = {s.name: s for s in states if s.state == RUNNING}
        if not running:
            return
        self.console.print(self._title(states), highlight=False, soft_wrap=True)
        try:
            trainings = self.trainings(set(running)) if self.trainings else {}
        except Exception as error:  # progress is a courtesy: a store hiccup must not end the sweep
            trainings, note = {}, f" (training progress unavailable: {type(error).__name__})"
        else:
            note = ""
        for name, s in running.items():
            seconds = f"{time.time() - s.started:.0f} s" if s.started else ""
            training = trainings[name].describe() if name in trainings else f"not training yet{note}"
            self.console.print(
                f"  {s.point.label} ({name}): running {seconds}, {training}", highlight=False, soft_wrap=True
            )

    def note(self, text: str) -> None:
        """One line about the sweep itself (not a point), above the live table or in the log."""
        self.console.print(text, style="yellow", highlight=False, soft_wrap=True)

    def print_failures(self, failed: list[PointState]) -> None:
        for s in failed:
            self.console.print(f"[red]failed:[/] {s.point.label} ({s.name})", soft_wrap=True)
            if s.error:
                self.console.print(s.error, markup=False, highlight=False, soft_wrap=True)
