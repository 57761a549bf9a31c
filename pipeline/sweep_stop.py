"""A sweep's points in DVC's queue beyond one `vae-pipe sweep` process: recognising points that are
already queued or running (a re-run waits for them instead of queueing them twice), stopping this sweep's
points on Ctrl-C, and stopping idle queue workers when nothing is left for them.

Ctrl-C reaches only the `vae-pipe sweep` process: DVC's queue workers run in their own process groups and
would train the whole queue unless told to stop.
"""

from __future__ import annotations

from pathlib import Path


def active_points(root: Path) -> dict[str, str]:
    """{experiment name: "Queued" | "Running"} of the points DVC's queue holds now."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        listed = repo.experiments.celery_queue.status()
    return {entry["name"]: entry["status"] for entry in listed if entry["status"] in ("Queued", "Running")}


def stop_points(root: Path, names: list[str]) -> tuple[list[str], list[str]]:
    """Kill the running and remove the queued points among `names`; returns (killed, removed)."""
    from dvc.repo import Repo

    active = active_points(root)
    running = [name for name in names if active.get(name) == "Running"]
    queued = [name for name in names if active.get(name) == "Queued"]
    with Repo(str(root)) as repo:
        queue = repo.experiments.celery_queue
        if queued:
            queue.remove(queued)
        if running:
            queue.kill(running)
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
