"""A sweep's points and their states, shared by every runner (DVC's local queue, a Dask cluster)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.sweep.grid import GridPoint

QUEUED, RUNNING, SUCCESS, FAILED, CACHED = "queued", "running", "done", "failed", "done before"
FINAL = {SUCCESS, FAILED, CACHED}


@dataclass
class PointState:
    point: GridPoint
    name: str
    state: str
    error: str = ""
    started: float | None = None
    finished: float | None = None
    run_id: str | None = None
    in_queue: bool = False  # already in DVC's queue (an earlier sweep's): never queued again


def finished_experiments(root: Path) -> dict[str, str]:
    """{experiment name: commit} of the successful experiments on any baseline: a sweep stays whole when
    someone commits while it runs."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        listed = repo.experiments.ls(all_commits=True)
    return {name: sha for entries in listed.values() for name, sha in entries if sha}
