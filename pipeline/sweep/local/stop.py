"""A sweep's points in DVC's queue beyond one `vae-pipe sweep` process: recognising points that are
already queued or running (a re-run waits for them instead of queueing them twice), stopping this sweep's
points on Ctrl-C, and stopping idle queue workers when nothing is left for them.

Ctrl-C reaches only the `vae-pipe sweep` process: DVC's queue workers run in their own process groups and
would train the whole queue unless told to stop.
"""

from __future__ import annotations

import time
from pathlib import Path


def active_points(root: Path) -> dict[str, str]:
    """{experiment name: "Queued" | "Running"} of the points DVC's queue holds now (read as the sweep's
    poll reads it: not DVC's `queue status`, whose cost grows with the whole queue history)."""
    from pipeline.sweep.local.watch import QueueWatch

    with QueueWatch(root) as watch:
        return watch.active()


def stop_points(
    root: Path, names: list[str], wait_seconds: float = 120.0, poll_seconds: float = 1.0
) -> tuple[list[str], list[str]]:
    """Kill the running and remove the queued points among `names`; returns (killed, removed).

    The kill is DVC's graceful one (`dvc queue kill` without --force): dvc-task sends SIGINT to the
    experiment's process group, which the training takes as Ctrl-C (it stops after the step in progress
    and saves a checkpoint); --force would send SIGKILL. Then waits, at most `wait_seconds`, until the
    killed points have left DVC's Running state: a re-run started right after would otherwise wait for
    them, see them fail, and report them failed instead of queueing them again to resume."""
    from dvc.repo import Repo

    active = active_points(root)
    running = [name for name in names if active.get(name) == "Running"]
    queued = [name for name in names if active.get(name) == "Queued"]
    with Repo(str(root)) as repo:
        queue = repo.experiments.celery_queue
        if queued:
            queue.remove(queued)
        if running:
            queue.kill(running, force=False)
    deadline = time.monotonic() + wait_seconds
    while running and time.monotonic() < deadline:
        still = active_points(root)
        if not any(still.get(name) == "Running" for name in running):
            break
        time.sleep(poll_seconds)
    return running, queued


def stop_idle_workers(root: Path) -> bool:
    """Shut DVC's queue workers down when no point is queued or running (any sweep's): a finished sweep
    leaves no worker behind. Returns whether it did."""
    if active_points(root):
        return False
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        repo.experiments.celery_queue.shutdown()
    return True
