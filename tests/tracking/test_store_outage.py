"""The tracking server dies mid-training (issue 27): the training goes on and writes its outputs, one line
says that recording is behind, and `vae-pipe record` completes the run once the server is back."""

from __future__ import annotations

import threading
import time
from urllib.parse import urlsplit

import pytest

from testkit.cluster import kill_tree, mlflow_server

pytestmark = pytest.mark.e2e
STEPS, LOG_EVERY = 400, 5


def test_training_outlives_its_tracking_server_and_the_run_is_completed_later(make_project, tmp_path):
    project = make_project({"train": {"steps": STEPS, "log_every": LOG_EVERY, "checkpoint_every": 50}})
    project.env["OMP_NUM_THREADS"] = "1"  # beside other tests on 2 cores: oversubscribed threads crawl
    project.run("dvc", "repro", "prepare")
    folder = tmp_path / "server"
    backend = f"sqlite:///{folder}/server.db"
    with mlflow_server(backend, folder, project.env) as (url, server):
        project.env["MLFLOW_TRACKING_URI"] = url
        killed = threading.Event()

        def kill_mid_training() -> None:  # once the first checkpoint exists: curve points are being logged
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and not killed.is_set():
                if list((project.root / ".checkpoints").glob("*/*")):
                    kill_tree(server.pid)
                    killed.set()
                time.sleep(0.1)

        killer = threading.Thread(target=kill_mid_training, daemon=True)
        killer.start()
        started = time.monotonic()
        train = project.run("dvc", "repro", "train", check=False, timeout=600)
        seconds = time.monotonic() - started
        killer.join(5)
    assert killed.is_set(), "the server was never killed mid-training"
    assert train.returncode == 0, train.stderr
    assert (project.root / "models" / "model.pt").is_file()
    behind = [line for line in train.stderr.splitlines() if "MLflow recording is behind" in line]
    assert len(behind) == 1, train.stderr
    said = [line for line in train.stderr.splitlines() if not line.startswith("step ")]  # less the progress lines
    assert said == behind and "Traceback" not in train.stdout, train.stderr
    print(f"training with the server killed: {seconds:.0f} s, said: {said}")

    port = urlsplit(url).port
    with mlflow_server(backend, folder, project.env, port=port):
        record = project.run("vae-pipe", "record")
        assert "recorded train outputs in MLflow run" in record.stdout

        import mlflow
        from mlflow import MlflowClient

        client = MlflowClient(url)
        mlflow.set_tracking_uri(url)  # listing `model/` resolves the run's MLflow Model through the default store
        runs = client.search_runs([client.get_experiment_by_name("vae-pipe").experiment_id])
        assert len(runs) == 1 and runs[0].info.status == "FINISHED"
        steps = [m.step for m in client.get_metric_history(runs[0].info.run_id, "train.loss")]
        assert sorted(steps) == list(range(LOG_EVERY, STEPS + 1, LOG_EVERY))  # every point once
        listed = {a.path for a in client.list_artifacts(runs[0].info.run_id, "model")}
        assert {"model/model.pt", "model/curves.csv"} <= listed

        project.set_params({"beta": 5.0})  # outputs of other params are never recorded under this key
        stale = project.run("vae-pipe", "record", check=False)
        assert stale.returncode == 2 and "the outputs of train are not current for params.yaml" in stale.stderr
