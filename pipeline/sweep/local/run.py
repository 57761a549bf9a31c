"""`vae-pipe sweep` on this machine: the grid through DVC's experiment queue, with the live view, Ctrl-C's stop
and the exit status (`vae-pipe sweep --cluster` has the same over Dask: pipeline/sweep/cluster/run.py)."""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.sweep.grid import GridPoint
from pipeline.sweep.local import queue as runner
from pipeline.sweep.local import stop as sweep_stop
from pipeline.sweep.plan import FAILED, QUEUED, RUNNING, PointState
from pipeline.sweep.progress import running_trainings
from pipeline.sweep.view import SweepView


def local_sweep(
    root: Path,
    grid: list[GridPoint],
    sweep: str,
    jobs: int | None,
    progress_every: float,
    leave_running: bool,
    dry_run: bool,
) -> bool:
    """Run the grid in DVC's queue with `jobs` workers, showing progress; returns whether any point failed."""
    import typer

    cores = os.cpu_count() or 1
    jobs = jobs or runner.default_jobs(cores)
    threads = max(1, cores // jobs)
    states = runner.plan(root, grid)
    view = SweepView(sweep, jobs, threads, lambda names: running_trainings(root, names), progress_every)
    if dry_run:
        view.print_table(states)
        return False
    try:
        with view.live() as update:
            runner.run_queue(root, states, jobs, threads, update, on_note=view.note)
            runner.record_all(root, states, sweep)
            update(states)
    except KeyboardInterrupt:
        interrupted_sweep(root, states, leave_running)
    # Workers exit by themselves a few seconds after the queue drains; a shutdown broadcast at this point
    # sometimes left a worker hanging (and with it DVC's forked watcher holding this command's output open).
    failed = [s for s in states if s.state == FAILED]
    view.print_failures(failed)
    if not failed:
        typer.echo(f"{len(states)} experiments in `dvc exp show`, their runs tagged {sweep} in MLflow (vae-pipe ui).")
    return bool(failed)


def interrupted_sweep(root: Path, states: list[PointState], leave_running: bool) -> None:
    """Ctrl-C on a sweep: say what is still in DVC's queue and stop it (or leave it, and say so)."""
    import typer

    pending = [s.name for s in states if s.state in (QUEUED, RUNNING)]
    if not pending:
        message = "interrupted: no point of this sweep was queued or running"
    elif leave_running:
        message = (
            f"interrupted: {len(pending)} points left in DVC's queue ({', '.join(pending)}); `dvc queue status` "
            "shows them, the same `vae-pipe sweep` waits for them, `dvc queue kill NAME` stops one"
        )
    else:
        killed, removed = sweep_stop.stop_points(root, pending)
        sweep_stop.stop_idle_workers(root)
        message = (
            f"interrupted: stopped {len(killed)} running and removed {len(removed)} queued points of this sweep; "
            "finished points are kept; run the same command again to continue (stopped trainings resume "
            "from their checkpoints)"
        )
    typer.secho(message, fg="yellow", err=True)
    raise typer.Exit(130)
