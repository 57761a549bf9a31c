"""Throw-away services for the multi-machine path, each stopped when its block ends (also on failure):
a PostgreSQL cluster, an MLflow server over it, a Dask scheduler and workers, all on 127.0.0.1, and a
project with a bare git remote and a local-folder DVC remote. Used by the cluster tests and benchmark."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from testkit.project import Project, create_project


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait(check, what: str, seconds: float, process: subprocess.Popen | None = None, log: Path | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        if process is not None and process.poll() is not None:
            break
        time.sleep(0.3)
    tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
    raise RuntimeError(f"{what} did not come up within {seconds:.0f} s\n{tail}")


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _stop(process: subprocess.Popen, grace: float = 10) -> None:
    """SIGTERM the process's group, then SIGKILL what is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def descendants(pid: int) -> list[int]:
    """Every process started (directly or not) by `pid`, also in other sessions (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def kill_tree(pid: int) -> None:
    """SIGKILL `pid` and everything it started, as a machine that dies would."""
    for victim in [pid, *descendants(pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)


@contextlib.contextmanager
def postgres_cluster() -> Iterator[str]:
    """A throw-away PostgreSQL on 127.0.0.1; yields its URI (with a random password). As root it runs as
    the `postgres` user, which must reach the folder: it lives in a world-enterable temporary folder."""
    from pipeline.tracking.postgres import start, stop

    parent = Path(tempfile.mkdtemp(prefix="vae-pipe-pg-"))
    parent.chmod(0o755)
    try:
        cluster = start(parent / "pg", free_port())
        try:
            yield cluster.uri
        finally:
            stop(cluster.folder)
    finally:
        shutil.rmtree(parent, ignore_errors=True)


@contextlib.contextmanager
def mlflow_server(
    backend_uri: str, folder: Path, env: dict[str, str], port: int | None = None
) -> Iterator[tuple[str, subprocess.Popen]]:
    """`vae-pipe server` over `backend_uri` (on `port`, else a free one); yields (its http URI, the process)."""
    port = port or free_port()
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"server-{time.time_ns()}.log"
    command = ["vae-pipe", "server", "--port", str(port), "--artifacts-destination", str(folder / "artifacts")]
    with open(log, "w") as output:
        process = subprocess.Popen(
            command,
            cwd=folder,
            env={**env, "VAE_PIPE_BACKEND_STORE_URI": backend_uri},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait(lambda: _healthy(url), "the MLflow server", 400, process, log)  # minutes on a loaded machine
        yield url, process
    finally:
        _stop(process)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


@contextlib.contextmanager
def dask_scheduler(folder: Path, env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "scheduler.log"
    command = ["dask", "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"]
    with open(log, "w") as output:
        process = subprocess.Popen(
            command, cwd=folder, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        _wait(lambda: _listening(port), "the Dask scheduler", 60, process, log)
        yield f"tcp://127.0.0.1:{port}"
    finally:
        _stop(process)


def start_worker(address: str, folder: Path, name: str, env: dict[str, str]) -> subprocess.Popen:
    """A one-thread Dask worker in its own folder (its clones live there). No nanny: a killed worker stays
    dead, as when its machine is lost."""
    folder.mkdir(parents=True, exist_ok=True)
    command = [
        "dask", "worker", address, "--nthreads", "1", "--nworkers", "1", "--name", name,
        "--host", "127.0.0.1", "--no-dashboard", "--no-nanny",
    ]  # fmt: skip
    with open(folder / "worker.log", "w") as output:
        return subprocess.Popen(
            command, cwd=folder, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop_workers(workers: list[subprocess.Popen]) -> None:
    """Workers (and whatever their tasks started) before the scheduler: the other order waits seconds."""
    for worker in workers:
        if worker.poll() is None:
            kill_tree(worker.pid)
        worker.wait()


def wait_for_workers(address: str, count: int, seconds: float = 60) -> None:
    from distributed import Client

    with Client(address, timeout="20s") as client:
        client.wait_for_workers(count, timeout=seconds)


def project_with_remotes(root: Path, params: dict | None = None) -> tuple[Project, Path]:
    """A project whose commit is pushed to a bare git remote (`origin`), with a default DVC remote in a
    folder beside it (committed in .dvc/config); returns (project, the bare remote)."""
    project = create_project(root / "repo", params)
    remote = root / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    project.run("git", "remote", "add", "origin", str(remote))
    project.run("dvc", "remote", "add", "-d", "shared", str(root / "dvc-remote"))
    project.commit("shared DVC remote")
    project.run("git", "push", "-q", "origin", "main")
    return project, remote


def write_run(url: str, index: int, ready: float) -> None:
    """One of the concurrent writers of the cluster tests: its own run, params, 50 curve points and metrics."""
    from pipeline.core.params import Params
    from pipeline.tracking.store import ModelRun

    os.environ["MLFLOW_TRACKING_URI"] = url
    time.sleep(max(0.0, ready - time.time()))
    run = ModelRun.open(Path.cwd(), f"writer-{index}", Params(seed=index), {"writer": str(index)}, running=True)
    for step in range(1, 51):
        run.log_step({"train.loss": float(step * index)}, step)
    run.log_metrics({"elbo": -float(index)})
    run.end("FINISHED")
