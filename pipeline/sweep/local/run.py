"""`vae-pipe sweep` on this machine: the grid's points as tasks of a Dask `LocalCluster` in the sweep's own
process, `--jobs` at a time, each point one `dvc exp run --temp` (pipeline/sweep/local/task.py). The same
dispatch and flow as `vae-pipe sweep --cluster`; only where a point runs differs.

Facts designed against (see the design notes): a point restored from DVC's run-cache runs no stage code,
and several processes creating a new SQLite store at once race. So the store is created before any point
starts, the data is prepared once, and every point's MLflow run is checked (and repaired from DVC's
outputs) and tagged with the sweep when it finishes.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from pipeline.core import timings
from pipeline.core.identity import inputs_digest
from pipeline.sweep.dispatch import Note, Update, run_points
from pipeline.sweep.flow import Runner, run_sweep
from pipeline.sweep.grid import GridPoint
from pipeline.sweep.local.task import LocalPoint, run_local_point
from pipeline.sweep.plan import CACHED, QUEUED, PointState, finished_experiments
from pipeline.sweep.point import stop_all
from pipeline.sweep.progress import running_trainings
from pipeline.sweep.view import SweepView


def default_jobs(cores: int) -> int:
    """One single-threaded point per core: on 2 cores, 2 × 1 thread trains 2,894 images/s in total against
    2,100 for 1 × 2 (benchmarks/README.md). Each point holds the packed dataset (~1.2 GB peak)."""
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    return max(1, min(cores, int(memory_gb // 2)))


def plan(root: Path, grid: list[GridPoint]) -> list[PointState]:
    """Every point (checked by `check_grid`) with its experiment name, done before or to run."""
    with timings.phase("sweep plan"):
        digest = inputs_digest(root)
        finished = finished_experiments(root)
    states = []
    for point in grid:
        name = point.exp_name(digest)
        states.append(PointState(point, name, CACHED if name in finished else QUEUED))
    return states


def local_sweep(
    root: Path, grid: list[GridPoint], sweep: str, jobs: int | None, progress_every: float, dry_run: bool
) -> bool:
    """Run the grid here, `jobs` points at a time, showing progress; returns whether any point failed."""
    cores = os.cpu_count() or 1
    jobs = jobs or default_jobs(cores)
    threads = max(1, cores // jobs)
    states = plan(root, grid)
    view = SweepView(sweep, jobs, threads, lambda names: running_trainings(root, names), progress_every)
    stopped: list[int] = []

    def run(update: Update, note: Note) -> None:
        _run(root, states, sweep, jobs, threads, update, note, stopped)

    def interrupted() -> str:
        if not stopped or not stopped[0]:
            return "interrupted: no point of this sweep was running; finished points are kept"
        return (
            f"interrupted: stopped the {stopped[0]} running points of this sweep and started no other; finished "
            "points are kept; run the same command again to continue (stopped trainings resume from their "
            "checkpoints)"
        )

    finished = f"{len(states)} experiments in `dvc exp show`, their runs tagged {sweep} in MLflow (vae-pipe ui)."
    return run_sweep(view, states, Runner(run, interrupted, finished), dry_run)


def _run(
    root: Path,
    states: list[PointState],
    sweep: str,
    jobs: int,
    threads: int,
    update: Update,
    note: Note,
    stopped: list[int],
) -> None:
    from distributed import Client, LocalCluster

    from pipeline.tracking.store import ensure_store

    update(states)
    with timings.phase("sweep store check"):
        ensure_store(root)  # created once here: concurrent first writers race on the schema
    if any(s.state == QUEUED for s in states):
        with timings.phase("sweep prepare"):
            prepare_once(root, states, note)
        task_of: Callable[[PointState], tuple] = lambda s: (  # noqa: E731
            run_local_point,
            LocalPoint(str(root), s.name, tuple(s.point.set_params), sweep, threads),
        )
        # Threads of this process: a point's work is its `dvc exp run` process, which a task only waits on.
        with (
            LocalCluster(
                n_workers=1,
                threads_per_worker=jobs,
                processes=False,
                dashboard_address="127.0.0.1:0",  # its HTTP server on loopback only, any free port
                silence_logs=logging.ERROR,
            ) as cluster,
            Client(cluster) as client,
        ):
            try:
                run_points(client, states, sweep, task_of, update, note)
            except KeyboardInterrupt:
                stopped.append(stop_all())  # before returning: the trainings save their checkpoints
                raise
    record_done_before(root, states, sweep)
    update(states)
    # The whole process so far (start-up and imports included), for benchmarks/sweep.py.
    started = timings.process_start()
    timings.record("sweep process", started, time.time() - started, time.process_time())


def record_done_before(root: Path, states: list[PointState], sweep: str) -> None:
    """Points done before this sweep get their MLflow run checked, repaired if needed (deleted in the UI,
    say), and tagged with this sweep too."""
    from pipeline.tracking.record import record_experiment

    with timings.phase("sweep record"):
        commits = finished_experiments(root)
        for s in states:
            if s.state == CACHED and s.name in commits:
                s.run_id = record_experiment(root, s.name, commits[s.name], sweep)


def prepare_once(root: Path, states: list[PointState], on_note: Callable[[str], None]) -> None:
    """The `prepare` stage at params.yaml's data settings, run here once before any point starts, when a
    point to run keeps those settings: the points then restore the data from DVC's run-cache in a second
    instead of each rendering it at the same moment. (Two points running `prepare` at once and committing
    the same outputs into the shared cache made DVC refuse one of them: "unable to remove data/split.npz
    without a confirmation".) A failure here is left to the points, which report it as their own."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    if not any(s.state == QUEUED and not s.point.touches("data") for s in states):
        return
    dvc_logger = logging.getLogger("dvc")
    level = dvc_logger.level
    dvc_logger.setLevel(logging.WARNING)  # DVC's own hints (git add dvc.lock, autostage) are not the sweep's
    try:
        with Repo(str(root)) as repo:
            ran = repo.reproduce("prepare")
    except DvcException as error:
        on_note(f"prepare failed here ({error}); each point runs it and reports its own error")
        return
    finally:
        dvc_logger.setLevel(level)
    if any(stage.name == "prepare" for stage in ran):  # not when only the validate stage ran
        on_note("prepared the data once (DVC stage prepare); the points restore it from DVC's run-cache")
