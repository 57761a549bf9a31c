"""Reading DVC's queue cheaply while a sweep waits on it.

DVC's `queue status` (what `dvc queue status` and `celery_queue.status()` run) decodes every processed
message of the repository's whole queue history, and for each finished one looks up its result by decoding
them all again: its cost grows with the square of every experiment ever queued in the repository, and a
sweep that called it every 2 s with a fresh `Repo` spent most of its own CPU there (benchmarks/README.md,
"The sweep process"). A waiting sweep needs less: which of its points are queued and which are running.
A point that is neither has finished; whether it succeeded is read from the experiment refs once, when it
leaves the queue (an experiment that succeeded has a ref by its name; a failed one has none).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

QUEUED, RUNNING, DONE = "Queued", "Running", "Done"
# A kept-open repo's poll got dearer while tasks ran (2 ms → 38 ms over 500 polls, something in DVC's or
# celery's objects accumulates): opened afresh every this many polls, so the cost stays near the start's.
REOPEN_EVERY = 30


class QueueWatch:
    """One DVC `Repo` (and its celery app) kept open over many polls, instead of one per poll."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._polls = 0
        self._open()

    def _open(self) -> None:
        from dvc.repo import Repo

        self._repo: Any = Repo(str(self._root))
        self._queue = self._repo.experiments.celery_queue

    @property
    def queue(self) -> Any:
        """DVC's celery queue of the repository (the current one: it is reopened now and then)."""
        return self._queue

    def close(self) -> None:
        self._repo.close()

    def __enter__(self) -> QueueWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def active(self) -> dict[str, str]:
        """{name: Queued | Running} of every experiment the queue holds now (any sweep's). Queued is read
        before running: a point a worker picks up in between shows as running, never as neither."""
        self._polls += 1
        if self._polls % REOPEN_EVERY == 0:
            self.close()
            self._open()
        queued = {entry.name: QUEUED for entry in self._queue.iter_queued()}
        return queued | {entry.name: RUNNING for entry in self._queue.iter_active()}

    def states(self, names: set[str]) -> dict[str, str]:
        """{name: Queued | Running | Done} for `names`."""
        active = self.active()
        return {name: active.get(name, DONE) for name in names}


def split_done(done: list[str], finished: Callable[[], dict[str, str]]) -> tuple[list[str], list[str]]:
    """(succeeded, failed) among points that left the queue; `finished` lists the experiments with a
    commit (called only when there is something to split)."""
    if not done:
        return [], []
    committed = finished()
    return [name for name in done if name in committed], [name for name in done if name not in committed]
