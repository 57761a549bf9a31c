"""`vae-pipe sweep --cluster`: the local sweep's flow and dispatch (pipeline/sweep/flow.py, dispatch.py) over a
lab's Dask scheduler, each point cloned, run and pushed by a worker (pipeline/sweep/cluster/task.py)."""

from __future__ import annotations

from pathlib import Path

from pipeline.sweep.cluster.dispatch import connect, plan, shared_tracking_uri, sweep_source
from pipeline.sweep.dispatch import Note, Update, run_points, worker_count
from pipeline.sweep.flow import Runner, run_sweep
from pipeline.sweep.grid import GridPoint
from pipeline.sweep.plan import PointState
from pipeline.sweep.progress import running_trainings
from pipeline.sweep.view import SweepView


def cluster_sweep(
    root: Path,
    grid: list[GridPoint],
    sweep: str,
    address: str | None,
    scheduler_file: Path | None,
    remote: str,
    dry_run: bool,
    progress_every: float = 60.0,
) -> bool:
    """Run the grid on the cluster, showing progress; returns whether any point failed."""
    from pipeline.sweep.cluster.task import PointTask, run_point

    states = plan(root, grid)
    with connect(address, scheduler_file) as dask_client:
        # Training progress from the shared store, as the local sweep reads it.
        trainings = lambda names: running_trainings(root, names)  # noqa: E731
        view = SweepView(
            f"{sweep} on {dask_client.scheduler.address}", worker_count(dask_client), 1, trainings, progress_every
        )

        def run(update: Update, note: Note) -> None:
            url, commit = sweep_source(root, remote)
            uri = shared_tracking_uri(root)

            def task_of(s: PointState) -> tuple:
                return run_point, PointTask(url, commit, s.name, tuple(s.point.set_params), sweep, uri, 1)

            run_points(dask_client, states, sweep, task_of, update, note)

        interrupted = (
            "interrupted: this sweep's points were cancelled on the cluster (running ones stop, their "
            "checkpoints stay in the workers' clones); finished points are kept on the remotes; run the "
            "same command again to continue"
        )
        finished = f"{len(states)} experiments pushed to {remote} (dvc exp pull {remote}), their runs tagged {sweep}."
        return run_sweep(view, states, Runner(run, lambda: interrupted, finished), dry_run)
