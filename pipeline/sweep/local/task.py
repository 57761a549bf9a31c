"""One grid point on this machine, as a task of the sweep's own Dask `LocalCluster`: `dvc exp run --temp`
in the repository (DVC copies the workspace, tracked edits included, into .dvc/tmp/exps and commits the
experiment back), then the point's MLflow run checked against its outputs and tagged with the sweep.

Only DVC's command line is used, which DVC documents. Concurrent points queue on DVC's repository lock
(`--wait-for-lock`) for the moments they touch it, and train in parallel.

A point's lock file is held by its `dvc exp run` process itself (the descriptor is passed to it): a point
that outlives its sweep (the sweep was killed) still holds it, so a second sweep waits for it instead of
training the same point twice, then finds it done.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from dataclasses import dataclass
from pathlib import Path

from pipeline.sweep.point import (
    NOTE_TOPIC,
    STARTED_TOPIC,
    PointFailed,
    PointResult,
    announce,
    cancelled,
    point_environment,
    record_point,
    run_dvc,
    worker_name,
)

POINTS = Path(".dvc") / "tmp" / "vae-pipe-points"  # per point: NAME.log (every attempt's DVC output), NAME.lock


@dataclass(frozen=True)
class LocalPoint:
    root: str  # the repository
    name: str  # the DVC experiment's name (stable per point and inputs)
    set_params: tuple[str, ...]  # `-S key=value` arguments
    sweep: str
    threads: int = 1


def point_log(root: Path, name: str) -> Path:
    return root / POINTS / f"{name}.log"


def run_local_point(task: LocalPoint) -> PointResult:
    """Run one grid point here; a failure is returned, not raised, so the sweep names it and the other
    points go on."""
    from pipeline.tracking.store import scrub, tracking_uri

    worker = worker_name()
    try:
        return _run(task, worker)
    except Exception as error:
        return PointResult(task.name, "failed", error=scrub(str(error), tracking_uri(Path(task.root))), worker=worker)


def _run(task: LocalPoint, worker: str) -> PointResult:
    root = Path(task.root)
    log = point_log(root, task.name)
    log.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(log.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    env = point_environment(root, None, task.threads)
    try:
        if not _locked(descriptor):
            announce(NOTE_TOPIC, {"text": f"{task.name}: waiting for an earlier sweep's run of this point to end"})
            _wait_for_lock(descriptor)
            with contextlib.suppress(PointFailed):  # it finished: record it; if not, run it
                run_id = record_point(root, task.name, None, task.sweep, env)
                return PointResult(task.name, "done before", run_id=run_id, worker=worker)
        announce(STARTED_TOPIC, {"name": task.name, "worker": worker})
        sets = [arg for item in task.set_params for arg in ("-S", item)]
        try:
            run_dvc(root, env, log, "exp", "run", "--temp", "--name", task.name, *sets, pass_fds=(descriptor,))
        except PointFailed as failed:
            raise PointFailed(f"{failed}\n(the whole log: {log.relative_to(root)})") from None
        return PointResult(
            task.name, "done", run_id=record_point(root, task.name, None, task.sweep, env), worker=worker
        )
    finally:
        os.close(descriptor)  # a `dvc exp run` still running keeps its own copy, and the lock


def _locked(descriptor: int) -> bool:
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _wait_for_lock(descriptor: int, poll_seconds: float = 1.0) -> None:
    while not _locked(descriptor):
        if cancelled():
            raise PointFailed("cancelled by the sweep while an earlier run of the point went on")
        time.sleep(poll_seconds)
