"""Who runs the grid points beyond one machine: a Dask cluster (the second runner beside DVC's queue).

The sweep's process plans the points (pipeline/sweep/grid.py, the same names as the local queue), checks that
the workers can get exactly this code (the commit is on the git remote, the pipeline's files are
committed, a default DVC remote exists, the tracking store is a shared one), then submits each point as
one Dask task (pipeline/sweep/cluster/task.py) and updates the same PointState table as the local sweep. Dask
reschedules a task whose worker died on a surviving worker; the task is idempotent, and the MLflow run is
keyed by the point's inputs, so a killed attempt is continued by the next, never counted twice.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.core.errors import ClusterError, TrackingError
from pipeline.core.identity import inputs_digest
from pipeline.sweep.grid import GridPoint
from pipeline.sweep.plan import CACHED, FAILED, FINAL, QUEUED, RUNNING, SUCCESS, PointState
from pipeline.tracking.store import ensure_store, redact, tracking_uri


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    if done.returncode != 0:
        raise ClusterError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


def sweep_source(root: Path, remote: str) -> tuple[str, str]:
    """(git remote URL, commit) the workers will clone: HEAD, which must be committed and pushed."""
    url = _git(root, "remote", "get-url", remote) if remote in _git(root, "remote").split() else remote
    if _git(root, "status", "--porcelain", "--untracked-files=no"):
        raise ClusterError("the working tree has uncommitted changes: workers run committed code, commit them first")
    commit = _git(root, "rev-parse", "HEAD")
    heads = _git(root, "ls-remote", url)
    if not any(line.split()[0] == commit for line in heads.splitlines()):
        raise ClusterError(f"commit {commit[:12]} is not on the git remote {remote}: push it first (git push)")
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        default_remote = repo.config["core"].get("remote")
    if not default_remote:
        raise ClusterError(
            "no default DVC remote: workers push their outputs there (dvc remote add -d NAME URL, then commit .dvc/config)"
        )
    return url, commit


def shared_tracking_uri(root: Path) -> str:
    """The tracking URI every worker logs to: MLFLOW_TRACKING_URI, a server or database all can reach."""
    uri = tracking_uri(root)
    if uri.startswith(("sqlite:", "file:")) or "://" not in uri:
        raise TrackingError(
            f"a cluster sweep needs a shared MLflow store, not {redact(uri)}: start `vae-pipe server` and set "
            "MLFLOW_TRACKING_URI=http://HOST:PORT"
        )
    ensure_store(root)
    return uri


def plan(root: Path, grid: list[GridPoint]) -> list[PointState]:
    """Every point (checked by `check_grid`) with the local sweep's experiment name.
    Whether a point is done already is for its worker to find (on the git remote), not guessed here."""
    digest = inputs_digest(root)
    states = []
    for point in grid:
        name = point.exp_name(digest)
        states.append(PointState(point, name, QUEUED))
    return states


def connect(address: str | None, scheduler_file: Path | None) -> Any:
    """A Dask client of the scheduler at `address` (tcp://HOST:PORT) or named in `scheduler_file`."""
    from distributed import Client

    try:
        if scheduler_file is not None:
            return Client(scheduler_file=str(scheduler_file), timeout="20s")
        return Client(address, timeout="20s")
    except (OSError, TimeoutError, ValueError) as error:
        where = scheduler_file or address
        raise ClusterError(f"no Dask scheduler at {where}: {error}") from None


def worker_count(dask_client: Any) -> int:
    return max(1, len(dask_client.scheduler_info().get("workers", {})))


def run_cluster(
    dask_client: Any,
    root: Path,
    states: list[PointState],
    sweep: str,
    remote: str,
    threads: int,
    on_update: Callable[[list[PointState]], None],
    poll_seconds: float = 1.0,
) -> None:
    """Submit every pending point as one Dask task and wait until each is final."""
    from pipeline.sweep.cluster.task import PointTask, run_point

    url, commit = sweep_source(root, remote)
    uri = shared_tracking_uri(root)
    futures = {}
    for s in states:
        if s.state != QUEUED:
            continue
        task = PointTask(url, commit, s.name, tuple(s.point.set_params), sweep, uri, threads)
        # pure=False with a stable key: the same point is one task, also when submitted twice.
        futures[dask_client.submit(run_point, task, key=f"vae-pipe-{sweep}-{s.name}", pure=False)] = s
    on_update(states)
    try:
        _wait(dask_client, states, futures, on_update, poll_seconds)
    except KeyboardInterrupt:
        dask_client.cancel(list(futures))  # running points stop within a second (cluster_task._cancelled)
        raise


def _wait(
    dask_client: Any,
    states: list[PointState],
    futures: dict[Any, PointState],
    on_update: Callable[[list[PointState]], None],
    poll_seconds: float,
) -> None:
    from distributed import as_completed

    from pipeline.sweep.cluster.task import STARTED_TOPIC

    by_name = {s.name: s for s in states}
    pending = as_completed(list(futures), with_results=False)
    seen_events = 0
    while any(s.state not in FINAL for s in states):
        events = dask_client.get_events(STARTED_TOPIC)
        for _, event in list(events)[seen_events:]:
            started = by_name.get(event.get("name"))
            if started is not None and started.state not in FINAL:
                started.state, started.started = RUNNING, started.started or time.time()
        seen_events = len(events)
        for future in pending.next_batch(block=False) if pending.has_ready() else []:
            _finish(futures[future], future)
        on_update(states)
        time.sleep(poll_seconds)
    on_update(states)


def _finish(s: PointState, future: Any) -> None:
    now = time.time()
    s.started = s.started or now
    s.finished = now
    try:
        result = future.result()
    except Exception as error:  # the task itself raised (Dask gave up after lost workers)
        s.state, s.error = FAILED, f"{type(error).__name__}: {error}"
        return
    s.run_id, s.error = result.run_id, result.error
    s.state = {"done": SUCCESS, "done before": CACHED}.get(result.state, FAILED)
