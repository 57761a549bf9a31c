"""One stage at a time per workspace, on the params it started with; one sweep at a time per repository.

DVC runs one pipeline per workspace, but nothing stops two `dvc exp run -S beta=…` started together in one
workspace: each rewrites params.yaml while the other's stage runs, and a stage would train at another's β and
record it as its own. A stage therefore holds the workspace's stage lock while it runs, and checks that
params.yaml still holds what it read before it writes an output or a record. Queued experiments, sweeps
and cluster workers each run in a copy of the repository of their own, so they never meet here. Two sweeps
started together would each queue the points their grids share; the second waits for the first instead.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from pipeline.core.errors import WorkspaceError

STAGE_LOCK = Path(".dvc") / "tmp" / "vae-pipe-stage.lock"  # DVC's own folder of git-ignored run-time files
SWEEP_LOCK = Path(".dvc") / "tmp" / "vae-pipe-sweep.lock"
ONE_AT_A_TIME = "run one experiment at a time in a workspace, or queue them (`dvc exp run --queue`, `vae-pipe sweep`)"


@dataclass(frozen=True)
class _Started:
    stage: str
    params_file: Path
    digest: str


_started: _Started | None = None  # the stage this process runs: one per process (python -m pipeline.stages)


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return "(missing)"


def _lock(lock_path: Path, holder: str, wait: Callable[[str], None] | None) -> TextIO:
    """The open, locked file (its text names the holder). When another holds it: _Busy without `wait`; with
    `wait`, it is told who holds the lock and the lock is waited for."""
    handle = lock_path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        other = handle.read().strip() or "another process"
        if wait is None:
            handle.close()
            raise _Busy(other) from None
        wait(other)
        fcntl.flock(handle, fcntl.LOCK_EX)
    handle.truncate(0)
    handle.write(f"{holder}, pid {os.getpid()}\n")
    handle.flush()
    return handle


class _Busy(Exception):
    def __init__(self, holder: str) -> None:
        self.holder = holder


def _release(handle: TextIO) -> None:
    handle.truncate(0)
    handle.close()  # closing releases the lock


@contextmanager
def stage_guard(root: Path, stage: str, params_file: Path) -> Iterator[None]:
    """Hold the workspace's stage lock (WorkspaceError at once if another stage holds it) and remember the
    params file as read, for `check_params_unchanged`. Without a DVC repository there is no lock to take."""
    global _started
    handle = None
    if (root / STAGE_LOCK).parent.is_dir():
        try:
            handle = _lock(root / STAGE_LOCK, stage, wait=None)
        except _Busy as busy:
            raise WorkspaceError(
                f"{root}: another vae-pipe stage ({busy.holder}) is running in this workspace; {ONE_AT_A_TIME}"
            ) from None
    _started = _Started(stage, params_file.resolve(), _digest(params_file))
    try:
        yield
    finally:
        _started = None
        if handle is not None:
            _release(handle)


@contextmanager
def sweep_guard(root: Path, sweep: str, on_wait: Callable[[str], None]) -> Iterator[None]:
    """One sweep at a time per repository: a second one waits (told by `on_wait` whom for) and then plans,
    finding the points the first ran as done, so overlapping grids never queue a point twice."""
    (root / SWEEP_LOCK).parent.mkdir(parents=True, exist_ok=True)
    handle = _lock(root / SWEEP_LOCK, f"sweep {sweep}", wait=on_wait)
    try:
        yield
    finally:
        _release(handle)


def check_params_unchanged() -> None:
    """WorkspaceError when the params file changed since this process's stage read it; called before a
    stage writes an output or a record, so neither ever holds params the stage did not run with."""
    if _started is not None and _digest(_started.params_file) != _started.digest:
        raise WorkspaceError(
            f"{_started.params_file.name} changed while the {_started.stage} stage ran (another process wrote it): "
            f"nothing more was written or recorded; {ONE_AT_A_TIME}"
        )
