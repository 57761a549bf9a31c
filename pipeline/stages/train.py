"""Stage `train`: one β-VAE from the prepared data; weights, model card and training curves."""

from __future__ import annotations

import csv
import json
import time
from dataclasses import asdict
from pathlib import Path

from pipeline.artifacts import load_train_images, model_config
from pipeline.params import Params
from pipeline.paths import Outputs, atomic_path, repo_root, write_text_atomic
from pipeline.progress import training_progress
from pipeline.tracking import ModelRun
from vae.batches import to_device
from vae.checkpoint import save_weights, weights_digest
from vae.model import VAE
from vae.seeding import pick_device, seed_everything
from vae.train import CurvePoint, TrainConfig, resolve_precision, train_vae


def write_curves(path: Path, curve: list[CurvePoint]) -> None:
    with atomic_path(path) as tmp, tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(asdict(curve[0])))
        writer.writeheader()
        writer.writerows(asdict(point) for point in curve)


def run(params: Params, out: Outputs) -> str:
    """Returns the weights digest, the model's identity in MLflow."""
    generator = seed_everything(params.seed)
    device = pick_device(params.train.device)
    train_images = load_train_images(out)
    model = VAE(model_config(params))
    config = TrainConfig(
        beta=params.beta, steps=params.train.steps, batch_size=params.train.batch_size,
        lr=params.train.lr, log_every=params.train.log_every,
        precision=resolve_precision(params.train.precision, device), compile=params.train.compile,
    )
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
        "config": model_config(params).to_dict(),
        "params": params.flat(),
        "device": str(device),
        "precision": config.precision,
        "train_seconds": round(seconds, 2),
        "images_per_s": round(config.steps * config.batch_size / seconds, 1),
    }
    write_text_atomic(out.model_card, json.dumps(card, indent=2) + "\n")

    run = ModelRun.open(repo_root(), digest, params)
    run.log_curves(asdict(point) for point in curve)
    run.log_metrics({"train.seconds": seconds, "train.images_per_s": card["images_per_s"]})
    run.log_artifacts([out.model, out.model_card, out.curves], "model")
    return digest
