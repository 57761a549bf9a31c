"""Where a sweep's time goes, recorded only when asked for: with VAE_PIPE_TIMINGS=FILE in the environment,
every stage process (and `vae-pipe sweep` itself) appends one JSON line per phase to FILE. Without it each
call here costs a dictionary look-up, so the stages keep their phases marked for benchmarks/sweep.py.

Queue workers keep the environment they were started with, so the variable must be set before the sweep
starts them. A line: {"exp", "stage", "phase", "start" (epoch s), "seconds" (wall), "cpu" (this process's
CPU seconds in the phase), "pid"}; phases of one process do not overlap, and a line is one append
(atomic for lines this short), so several workers share one file.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator

ENV = "VAE_PIPE_TIMINGS"


def enabled() -> bool:
    return bool(os.environ.get(ENV))


def record(phase: str, start: float, seconds: float, cpu: float | None = None) -> None:
    """Append one phase (no-op unless VAE_PIPE_TIMINGS is set)."""
    path = os.environ.get(ENV)
    if not path:
        return
    line = {
        "exp": os.environ.get("DVC_EXP_NAME", ""),
        "stage": os.environ.get("DVC_STAGE", ""),
        "phase": phase,
        "start": round(start, 3),
        "seconds": round(seconds, 4),
        "cpu": None if cpu is None else round(cpu, 4),
        "pid": os.getpid(),
    }
    with open(path, "a") as handle:
        handle.write(json.dumps(line) + "\n")


@contextlib.contextmanager
def phase(name: str) -> Iterator[None]:
    """Time the block as phase `name` (wall and this process's CPU)."""
    if not enabled():
        yield
        return
    wall, cpu = time.time(), time.process_time()
    try:
        yield
    finally:
        record(name, wall, time.time() - wall, time.process_time() - cpu)


def process_start() -> float:
    """Epoch seconds at which this process started (Linux /proc; now elsewhere), so interpreter start-up
    counts too."""
    try:
        with open("/proc/self/stat") as handle:
            ticks = int(handle.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as handle:
            uptime = float(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return time.time()
    return time.time() - uptime + ticks / os.sysconf("SC_CLK_TCK")
