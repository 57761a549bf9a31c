"""One grid point on a cluster worker: what a Dask task runs, with no assumption about the machine.

The worker keeps one clone of the project's git remote (reused for every point it runs, so DVC's cache
and a killed training's checkpoint in `.checkpoints/` survive), checks the sweep's commit out, runs the
point as a DVC experiment in its own process group (pipeline/sweep/point.py), pushes the experiment to the
shared git remote (its outputs to the shared DVC remote) and makes its MLflow run match the experiment.
Calling it twice for the same point is harmless: an experiment already on the remote is only recorded
again, so Dask may recompute a task whose result was lost with a worker.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pipeline.sweep.point import (
    STARTED_TOPIC,
    PointFailed,
    PointResult,
    announce,
    point_environment,
    record_point,
    run_dvc,
    worker_name,
)

CLONES_ENV = "VAE_PIPE_CLONES"  # where a worker keeps its clones (default: vae-pipe-clones in its cwd)


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
    """A DVC command in the clone, appended to the clone's log (every DVC command of this clone)."""
    run_dvc(folder, env, folder.parent / f"{folder.name}.log", *args)


def run_point(task: PointTask) -> PointResult:
    """Run one grid point on this machine (see the module's docstring); a failure is returned, not raised,
    so the sweep names it and the other points go on."""
    from pipeline.tracking.store import scrub

    worker = worker_name()
    try:
        return _run_point(task, worker)
    except Exception as error:  # a failed point is a result; Dask retries only lost workers
        return PointResult(task.name, "failed", error=scrub(str(error), task.tracking_uri), worker=worker)


def _run_point(task: PointTask, worker: str) -> PointResult:
    folder = clone_folder(task.git_remote)
    with _locked(folder):
        announce(STARTED_TOPIC, {"name": task.name, "worker": worker})
        folder = checkout(task.git_remote, task.commit)
        env = point_environment(folder, task.tracking_uri, task.threads)
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
        run_id = record_point(folder, task.name, rev, task.sweep, env)
    return PointResult(task.name, state, run_id=run_id, worker=worker)
