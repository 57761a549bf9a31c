"""Keeping DVC's queue workers alive while a sweep's points wait for them.

Measured on 2 cores (see the design notes): a DVC queue worker can stop consuming in the middle of a sweep
and exit after its current point, for two reasons outside vae-pipe. kombu's filesystem transport writes
message files non-atomically, and a worker that reads one half-written dies with "Unrecoverable error:
JSONDecodeError"; and a celery `shutdown` broadcast (`dvc queue stop`, the clean-up after a Ctrl-C) sent
while a worker was gone stays in that worker name's control queue (the transport ignores its expiry) and
stops the next worker of that name 0.1 s after it starts. Either way the sweep's remaining points waited for
one worker, or for none (a sweep that never ended).

So the sweep clears stale control messages before starting workers, and while points are queued it
restarts workers that are gone. A worker's liveness is read from the files DVC's process manager writes for
it (no broadcast to the workers, which would cost a second and leave more control messages behind).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

WORKER_FILE = "dvc-exp-worker-{num}.json"  # what DVC's queue names worker `num`'s process file
GRACE_SECONDS = 10.0  # a worker just started writes its process file at once and takes a point within seconds


def node_name(queue: Any, num: int) -> str:
    """Celery's name for DVC's worker `num` of this repository (DVC derives it from the queue folder)."""
    return f"dvc-exp-{hashlib.sha256(queue.wdir.encode('utf-8')).hexdigest()[:6]}-{num}@localhost"


def worker_alive(queue_dir: Path, num: int) -> bool:
    """Whether DVC's worker `num` has a process that is still running."""
    from dvc_task.proc.process import ProcessInfo

    try:
        info = ProcessInfo.load(str(queue_dir / WORKER_FILE.format(num=num)))
    except (OSError, ValueError, TypeError):
        return False
    if info.returncode is not None:
        return False
    try:
        os.kill(info.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clear_stale_control(queue: Any, nums: list[int]) -> int:
    """Delete the control messages (a `shutdown` among them) waiting for workers `nums` that are not
    running; returns how many. A running worker's queue is left alone."""
    queue_dir = Path(queue.wdir)
    dead = [num for num in nums if not worker_alive(queue_dir, num)]
    if not dead:
        return 0
    cleared = 0
    with queue.celery.connection_for_write() as connection:
        channel = connection.default_channel
        for num in dead:
            cleared += channel.queue_purge(f"{node_name(queue, num)}.celery.pidbox") or 0
    return cleared


def start_workers(queue: Any, jobs: int) -> int:
    """Start DVC's workers 1..jobs that are not running, after clearing their stale control messages;
    returns how many started."""
    nums = list(range(1, jobs + 1))
    clear_stale_control(queue, nums)
    return queue.start_workers(jobs)


class WorkerKeeper:
    """Restarts the sweep's workers that are gone while its points still wait in the queue."""

    def __init__(self, queue_dir: Path, jobs: int) -> None:
        self._queue_dir = queue_dir
        self._jobs = jobs
        self._short_since: float | None = None
        self._last_start = time.monotonic()
        self.restarts = 0

    def alive(self) -> int:
        return sum(worker_alive(self._queue_dir, num) for num in range(1, self._jobs + 1))

    def check(self, queued: int, running: int, restart: Callable[[], int]) -> int:
        """Called on every poll with the sweep's queued and running point counts; calls `restart()` (which
        starts workers and returns how many) when fewer workers run than the points need, for longer than
        the grace a starting worker takes. Returns how many started."""
        now = time.monotonic()
        needed = min(self._jobs, queued + running)
        if queued == 0 or self.alive() >= needed:
            self._short_since = None
            return 0
        if self._short_since is None:
            self._short_since = now
        if now - self._short_since < GRACE_SECONDS or now - self._last_start < GRACE_SECONDS:
            return 0
        started = restart()
        self._last_start, self._short_since = now, None
        self.restarts += started
        return started
