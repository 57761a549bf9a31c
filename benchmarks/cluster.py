"""Overhead per grid point of `vae-pipe sweep --cluster` (Dask, two workers, a PostgreSQL-backed MLflow
server, git and DVC remotes, all on 127.0.0.1) against the local sweep (`--jobs 2`, SQLite store), on
the same tiny grid (testkit's TINY_PARAMS, 2 β × 2 seeds), each in a fresh project copy; then the same
sweep again, when every point is done before.

    .venv/bin/python benchmarks/cluster.py            # ~5-10 min on 2 loaded cores
    .venv/bin/python benchmarks/cluster.py --points 2 # β 1, 4 at seed 0 only
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from testkit.cluster import (  # noqa: E402
    dask_scheduler,
    mlflow_server,
    postgres_cluster,
    project_with_remotes,
    start_worker,
    stop_workers,
    wait_for_workers,
)
from testkit.project import create_project, project_env  # noqa: E402


def _timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def local(work: Path, grid: dict) -> tuple[float, float]:
    project = create_project(work / "local", {"sweep": grid})
    command = ["vae-pipe", "sweep", "--jobs", "2", "--name", "bench"]
    return _timed(command, project.root, project.env), _timed(command, project.root, project.env)


def cluster(work: Path, grid: dict) -> tuple[float, float]:
    project, _ = project_with_remotes(work / "cluster", {"sweep": grid})
    env = project.env
    workers: list[subprocess.Popen] = []
    with contextlib.ExitStack() as stack:
        backend = stack.enter_context(postgres_cluster())
        url, _ = stack.enter_context(mlflow_server(backend, work / "server", env))
        address = stack.enter_context(dask_scheduler(work / "scheduler", env))
        stack.callback(stop_workers, workers)
        workers += [start_worker(address, work / f"worker-{name}", name, env) for name in "AB"]
        wait_for_workers(address, 2)
        command = ["vae-pipe", "sweep", "--cluster", address, "--name", "bench"]
        sweep_env = {**env, "MLFLOW_TRACKING_URI": url}
        return _timed(command, project.root, sweep_env), _timed(command, project.root, sweep_env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, choices=(2, 4), default=4)
    args = parser.parse_args()
    grid = {"beta": [1, 4], "seed": [0, 1] if args.points == 4 else [0]}
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory(prefix="vae-pipe-bench-cluster-") as tmp:
        work = Path(tmp)
        project_env(work)  # the same environment the tests use
        first_local, again_local = local(work, grid)
        print(f"local:       {first_local:.1f} s, again {again_local:.1f} s", flush=True)
        first_cluster, again_cluster = cluster(work, grid)
        print(f"cluster:     {first_cluster:.1f} s, again {again_cluster:.1f} s", flush=True)
    n = args.points
    # Both runners train two points at a time: per point, the wall-time difference times 2 workers / n.
    print(f"overhead per point (2 workers): {(first_cluster - first_local) * 2 / n:+.1f} s worker time")
    print(f"per point when done before: local {again_local / n:.1f} s, cluster {again_cluster / n:.1f} s")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
