"""The tracking store is checked before work, created safely by concurrent processes, and holds one run
per experiment: find-or-create by inputs key is atomic across processes."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest

from pipeline.core.errors import TrackingError
from pipeline.core.params import parse_params
from pipeline.tracking.store import INPUTS_KEY_TAG, check_store, client, experiment_id

WRITERS = 8


def _open_runs(root: str, keys: list[str], barrier, results) -> None:
    """Open one run per key, each time together with the other processes (the first on a new store)."""
    from pipeline.tracking.store import ModelRun

    params = parse_params({"beta": 1.0})
    for key in keys:
        barrier.wait()  # every process is past its imports: they hit the store at once
        try:
            results.put((key, ModelRun.open(Path(root), key, params).run_id))
        except Exception as error:  # reported to the test, not lost in a child's stderr
            results.put((key, f"error: {error!r}"))


def _keyed_runs(root: Path) -> list:
    mlflow_client = client(root)
    return mlflow_client.search_runs([experiment_id(mlflow_client, root)])


@pytest.mark.e2e  # 8 processes importing MLflow: tens of seconds on 2 cores
def test_eight_writers_on_a_fresh_store_then_eight_on_one_key(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(WRITERS), context.Queue()
    workers = [
        context.Process(target=_open_runs, args=(str(tmp_path), [f"key-{i}", "shared"], barrier, results))
        for i in range(WRITERS)
    ]
    for worker in workers:
        worker.start()
    opened = [results.get(timeout=300) for _ in range(2 * WRITERS)]
    for worker in workers:
        worker.join(timeout=60)
    assert not [item for item in opened if item[1].startswith("error")], opened
    own = {run_id for key, run_id in opened if key != "shared"}
    shared = {run_id for key, run_id in opened if key == "shared"}
    assert len(own) == WRITERS and len(shared) == 1
    runs = _keyed_runs(tmp_path)
    assert len(runs) == WRITERS + 1
    assert sorted(run.data.tags[INPUTS_KEY_TAG] for run in runs) == sorted(
        [f"key-{i}" for i in range(WRITERS)] + ["shared"]
    )


def test_a_run_is_found_again_by_its_key_and_keeps_its_lifecycle(tmp_path, monkeypatch):
    from pipeline.tracking.store import ModelRun

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    params = parse_params({"beta": 2.0})
    training = ModelRun.open(tmp_path, "k", params, running=True)
    assert training.client.get_run(training.run_id).info.status == "RUNNING"
    training.log_step({"train.loss": 3.0}, 5)
    training.end("KILLED")
    resumed = ModelRun.open(tmp_path, "k", params, running=True)
    assert resumed.run_id == training.run_id
    assert resumed.client.get_run(resumed.run_id).info.status == "RUNNING"
    assert resumed.logged_steps("train.loss") == 5
    resumed.log_curves([{"step": "5", "loss": "3.0"}, {"step": "10", "loss": "2.0"}])
    history = resumed.client.get_metric_history(resumed.run_id, "train.loss")
    assert [(m.step, m.value) for m in history] == [(5, 3.0), (10, 2.0)]
    resumed.end("FINISHED")
    assert ModelRun.open(tmp_path, "other", params).client.get_run(resumed.run_id).info.status == "FINISHED"


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("nonsense", "MLFLOW_TRACKING_URI='nonsense' is not a store URI"),
        ("http://127.0.0.1:9", "MLflow tracking store http://127.0.0.1:9 (MLFLOW_TRACKING_URI): no answer (tried 3"),
        ("sqlite:////no/such/folder/mlflow.db", "MLflow tracking store sqlite:////no/such/folder/mlflow.db: folder"),
        ("file:///{tmp}/mlruns", "MLflow tracking store file:///"),
    ],
)
def test_a_bad_store_is_one_line_within_seconds(tmp_path, monkeypatch, uri, message):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri.format(tmp=tmp_path))
    started = time.monotonic()
    with pytest.raises(TrackingError) as error:
        check_store(tmp_path)
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)
    assert time.monotonic() - started < 30
    assert not Path("/no").exists()
    if uri.startswith("file:"):  # MLflow's own hint, at the end of its message, is kept
        assert str(error.value).endswith("set `MLFLOW_ALLOW_FILE_STORE=true` to opt out of this exception.")


def test_a_deleted_experiment_is_one_line(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    exp_id = check_store(tmp_path)
    client(tmp_path).delete_experiment(exp_id)
    with pytest.raises(TrackingError, match="MLflow experiment 'vae-pipe' in sqlite:///.* is deleted: restore it"):
        check_store(tmp_path)


@pytest.mark.parametrize("server", ["closed port", "accepts and never answers"])
def test_a_database_that_does_not_answer_is_one_line_within_seconds(tmp_path, monkeypatch, server):
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # the kernel completes the handshake; nobody ever answers
        port = 9 if server == "closed port" else silent.getsockname()[1]
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"postgresql+psycopg://lab:s3cret@127.0.0.1:{port}/mlflow")
        started = time.monotonic()
        with pytest.raises(TrackingError) as error:
            check_store(tmp_path)
    assert time.monotonic() - started < 15  # MLflow alone retried for about 100 s
    message = str(error.value)
    assert message.startswith(f"MLflow tracking store postgresql+psycopg://lab:***@127.0.0.1:{port}/mlflow")
    assert "cannot be reached within 5 s" in message and "s3cret" not in message and "\n" not in message


def _clone(folder: Path) -> Path:
    (folder / ".git").mkdir(parents=True)
    return folder


def test_a_database_server_needs_a_shared_artifact_location(tmp_path, monkeypatch):
    """Several clones on one database: the experiment's artifacts must not land in whichever clone came first."""
    from pipeline.tracking.store import _new_artifact_location

    clone = _clone(tmp_path / "clone-a")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "postgresql://lab:s3cret@db.lab:5432/mlflow")
    monkeypatch.delenv("VAE_PIPE_ARTIFACT_ROOT", raising=False)
    with pytest.raises(TrackingError, match=r"is a database that other clones may share: set VAE_PIPE_ARTIFACT_ROOT"):
        _new_artifact_location(clone)
    monkeypatch.setenv("VAE_PIPE_ARTIFACT_ROOT", "s3://lab/vae-pipe")
    assert _new_artifact_location(clone) == "s3://lab/vae-pipe"
    monkeypatch.setenv("VAE_PIPE_ARTIFACT_ROOT", "../shared")  # relative: to the repository, not the cwd
    assert _new_artifact_location(clone) == (tmp_path / "shared").resolve().as_uri()


def test_a_sqlite_file_keeps_artifacts_beside_it_for_every_clone(tmp_path, monkeypatch):
    first, other = _clone(tmp_path / "clone-a"), _clone(tmp_path / "clone-c")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'shared.db'}")
    exp_id = check_store(first)
    assert client(first).get_experiment(exp_id).artifact_location == (tmp_path / "mlruns").resolve().as_uri()
    assert check_store(other) == exp_id


def test_an_experiment_whose_artifacts_live_in_another_clone_is_refused(tmp_path, monkeypatch):
    first, other = _clone(tmp_path / "clone-a"), _clone(tmp_path / "clone-c")
    uri = f"sqlite:///{tmp_path / 'shared.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    from mlflow import MlflowClient

    MlflowClient(uri).create_experiment("vae-pipe", artifact_location=(first / "mlruns").as_uri())  # MLflow's default
    assert check_store(first)  # its own clone: fine
    with pytest.raises(TrackingError) as error:
        check_store(other)
    assert f"keeps its artifacts in {first / 'mlruns'}, inside another clone ({first})" in str(error.value)
    assert "\n" not in str(error.value)
