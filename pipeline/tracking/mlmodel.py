"""Each trained model as an MLflow Model beside the run's raw files: `runs:/<run id>/model`.

The stages never read it: they load `models/model.pt` as tensors only (weights_only, vae/checkpoint.py).
This copy is for people: MLflow's pytorch flavour pickles the whole module (a `LoggedVAE`), so
`mlflow.pytorch.load_model` gives back the VAE with its methods, and its pyfunc flavour (what
`mlflow.pyfunc.load_model` and `mlflow models serve` run) calls `forward`, which encodes images to their
posterior means. Unpickling runs code from the file: load only models of stores you trust, with vae-pipe
installed (the pickle names its classes, it does not carry them).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from pipeline.core.paths import Outputs
from vae.checkpoint import load_tensors
from vae.model import VAE, ModelConfig

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from pipeline.tracking.store import ModelRun

LOGGED_MODEL_NAME = "model"  # runs:/<run id>/model, beside the raw files under the run's artifacts `model/`


class LoggedVAE(VAE):
    """The VAE as MLflow logs it. `forward(images)` is the encoder's posterior mean μ (what a pyfunc
    `predict` and the model server return); `encode`, `decode` and `decode_mean` are the VAE's, and
    `sample` draws images from the prior."""

    def forward(self, x: Tensor) -> Tensor:  # type: ignore[override]
        """(B, C, H, W) images in [0, 1] → (B, latent_dim) posterior means."""
        return self.encode(x)[0]

    def decode_mean(self, z: Tensor) -> Tensor:
        """(B, latent_dim) codes → (B, C, H, W) images in [0, 1]: what the decoder's output stands for
        under the model's likelihood (`decode` gives the raw output, logits for a Bernoulli decoder)."""
        return self.likelihood.mean(self.decode(z))

    @torch.no_grad()  # not inference mode: the images may go on into autograd (encode them, say)
    def sample(self, n: int, seed: int | None = None) -> Tensor:
        """`n` images decoded from z ~ N(0, I); `seed` makes the draw repeatable."""
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        z = torch.randn(n, self.config.latent_dim, generator=generator)
        return self.decode_mean(z.to(next(self.parameters()).device))


def model_uri(run_id: str) -> str:
    return f"runs:/{run_id}/{LOGGED_MODEL_NAME}"


def from_outputs(out: Outputs) -> LoggedVAE:
    """The trained model of `out` (model card and weights, read as tensors only) as a LoggedVAE on the CPU."""
    card = json.loads(out.model_card.read_text())
    model = LoggedVAE(ModelConfig(**card["config"]))
    model.load_state_dict(load_tensors(out.model))
    return model.eval()


def logged_model_id(mlflow_client: MlflowClient, run_id: str) -> str | None:
    """The id of the run's MLflow Model (what a registered version points at), or None when it has none."""
    experiment = mlflow_client.get_run(run_id).info.experiment_id
    found = mlflow_client.search_logged_models(
        [experiment], filter_string=f"name = '{LOGGED_MODEL_NAME}' AND source_run_id = '{run_id}'", max_results=1
    )
    return found[0].model_id if found else None


def has_logged_model(run: ModelRun) -> bool:
    """Whether the run already holds its MLflow Model (a retry or a repair logs none twice)."""
    return logged_model_id(run.client, run.run_id) is not None


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Without MLflow's warning that pickling runs code on load (said once, in this module's docstring and
    docs/models.md) and its per-download progress bars."""
    import os

    logger = logging.getLogger("mlflow.pytorch")
    level, bars = logger.level, os.environ.get("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")
    logger.setLevel(logging.ERROR)
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    try:
        yield
    finally:
        logger.setLevel(level)
        if bars is None:
            os.environ.pop("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", None)
        else:
            os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = bars


def log_logged_model(run: ModelRun, out: Outputs) -> str:
    """Log the trained model of `out` as the run's MLflow Model, with a signature (images in, means out)
    and an input example (the image the model decodes at z = 0); returns the logged model's id. Explicit
    pip requirements: MLflow would otherwise load the model in a subprocess to infer them (seconds)."""
    import mlflow
    import mlflow.pytorch
    from mlflow.models import infer_signature

    model = from_outputs(out)
    with torch.inference_mode():
        example = model.decode_mean(torch.zeros(1, model.config.latent_dim))
        signature = infer_signature(example.numpy(), model(example).numpy())
    info = run.client.get_run(run.run_id)
    # Created here, in the run's experiment: MLflow's own creation would use the process's active experiment.
    logged = run.client.create_logged_model(
        info.info.experiment_id, name=LOGGED_MODEL_NAME, source_run_id=run.run_id, params=info.data.params
    )
    mlflow.set_tracking_uri(run.client.tracking_uri)
    with _quiet():
        mlflow.pytorch.log_model(
            model,
            name=LOGGED_MODEL_NAME,
            run_id=run.run_id,
            model_id=logged.model_id,
            signature=signature,
            input_example=example.numpy(),
            serialization_format="pickle",
            pip_requirements=mlflow.pytorch.get_default_pip_requirements(),
        )
    return logged.model_id
