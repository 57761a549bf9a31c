"""`vae-pipe sweep --cluster`: the local sweep's table, failures and exit status over the Dask runner."""

from __future__ import annotations

from pathlib import Path

from pipeline.sweep.cluster.dispatch import connect, plan, run_cluster, worker_count
from pipeline.sweep.grid import GridPoint
from pipeline.sweep.plan import FAILED
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
    import typer

    states = plan(root, grid)
    with connect(address, scheduler_file) as dask_client:
        workers = worker_count(dask_client)
        # Training progress from the shared store, as the local sweep reads it (it said "not training yet").
        trainings = lambda names: running_trainings(root, names)  # noqa: E731
        view = SweepView(f"{sweep} on {dask_client.scheduler.address}", workers, 1, trainings, progress_every)
        if dry_run:
            view.print_table(states)
            return False
        try:
            with view.live() as update:
                run_cluster(dask_client, root, states, sweep, remote, 1, update)
        except KeyboardInterrupt:
            typer.secho(
                "interrupted: this sweep's points were cancelled on the cluster (running ones stop, their "
                "checkpoints stay in the workers' clones); finished points are kept on the remotes; run the "
                "same command again to continue",
                fg="yellow",
                err=True,
            )
            raise typer.Exit(130) from None
    failed = [s for s in states if s.state == FAILED]
    view.print_failures(failed)
    if not failed:
        typer.echo(f"{len(states)} experiments pushed to {remote} (dvc exp pull {remote}), their runs tagged {sweep}.")
    return bool(failed)
