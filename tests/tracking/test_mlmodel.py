"""Every recorded run holds its trained model as an MLflow Model (`runs:/<id>/model`): the pytorch flavour
gives the VAE back, the pyfunc flavour and `mlflow models serve` encode images to posterior means, and a
repair logs it once, never twice."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch

from pipeline.core.params import parse_params
from pipeline.tracking.mlmodel import LOGGED_MODEL_NAME, LoggedVAE, from_outputs, has_logged_model, model_uri
from pipeline.tracking.record import log_stage
from pipeline.tracking.store import ModelRun, tracking_uri
from testkit.runs import SMALL_MODEL, finished_run, write_outputs

pytestmark = pytest.mark.e2e  # MLflow models written, unpickled and served: seconds, not milliseconds


@pytest.fixture(autouse=True)
def default_store(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def images(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 1, 64, 64), dtype=np.float32)


def encoder_means(run_root: Path, name: str, batch: np.ndarray) -> np.ndarray:
    """μ from the run's own weights file, through the stages' tensors-only reader."""
    model = from_outputs(write_outputs_path(run_root, name))
    with torch.inference_mode():
        return model.encode(torch.from_numpy(batch))[0].numpy()


def write_outputs_path(root: Path, name: str):
    from pipeline.core.paths import Outputs

    return Outputs(root / "outputs" / name)


def test_the_pytorch_and_pyfunc_flavours_give_the_vae_and_its_means(tmp_path):
    import mlflow

    run_id = finished_run(tmp_path, "exp-a", SMALL_MODEL, {"mig": 0.1})
    mlflow.set_tracking_uri(tracking_uri(tmp_path))
    batch = images(3)
    expected = encoder_means(tmp_path, "exp-a", batch)

    model = mlflow.pytorch.load_model(model_uri(run_id))
    assert isinstance(model, LoggedVAE)
    with torch.inference_mode():
        mu, logvar = model.encode(torch.from_numpy(batch))
        np.testing.assert_array_equal(mu.numpy(), expected)
        assert logvar.shape == (3, 4)
        assert model.decode(mu).shape == (3, 1, 64, 64)
    drawn = model.sample(5, seed=0)
    assert drawn.shape == (5, 1, 64, 64) and drawn.min() >= 0 and drawn.max() <= 1
    torch.testing.assert_close(drawn, model.sample(5, seed=0))

    predicted = mlflow.pyfunc.load_model(model_uri(run_id)).predict(batch)
    np.testing.assert_allclose(predicted, expected, rtol=1e-6, atol=1e-6)
    info = mlflow.models.get_model_info(model_uri(run_id))
    (images_in,), (means_out,) = info.signature.inputs.inputs, info.signature.outputs.inputs
    assert (images_in.type, images_in.shape) == (np.dtype("float32"), (-1, 1, 64, 64))
    assert (means_out.type, means_out.shape) == (np.dtype("float32"), (-1, 4))
    # The raw files stay where the stages' readers and the report find them.
    artifacts = {a.path for a in mlflow.MlflowClient(tracking_uri(tmp_path)).list_artifacts(run_id, "model")}
    assert {"model/model.pt", "model/model.json", "model/MLmodel"} <= artifacts


def test_a_repeated_record_logs_the_model_once(tmp_path):
    params = parse_params(SMALL_MODEL)
    out = write_outputs(tmp_path / "out", params)
    run = ModelRun.open(tmp_path, "key", params)
    assert not has_logged_model(run)
    log_stage(run, out, "train")
    log_stage(run, out, "train", artifacts=False)  # what the evaluate stage's record and a repair do
    log_stage(run, out, "train")
    experiment = run.client.get_run(run.run_id).info.experiment_id
    logged = run.client.search_logged_models([experiment], filter_string=f"source_run_id = '{run.run_id}'")
    assert [model.name for model in logged] == [LOGGED_MODEL_NAME]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_mlflow_models_serve_answers_an_encode_request(tmp_path):
    run_id = finished_run(tmp_path, "exp-a", SMALL_MODEL, {"mig": 0.1})
    batch = images(2, seed=7)
    expected = encoder_means(tmp_path, "exp-a", batch)
    port = _free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri(tmp_path), "MLFLOW_DISABLE_TELEMETRY": "true"}
    mlflow_cli = [sys.executable, "-m", "mlflow"]
    command = [*mlflow_cli, "models", "serve", "-m", model_uri(run_id), "--env-manager", "local"]
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [*command, "-h", "127.0.0.1", "-p", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2):
                    break
            except OSError:
                assert server.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() < deadline, "the model server did not answer /ping within 90 s"
                time.sleep(0.5)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            data=json.dumps({"inputs": batch.tolist()}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            predictions = np.asarray(json.loads(answer.read())["predictions"], dtype=np.float32)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    np.testing.assert_allclose(predictions, expected, rtol=1e-5, atol=1e-6)
