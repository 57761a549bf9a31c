"""A sweep's points and their states, shared by every runner (DVC's local queue, a Dask cluster)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def one_sweep_at_a_time(root: Path, sweep: str) -> Iterator[None]:
    """The repository's sweep lock (pipeline/core/workspace.py) for a sweep that runs: a second sweep says
    whom it waits for; Ctrl-C while it waits stops it with nothing queued."""
    import typer

    from pipeline.core.workspace import sweep_guard

    def waiting(holder: str) -> None:
        typer.secho(
            f"waiting for {holder} to finish in this repository (one sweep at a time: a point both grids "
            "hold then runs once, and this sweep finds it done)",
            fg="yellow",
            err=True,
        )

    entered = False
    try:
        with sweep_guard(root, sweep, waiting):
            entered = True
            yield
    except KeyboardInterrupt:
        if entered:
            raise
        typer.secho("interrupted while waiting for the other sweep: nothing was queued", fg="yellow", err=True)
        raise typer.Exit(130) from None
