"""Finished MLflow runs in milliseconds: a freshly initialised model's outputs, written as the train and evaluate
stages write them and recorded through the same path (pipeline.tracking.record.log_stage). No training:
tests of what a run holds (its MLflow Model, the registry, the Python API) need real files, not a good model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from pipeline.core.codes import Codes, write_codes
from pipeline.core.configs import model_config
from pipeline.core.curves import write_curves
from pipeline.core.params import Params, parse_params
from pipeline.core.paths import Outputs
from pipeline.tracking.record import log_stage
from pipeline.tracking.store import EXP_NAME_TAG, ModelRun
from vae.checkpoint import save_tensors, save_weights, weights_digest
from vae.model import VAE

# A small conv net on dSprites' 64×64 images: the architecture `make run` trains, at a tenth of its width.
SMALL_MODEL = {"model": {"hidden_dim": 32, "latent_dim": 4}}


def write_outputs(folder: Path, params: Params, seed: int = 0) -> Outputs:
    """The train stage's files for an untrained model of `params` (weights from `seed`) under `folder`."""
    out = Outputs(folder)
    out.model.parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = VAE(model_config(params))
    save_weights(model, out.model)
    save_tensors({}, out.objective_state)
    write_curves(out.curves, [{"step": 1, "loss": 2.0, "recon": 1.5, "kl": 0.5, "images_per_s": 100.0}])
    card = {
        "digest": weights_digest(model),
        "config": model.config.to_dict(),
        "params": params.flat(),
        "train_seconds": 1.0,
        "images_per_s": 100.0,
        "precision": "fp32",
        "compile": False,
    }
    out.model_card.write_text(json.dumps(card))
    return out


def finished_run(
    root: Path,
    name: str,
    raw_params: dict,
    metrics: dict[str, float],
    sweep: str | None = None,
    seed: int = 0,
) -> str:
    """A FINISHED run in the store at `root` (SQLite by default, or MLFLOW_TRACKING_URI) of DVC experiment
    `name`, with its model files, MLflow Model and `metrics`; in `sweep` when given. Returns the run id."""
    params = parse_params(raw_params)
    out = write_outputs(root / "outputs" / name, params, seed)
    out.metrics.parent.mkdir(parents=True, exist_ok=True)
    out.metrics.write_text(json.dumps(metrics))
    out.details.write_text("{}")
    latents = params.model.latent_dim  # the codes evaluate saves for UDR, here of 8 rows at the prior
    write_codes(out.codes, Codes(np.arange(8), np.zeros((8, latents)), np.zeros((8, latents))))
    run = ModelRun.open(root, f"key-{name}", params, {EXP_NAME_TAG: name})
    log_stage(run, out, "train")
    log_stage(run, out, "evaluate")
    if sweep:
        run.add_to_sweep(sweep)
    return run.run_id
