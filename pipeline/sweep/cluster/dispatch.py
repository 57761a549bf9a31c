"""What a sweep on a lab's Dask cluster needs beyond the local one: the scheduler, and workers that can get
exactly this code (the commit is on the git remote, the pipeline's files are committed, a default DVC
remote exists, the tracking store is a shared one). Points go out through the same dispatch as the local
sweep's (pipeline/sweep/dispatch.py), as the task in pipeline/sweep/cluster/task.py. Dask reschedules a
task whose worker died on a surviving worker; the task is idempotent, and the MLflow run is keyed by the
point's inputs, so a killed attempt is continued by the next, never counted twice.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from pipeline.core.errors import ClusterError, TrackingError
from pipeline.core.identity import inputs_digest
from pipeline.sweep.grid import GridPoint
from pipeline.sweep.plan import QUEUED, PointState
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
