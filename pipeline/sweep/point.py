"""One grid point as a Dask task, whichever cluster runs it (a `LocalCluster` in `vae-pipe sweep`, a lab's
scheduler with `--cluster`): the point's DVC command in its own process group, stopped with Ctrl-C's signal
when the sweep cancels it, its result as plain data, and the event that tells the sweep it started.

The command runs in its own session so that the terminal's Ctrl-C reaches the sweep alone, which then stops
each point gracefully (SIGINT: the training saves a checkpoint and ends its MLflow run KILLED); and a point
that outlives its task (a killed sweep or worker) never shares a terminal with the next one.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

STARTED_TOPIC = "vae-pipe-started"  # Dask event a task logs when it starts, for the sweep's live table
NOTE_TOPIC = "vae-pipe-note"  # Dask event: a line for the sweep's log (a point waits for an earlier run)
GRACE_S = 15.0  # a stopped training's time to save its checkpoint before its group is killed

_running: dict[int, subprocess.Popen] = {}  # this process's point commands, for stop_all
_running_lock = threading.Lock()


@dataclass(frozen=True)
class PointResult:
    name: str
    state: str  # "done" (ran here), "done before" (found finished), "failed"
    run_id: str | None = None
    error: str = ""
    worker: str = ""


class PointFailed(RuntimeError):
    """The point's DVC command failed; the message holds the tail of its log."""


def point_environment(folder: Path, tracking_uri: str | None, threads: int) -> dict[str, str]:
    """The environment of a point's commands: its thread count, the sweep's store, a git identity for the
    experiment's commit where the machine has none."""
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(threads)
    if tracking_uri:
        env["MLFLOW_TRACKING_URI"] = tracking_uri
    env.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    for key, fallback in (("NAME", "vae-pipe"), ("EMAIL", "vae-pipe@localhost")):
        configured = subprocess.run(
            ["git", "config", f"user.{key.lower()}"], cwd=folder, capture_output=True, text=True
        )
        if configured.returncode != 0 or not configured.stdout.strip():
            for role in ("AUTHOR", "COMMITTER"):
                env.setdefault(f"GIT_{role}_{key}", fallback)
    return env


def run_dvc(folder: Path, env: dict[str, str], log: Path, *args: str, pass_fds: tuple[int, ...] = ()) -> None:
    """`dvc ARGS` in `folder`, its output appended to `log`, in its own process group: stopped (SIGINT, then SIGKILL
    after GRACE_S) when the sweep cancels the task or the task ends early, with everything it started.
    A non-zero exit is PointFailed with the tail of the log."""
    with open(log, "a") as output:
        start = output.tell()
        output.write(f"$ dvc {' '.join(args)}\n")
        output.flush()
        process = subprocess.Popen(
            ["dvc", "--wait-for-lock", *args],  # concurrent points take turns on the repository's lock
            cwd=folder,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            pass_fds=pass_fds,
        )
        with _running_lock:
            _running[process.pid] = process
        try:
            while (code := process.poll()) is None:
                if cancelled():  # Dask cannot stop a running thread: the task stops its own work
                    raise PointFailed(f"{args[0]} {args[1]} cancelled by the sweep")
                time.sleep(1)
        except BaseException:
            interrupt(process)
            raise
        finally:
            with _running_lock:
                _running.pop(process.pid, None)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # nothing it started outlives it
    if code != 0:
        raise PointFailed(f"dvc {args[0]} {args[1]} exited {code}:\n{log_tail(log, start)}")


_RECORD = """
import sys
from pathlib import Path
from pipeline.sweep.plan import finished_experiments
from pipeline.tracking.record import record_experiment
root, name, rev, sweep = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
rev = rev or finished_experiments(root).get(name)
if rev is None:
    sys.exit(f"DVC has no experiment named {name}")
print(record_experiment(root, name, rev, sweep))
"""


def record_point(folder: Path, name: str, rev: str | None, sweep: str, env: dict[str, str]) -> str:
    """The point's MLflow run checked against its committed outputs (commit `rev`, or found by the name) and
    tagged with the sweep; returns its id. In a child process: DVC's and MLflow's Python APIs are not made
    for a task thread beside others (measured: a DVC pack file closed under another thread's reader), and
    the tracking URI is the one in `env`, not this process's."""
    done = subprocess.run(
        [sys.executable, "-c", _RECORD, str(folder), name, rev or "", sweep],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        start_new_session=True,
    )
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        raise PointFailed(f"recording {name} in MLflow failed: {last[0]}")
    return done.stdout.strip().splitlines()[-1]


def log_tail(log: Path, start: int = 0, lines: int = 15) -> str:
    with open(log, errors="replace") as output:
        output.seek(start)
        return "\n".join(output.read().strip().splitlines()[-lines:])


def interrupt(process: subprocess.Popen, grace: float = GRACE_S) -> None:
    """Ctrl-C to the command's group, as a user would; whatever is left after `grace` seconds is killed."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(grace)


def stop_all(grace: float = GRACE_S) -> int:
    """Stop every point command this process runs (SIGINT to each group at once, SIGKILL after `grace`);
    returns how many. For a sweep whose tasks run in its own process: its Ctrl-C must not return before
    the trainings it started have saved their checkpoints."""
    with _running_lock:
        processes = list(_running.values())
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)
    deadline = time.monotonic() + grace
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(max(0.0, deadline - time.monotonic()))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    return len(processes)


def worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().name)
    except (ImportError, ValueError):
        return ""


def cancelled() -> bool:
    """Whether Dask released this task (its sweep was cancelled or went away) while it runs."""
    try:
        from distributed import get_worker
        from distributed.worker import thread_state

        task = get_worker().state.tasks.get(thread_state.key)
    except (ImportError, ValueError, AttributeError):
        return False
    return task is None or task.state in ("cancelled", "released", "forgotten")


def announce(topic: str, message: dict[str, str]) -> None:
    """A Dask event for the sweep (STARTED_TOPIC: its table says `running`; NOTE_TOPIC: a line)."""
    try:
        from distributed import get_worker

        get_worker().log_event(topic, message)
    except (ImportError, ValueError):
        pass
