"""One grid point on a cluster worker: what a Dask task runs, with no assumption about the machine.

The worker keeps one clone of the project's git remote (reused for every point it runs, so DVC's cache
and a killed training's checkpoint in `.checkpoints/` survive), checks the sweep's commit out, runs the
point as a DVC experiment in its own process group, pushes the experiment to the shared git remote (its
outputs to the shared DVC remote) and makes its MLflow run match the experiment. Calling it twice for the
same point is harmless: an experiment already on the remote is only recorded again, so Dask may recompute
a task whose result was lost with a worker.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CLONES_ENV = "VAE_PIPE_CLONES"  # where a worker keeps its clones (default: vae-pipe-clones in its cwd)
STARTED_TOPIC = "vae-pipe-started"  # Dask event a task logs when it starts, for the sweep's live table


@dataclass(frozen=True)
class PointTask:
    """Everything a worker needs for one point; plain data, pickled to the worker."""

    git_remote: str  # URL of the shared git remote, as workers reach it
    commit: str  # the sweep's commit (must be on the remote)
    name: str  # the DVC experiment's name (stable per point and inputs)
    set_params: tuple[str, ...]  # `-S key=value` arguments
    sweep: str
    tracking_uri: str
    threads: int = 1


@dataclass(frozen=True)
class PointResult:
    name: str
    state: str  # "done" (ran here), "done before" (already on the remote), "failed"
    run_id: str | None = None
    error: str = ""
    worker: str = ""


class PointFailed(RuntimeError):
    """The point's DVC experiment failed; the message holds the tail of its log."""


def clone_folder(remote: str) -> Path:
    base = Path(os.environ.get(CLONES_ENV) or Path.cwd() / "vae-pipe-clones")
    return base / hashlib.sha256(remote.encode()).hexdigest()[:12]


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One point at a time in a clone (a worker with several threads takes turns)."""
    from pipeline.tracking.store import file_lock

    folder.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(Path(f"{folder}.lock")):
        yield


def _git(folder: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise PointFailed(f"git {' '.join(args)}: {done.stderr.strip().splitlines()[-1:]}")
    return done.stdout.strip()


def checkout(remote: str, commit: str) -> Path:
    """The worker's clone of `remote`, at `commit` (fetched when new); untracked state is kept."""
    folder = clone_folder(remote)
    if not (folder / ".git").is_dir():
        subprocess.run(["git", "clone", "-q", remote, str(folder)], check=True, capture_output=True)
    if subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=folder, capture_output=True).returncode:
        _git(folder, "fetch", "-q", "origin")
    _git(folder, "checkout", "-q", "--force", "--detach", commit)
    return folder


def _on_remote(folder: Path, name: str) -> bool:
    """Whether the remote holds an experiment named `name` (refs/exps/../<name>) of any baseline."""
    refs = _git(folder, "ls-remote", "origin", "refs/exps/*")
    return any(line.endswith(f"/{name}") for line in refs.splitlines())


def _exp_commit(folder: Path, name: str) -> str | None:
    refs = _git(folder, "for-each-ref", "--format=%(objectname) %(refname)", "refs/exps/")
    return next((line.split()[0] for line in refs.splitlines() if line.endswith(f"/{name}")), None)


def _dvc(folder: Path, env: dict[str, str], *args: str) -> None:
    """A DVC command in its own process group, killed with everything it started when the task ends
    early (an exception, a cancelled task, a worker shutting down)."""
    log = folder.parent / f"{folder.name}.log"  # every DVC command of this clone, appended
    with open(log, "a") as output:
        start = output.tell()
        output.write(f"$ dvc {' '.join(args)}\n")
        output.flush()
        process = subprocess.Popen(
            ["dvc", *args], cwd=folder, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            while (code := process.poll()) is None:
                if _cancelled():  # the sweep was interrupted: Dask cannot stop a running thread, we stop its work
                    raise PointFailed(f"{args[0]} {args[1]} cancelled by the sweep")
                time.sleep(1)
        except BaseException:
            _interrupt(process)
            raise
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # nothing it started outlives it
    if code != 0:
        with open(log, errors="replace") as output:
            output.seek(start)
            tail = "\n".join(output.read().strip().splitlines()[-15:])
        raise PointFailed(f"dvc {args[0]} {args[1]} exited {code}:\n{tail}")


def _interrupt(process: subprocess.Popen, grace: float = 15) -> None:
    """Ctrl-C to the command's group, as a user would (the training saves its checkpoint and ends its
    MLflow run KILLED); whatever is left after `grace` seconds is killed."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(grace)


def _environment(task: PointTask) -> dict[str, str]:
    env = dict(os.environ)
    env.update(MLFLOW_TRACKING_URI=task.tracking_uri, OMP_NUM_THREADS=str(task.threads))
    env.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    for key, fallback in (("NAME", "vae-pipe"), ("EMAIL", "vae-pipe@localhost")):
        for role in ("AUTHOR", "COMMITTER"):
            env.setdefault(f"GIT_{role}_{key}", fallback)
    return env


def run_point(task: PointTask) -> PointResult:
    """Run one grid point on this machine (see the module's docstring); a failure is returned, not raised,
    so the sweep names it and the other points go on."""
    from pipeline.tracking.store import scrub

    worker = _worker_name()
    try:
        return _run_point(task, worker)
    except Exception as error:  # a failed point is a result; Dask retries only lost workers
        return PointResult(task.name, "failed", error=scrub(str(error), task.tracking_uri), worker=worker)


def _run_point(task: PointTask, worker: str) -> PointResult:
    env = _environment(task)
    folder = clone_folder(task.git_remote)
    with _locked(folder):
        _announce(task.name, worker)
        folder = checkout(task.git_remote, task.commit)
        state = "done"
        if _on_remote(folder, task.name):
            state = "done before"
            _dvc(folder, env, "exp", "pull", "origin", task.name)
        elif _exp_commit(folder, task.name) is None:  # finished here but not pushed: push it now
            sets = [arg for item in task.set_params for arg in ("-S", item)]
            _dvc(folder, env, "exp", "run", "--name", task.name, *sets)
        if state == "done":
            _dvc(folder, env, "exp", "push", "origin", task.name)
        rev = _exp_commit(folder, task.name)
        if rev is None:
            raise PointFailed(f"DVC reported success but has no experiment named {task.name}")
        run_id = _record(folder, task, rev, env)
    return PointResult(task.name, state, run_id=run_id, worker=worker)


def _record(folder: Path, task: PointTask, rev: str, env: dict[str, str]) -> str:
    """The point's MLflow run checked against its committed outputs and tagged with the sweep, in a child
    process: the tracking URI is the sweep's, not this worker's environment."""
    script = (
        "import sys; from pathlib import Path; from pipeline.tracking.record import record_experiment; "
        "print(record_experiment(Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]))"
    )
    done = subprocess.run(
        [_python(), "-c", script, str(folder), task.name, rev, task.sweep],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        start_new_session=True,
    )
    if done.returncode != 0:
        raise PointFailed(f"recording {task.name} in MLflow failed: {done.stderr.strip().splitlines()[-1:]}")
    return done.stdout.strip().splitlines()[-1]


def _python() -> str:
    import sys

    return sys.executable


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().name)
    except (ImportError, ValueError):
        return ""


def _cancelled() -> bool:
    """Whether Dask released this task (its sweep was cancelled or went away) while it runs."""
    try:
        from distributed import get_worker
        from distributed.worker import thread_state

        task = get_worker().state.tasks.get(thread_state.key)
    except (ImportError, ValueError, AttributeError):
        return False
    return task is None or task.state in ("cancelled", "released", "forgotten")


def _announce(name: str, worker: str) -> None:
    """Tell the sweep this point started (Dask event), so its table says `running` and where."""
    try:
        from distributed import get_worker

        get_worker().log_event(STARTED_TOPIC, {"name": name, "worker": worker})
    except (ImportError, ValueError):
        pass
