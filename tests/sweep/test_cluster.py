"""`vae-pipe sweep --cluster` end to end: a PostgreSQL-backed MLflow server, a Dask scheduler and two
workers on 127.0.0.1 (each in its own folder), a bare git remote and a local-folder DVC remote; one worker
is SIGKILLed with its training mid-sweep. Every service is stopped at the end, also when a test fails."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time

import pytest
import yaml

from testkit.cluster import (
    cmdline,
    dask_scheduler,
    descendants,
    kill_tree,
    mlflow_server,
    postgres_cluster,
    project_with_remotes,
    start_worker,
    stop_workers,
    wait_for_workers,
)
from testkit.project import PROJECT, project_env

pytestmark = pytest.mark.e2e
SECRET = "s3cret-never-logged"
TRAIN_COMMAND = yaml.safe_load((PROJECT / "dvc.yaml").read_text())["stages"]["train"]["cmd"].removeprefix("python ")


def _require_postgres() -> None:
    """Skip with the reason where PostgreSQL cannot run; under CI=true that is a failure, not a skip."""
    from pipeline.core.errors import PostgresError
    from pipeline.tracking.postgres import find_binary, service_user

    try:
        find_binary("initdb")
        service_user()
    except PostgresError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs PostgreSQL for the cluster tests: {error}")
        pytest.skip(str(error))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(http URI of a PostgreSQL-backed MLflow server, the PostgreSQL URI, its process), for the module."""
    _require_postgres()
    folder = tmp_path_factory.mktemp("server")
    env = project_env(folder)
    with postgres_cluster() as backend, mlflow_server(backend, folder, env) as (url, process):
        yield url, backend, process


def _with_password(url: str) -> str:
    """The server's URI with credentials a user might put there: they must never be shown or stored."""
    return url.replace("http://", f"http://lab:{SECRET}@")


@pytest.mark.cluster
def test_cluster_sweep_survives_a_killed_worker(server, tmp_path):
    url, backend, server_process = server
    assert backend.split(":")[2].split("@")[0] not in cmdline(server_process.pid)  # no DB password in `ps`
    params = {"train": {"steps": 120, "checkpoint_every": 20}, "sweep": {"beta": [1, 4], "seed": [0]}}
    project, remote = project_with_remotes(tmp_path, params)
    env = {**project.env, "MLFLOW_TRACKING_URI": _with_password(url)}
    worker_env = {k: v for k, v in project.env.items()}
    workers: list[subprocess.Popen] = []
    with contextlib.ExitStack() as stack:
        address = stack.enter_context(dask_scheduler(tmp_path / "scheduler", worker_env))
        stack.callback(stop_workers, workers)
        for name in ("A", "B"):
            workers.append(start_worker(address, tmp_path / f"worker-{name}", name, worker_env))
        wait_for_workers(address, 2)

        victim = workers[0]
        killed = threading.Event()

        def kill_mid_training() -> None:
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline and victim.poll() is None:
                training = [p for p in descendants(victim.pid) if TRAIN_COMMAND in cmdline(p)]
                checkpoints = list((tmp_path / "worker-A").glob("vae-pipe-clones/*/.checkpoints/*/*"))
                if training and checkpoints:
                    kill_tree(victim.pid)
                    killed.set()
                    return
                time.sleep(0.2)

        killer = threading.Thread(target=kill_mid_training, daemon=True)
        killer.start()
        sweep = subprocess.run(
            ["vae-pipe", "sweep", "--cluster", address, "--name", "lab", "--progress-every", "2"],
            cwd=project.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
        )
        killer.join(5)
        output = sweep.stdout + sweep.stderr
        assert sweep.returncode == 0, output
        assert killed.is_set(), "worker A was never seen training with a checkpoint"
        assert output.count(": done") >= 2, output
        assert "images/s, training eta" in output or "images/s, evaluating" in output, output  # progress lines
        logs = "".join(path.read_text(errors="replace") for path in tmp_path.glob("worker-*/**/*.log"))
        assert "Running stage 'train'" in logs  # the DVC logs of the clones are among them
        assert SECRET not in output + logs

        # The store: exactly one FINISHED run per point, none left RUNNING by the killed attempt.
        from mlflow import MlflowClient

        client = MlflowClient(url)
        experiment = client.get_experiment_by_name("vae-pipe")
        everything = client.search_runs([experiment.experiment_id], run_view_type=3)
        runs = [r for r in everything if "writer" not in r.data.tags]  # the other test's runs
        assert sorted((r.data.params["beta"], r.data.params["seed"]) for r in runs) == [("1.0", "0"), ("4.0", "0")]
        assert {r.info.status for r in runs} == {"FINISHED"}
        assert {r.data.tags["vae_pipe.sweep"] for r in runs} == {"lab"}
        for run in runs:
            assert SECRET not in json.dumps([run.data.params, run.data.tags])
            steps = [m.step for m in client.get_metric_history(run.info.run_id, "train.loss")]
            assert steps == sorted(set(steps)) and steps[-1] == 120  # a resumed curve logs each step once

        # Again: every point is found on the remote, nothing trains.
        again = subprocess.run(
            ["vae-pipe", "sweep", "--cluster", address, "--name", "lab"],
            cwd=project.root, env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert again.returncode == 0 and (again.stdout + again.stderr).count("done before") >= 2, again.stderr
        assert len(client.search_runs([experiment.experiment_id], run_view_type=3)) == len(everything)

    # A third clone elsewhere sees the whole sweep: DVC experiments and the report from the server.
    third = tmp_path / "third"
    subprocess.run(["git", "clone", "-q", str(remote), str(third)], check=True, env=project.env)
    run = lambda *args: subprocess.run(args, cwd=third, env=env, capture_output=True, text=True, timeout=600)  # noqa: E731
    pulled = run("dvc", "exp", "pull", "--all-commits", "origin")
    assert pulled.returncode == 0, pulled.stderr
    shown = run("dvc", "exp", "show", "--json")
    listed = [exp for rev in json.loads(shown.stdout) for exp in rev.get("experiments") or []]
    assert len(listed) == 2, shown.stdout[:2000]
    report = run("vae-pipe", "report", "--sweep", "lab")
    assert report.returncode == 0, report.stderr
    assert "report of 2 runs" in report.stdout
    page = (third / "reports" / "index.html").read_text()
    assert SECRET not in page + report.stdout + report.stderr and "lab:***@127.0.0.1" in page


@pytest.mark.cluster
def test_eight_concurrent_writers_lose_nothing(server, tmp_path):
    url = server[0]
    ready = time.time() + 8  # all start writing at once, after their imports
    code = f"import sys; from testkit.cluster import write_run; write_run(sys.argv[1], int(sys.argv[2]), {ready})"
    env = {**project_env(tmp_path), "MLFLOW_TRACKING_URI": url, "PYTHONPATH": str(PROJECT)}
    writers = [
        subprocess.Popen([sys.executable, "-c", code, url, str(i)], cwd=tmp_path, env=env, stderr=subprocess.PIPE)
        for i in range(8)
    ]
    errors = [w.communicate(timeout=300)[1].decode() for w in writers]
    assert all(w.returncode == 0 for w in writers), errors

    from mlflow import MlflowClient

    client = MlflowClient(url)
    experiment = client.get_experiment_by_name("vae-pipe")
    runs = client.search_runs([experiment.experiment_id], filter_string="tags.writer != ''")
    assert sorted(int(r.data.tags["writer"]) for r in runs) == list(range(8))
    for run in runs:
        index = int(run.data.tags["writer"])
        history = client.get_metric_history(run.info.run_id, "train.loss")
        assert sorted((m.step, m.value) for m in history) == [(s, float(s * index)) for s in range(1, 51)]
        assert run.data.metrics["elbo"] == -float(index) and run.info.status == "FINISHED"
        assert run.data.params["seed"] == str(index)
