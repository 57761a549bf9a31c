"""Stage `train`: one β-VAE from the prepared data; weights, model card and training curves."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

from pipeline.artifacts import load_train_images
from pipeline.configs import model_config, train_config
from pipeline.params import Params
from pipeline.paths import Outputs, atomic_path, write_text_atomic
from pipeline.progress import training_progress
from pipeline.record import record_stage
from vae.batches import to_device
from vae.checkpoint import save_weights, weights_digest
from vae.model import VAE
from vae.seeding import pick_device, seed_everything
from vae.train import CurvePoint, train_vae


def write_curves(path: Path, curve: list[CurvePoint]) -> None:
    rows = [point.row() for point in curve]
    with atomic_path(path) as tmp, tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def run(params: Params, out: Outputs) -> str:
    """Returns the weights digest, the model's identity in MLflow."""
    generator = seed_everything(params.seed)
    device = pick_device(params.train.device)
    train_images = load_train_images(out, params.data.dataset)
    model = VAE(model_config(params))
    config = train_config(params, device)
    started = time.perf_counter()
    with training_progress(config.steps, config.batch_size) as on_log:
        curve = train_vae(model, to_device(train_images, device), config, generator, on_log)
    seconds = time.perf_counter() - started

    digest = weights_digest(model)
    with atomic_path(out.model) as tmp:
        save_weights(model, tmp)
    write_curves(out.curves, curve)
    card = {
        "digest": digest,
        "config": model.config.to_dict(),
        "params": params.flat(),
        "device": str(device),
        "precision": config.precision,
        "train_seconds": round(seconds, 2),
        "images_per_s": round(config.steps * config.batch_size / seconds, 1),
    }
    write_text_atomic(out.model_card, json.dumps(card, indent=2) + "\n")
    record_stage(params, out, "train")
    return digest
