"""Stage `train`: one β-VAE from the prepared data; weights, model card and training curves."""

from __future__ import annotations

import json
import time

from pipeline.core import timings
from pipeline.core.configs import model_config, train_config
from pipeline.core.curves import write_curves
from pipeline.core.identity import checkpoint_folder, inputs_key
from pipeline.core.params import Params
from pipeline.core.paths import Outputs, atomic_path, repo_root, write_text_atomic
from pipeline.core.workspace import check_params_unchanged
from pipeline.stages.artifacts import load_texture, load_train_images
from pipeline.stages.progress import training_progress
from pipeline.tracking.record import record_stage, training_run
from vae.batches import to_device
from vae.checkpoint import save_tensors, save_weights, weights_digest
from vae.model import VAE
from vae.resume import Checkpoints
from vae.seeding import pick_device, seed_everything
from vae.train import CurvePoint, TrainConfig, TrainingDiverged, train_vae


def checkpoints_for(params: Params, key: str) -> Checkpoints:
    """The training's checkpoint, outside DVC's outputs (which DVC deletes before the stage runs)."""
    every = params.train
    return Checkpoints(checkpoint_folder(repo_root(), key), every.checkpoint_every, every.checkpoint_minutes * 60)


def run(params: Params, out: Outputs) -> str:
    """Returns the weights digest. Resumes from the checkpoint of a killed training with the same inputs;
    the MLflow run is the experiment's (pipeline/core/identity.py), RUNNING while it trains."""
    generator = seed_everything(params.seed)
    device = pick_device(params.train.device)
    with timings.phase("load data"):
        train_images = load_train_images(out, params.data.dataset)
        stored = to_device(train_images, device, load_texture(out))  # with scream-dSprites' background image
    model = VAE(model_config(params))
    config = train_config(params, device, dataset_size=len(train_images))
    key = inputs_key(out.root, params)
    checkpoints = checkpoints_for(params, key)
    started = time.perf_counter()
    with training_run(params, key) as log_point:
        with training_progress(config.steps, config.batch_size) as on_log:
            logging = [0.0]  # seconds spent logging step metrics to MLflow, for the timings

            def log(point: CurvePoint) -> None:
                on_log(point)
                begun = time.perf_counter()
                log_point(point)
                logging[0] += time.perf_counter() - begun

            try:
                with timings.phase("train loop"):
                    curve = train_vae(model, stored, config, generator, log, checkpoints)
            except TrainingDiverged as error:
                raise TrainingDiverged(
                    f"{error}; no model was written (train.lr = {params.train.lr:g}, beta = {params.beta:g})"
                ) from None
        seconds = time.perf_counter() - started
        timings.record("mlflow step metrics (within the train loop)", time.time() - logging[0], logging[0])
        steps_run = config.steps - checkpoints.resumed_from
        check_params_unchanged()  # before any output: never a model of other params than it records
        digest = _write_model(params, out, model, curve, config, device, seconds, steps_run)
        record_stage(params, out, "train", key)
    checkpoints.clear()  # the model is written: nothing left to resume
    return digest


def _write_model(
    params: Params,
    out: Outputs,
    model: VAE,
    curve: list[CurvePoint],
    config: TrainConfig,
    device,
    seconds: float,
    steps_run: int,
) -> str:
    """Weights, the objective's trained parts, curves and model card, each atomically; returns the weights digest."""
    digest = weights_digest(model)
    with atomic_path(out.model) as tmp:
        save_weights(model, tmp)
    with atomic_path(out.objective_state) as tmp:
        save_tensors(config.objective.trained_state(), tmp)
    write_curves(out.curves, [point.row() for point in curve])
    card = {
        "digest": digest,
        "config": model.config.to_dict(),
        "params": params.flat(),
        "device": str(device),
        "precision": config.precision,
        "compile": config.compile,  # as resolved (train.compile may say auto); a compiler failure ran eager
        "train_seconds": round(seconds, 2),  # of this process: a resumed training counts its own steps
        "images_per_s": round(steps_run * config.batch_size / seconds, 1),
        "resumed_from_step": config.steps - steps_run,
    }
    write_text_atomic(out.model_card, json.dumps(card, indent=2) + "\n")
    return digest


def main(params: Params, out: Outputs) -> list[str]:
    digest = run(params, out)
    return [f"train: β = {params.beta:g}, seed {params.seed} → {out.model.relative_to(out.root)} ({digest[:12]})"]
