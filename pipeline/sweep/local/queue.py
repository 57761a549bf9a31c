"""Who runs the grid points on one machine: DVC's experiment queue, then MLflow made to match DVC.

Facts designed against (see the design notes): queued experiments run in temporary copies whose workers
keep the environment of the process that started them; a point restored from DVC's run-cache runs no
stage code; several workers creating a new SQLite store at once race. So the store is created before the
workers start, finished points are recognised by a stable name, and after the queue drains every
experiment's MLflow run is checked (and repaired from DVC's outputs) and tagged with the sweep.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from pipeline.core import timings
from pipeline.core.identity import inputs_digest
from pipeline.sweep.grid import GridPoint
from pipeline.sweep.local import workers as queue_workers
from pipeline.sweep.local.watch import DONE, QueueWatch, split_done
from pipeline.sweep.plan import (
    CACHED,
    FAILED,
    FINAL,
    QUEUED,
    RUNNING,
    SUCCESS,
    PointState,
    finished_experiments,
)

_DVC_STATES = {"Queued": QUEUED, "Running": RUNNING, "Success": SUCCESS, "Failed": FAILED}


def default_jobs(cores: int) -> int:
    """One single-threaded worker per core: on 2 cores, 2 × 1 thread trains 2,894 images/s in total
    against 2,100 for 1 × 2 (benchmarks/README.md). Each worker holds the packed dataset (~1.2 GB peak)."""
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    return max(1, min(cores, int(memory_gb // 2)))


def plan(root: Path, grid: list[GridPoint]) -> list[PointState]:
    """Every point (checked by `check_grid`) with its experiment name and whether it is queued, running or done."""
    from pipeline.sweep.local.stop import active_points

    with timings.phase("sweep plan"):
        digest = inputs_digest(root)
        finished = finished_experiments(root)
        active = active_points(root)  # queued or running from an earlier, interrupted sweep: waited for
    states = []
    for point in grid:
        name = point.exp_name(digest)
        if name in active:
            states.append(PointState(point, name, _DVC_STATES[active[name]], in_queue=True))
            continue
        states.append(PointState(point, name, CACHED if name in finished else QUEUED))
    return states


def _ensure_git_identity(root: Path) -> None:
    """DVC commits each experiment; a machine without a git identity gets a neutral one for this sweep."""
    for key, env_names, fallback in (
        ("user.name", ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"), "vae-pipe"),
        ("user.email", ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"), "vae-pipe@localhost"),
    ):
        configured = subprocess.run(["git", "config", key], cwd=root, capture_output=True, text=True).stdout.strip()
        if not configured:
            for env in env_names:
                os.environ.setdefault(env, fallback)


def prepare_once(root: Path, states: list[PointState], on_note: Callable[[str], None]) -> None:
    """The `prepare` stage at params.yaml's data settings, run here once before any point is queued, when a
    point to queue keeps those settings: the points then restore the data from DVC's run-cache in a second
    instead of each rendering it at the same moment. (Two points running `prepare` at once and committing
    the same outputs into the shared cache made DVC refuse one of them: "unable to remove data/split.npz
    without a confirmation".) A failure here is left to the points, which report it as their own."""
    import logging

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


def _queue_and_start(root: Path, states: list[PointState], jobs: int, threads: int) -> None:
    from dvc.repo import Repo

    _ensure_git_identity(root)

    with Repo(str(root)) as repo:
        queue = repo.experiments.celery_queue
        stale = [s.name for s in states if s.state == QUEUED]
        # A point that failed in an earlier sweep is queued again under the same name.
        failed_before = {entry.name for entry, _ in queue.iter_failed()} & set(stale)
        if failed_before:
            queue.remove(list(failed_before))
        for s in states:
            if s.state == QUEUED and not s.in_queue:
                repo.experiments.run(params=s.point.set_params, queue=True, name=s.name)
        # Workers keep the environment they start with (and so do the ones restarted later): fix their
        # thread count now.
        os.environ["OMP_NUM_THREADS"] = str(threads)
        queue_workers.start_workers(queue, jobs)


def _poll(watch: QueueWatch, root: Path, states: list[PointState]) -> None:
    """One cheap look at the queue (pipeline/sweep/local/watch.py); points that left it are split into
    succeeded and failed by their experiment refs, read only then."""
    waiting = {s.name: s for s in states if s.state not in FINAL}
    if not waiting:
        return
    with timings.phase("sweep poll"):
        seen = watch.states(set(waiting))
        succeeded, failed = split_done(
            [n for n, state in seen.items() if state == DONE], lambda: finished_experiments(root)
        )
    now = time.time()
    for name, state in seen.items():
        s = waiting[name]
        s.state = SUCCESS if name in succeeded else FAILED if name in failed else _DVC_STATES[state]
        if s.state != QUEUED and s.started is None:
            s.started = now
        if s.state in FINAL:
            s.finished = now


def log_tail(root: Path, name: str, lines: int = 15) -> str:
    done = subprocess.run(["dvc", "queue", "logs", name], cwd=root, capture_output=True, text=True)
    text = (done.stdout + done.stderr).strip().splitlines()
    return "\n".join(text[-lines:])


def run_queue(
    root: Path,
    states: list[PointState],
    jobs: int,
    threads: int,
    on_update: Callable[[list[PointState]], None],
    poll_seconds: float = 2.0,
    on_note: Callable[[str], None] = lambda text: None,
) -> None:
    """Queue the pending points, start `jobs` workers, and wait until every point is final, restarting
    workers that stop while points still wait for them (pipeline/sweep/local/workers.py)."""
    from pipeline.tracking.store import ensure_store

    with timings.phase("sweep store check"):
        ensure_store(root)  # created once here: concurrent first writers race on the schema
    if any(s.state in (QUEUED, RUNNING) for s in states):
        with timings.phase("sweep prepare"):
            prepare_once(root, states, on_note)
        with timings.phase("sweep queue"):
            _queue_and_start(root, states, jobs, threads)
    on_update(states)
    with QueueWatch(root) as watch:
        keeper = queue_workers.WorkerKeeper(Path(watch.queue.wdir), jobs)
        while any(s.state not in FINAL for s in states):
            time.sleep(poll_seconds)
            _poll(watch, root, states)
            on_update(states)
            queued = sum(s.state == QUEUED for s in states)
            running = sum(s.state == RUNNING for s in states)
            if keeper.check(queued, running, lambda: queue_workers.start_workers(watch.queue, jobs)):
                on_note(
                    f"restarted DVC queue workers that had stopped with {queued} point(s) still queued "
                    f"({keeper.alive()} of {jobs} running now)"
                )
    for s in states:
        if s.state == FAILED:
            s.error = log_tail(root, s.name)


def record_all(root: Path, states: list[PointState], sweep: str) -> None:
    """Every finished experiment gets its MLflow run checked, repaired if needed, and tagged."""
    from pipeline.tracking.record import record_experiment

    with timings.phase("sweep record"):
        commits = finished_experiments(root)
        for s in states:
            if s.state not in (SUCCESS, CACHED):
                continue
            if s.name not in commits:
                s.state, s.error = FAILED, f"DVC reported success but has no experiment named {s.name}"
                continue
            s.run_id = record_experiment(root, s.name, commits[s.name], sweep)
    # The whole process so far (start-up and imports included), for benchmarks/sweep.py.
    started = timings.process_start()
    timings.record("sweep process", started, time.time() - started, time.process_time())
