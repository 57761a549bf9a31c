"""The model side's configs, each built from validated params in one function: params.yaml and its schema
are the only place defaults live, so nothing here can drift from them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.params import Params

if TYPE_CHECKING:
    import torch

    from vae.model import ModelConfig
    from vae.objectives import Objective
    from vae.train import TrainConfig


def model_config(params: Params) -> ModelConfig:
    from vae.model import ModelConfig

    return ModelConfig(**params.model.model_dump())


def objective(params: Params) -> Objective:
    from vae.objectives import BetaVAE

    return BetaVAE(beta=params.beta)


def train_config(params: Params, device: torch.device) -> TrainConfig:
    """`train.precision: auto` is resolved for `device` here; `train.device` was used to pick it."""
    from vae.train import TrainConfig, resolve_precision

    # Checkpointing is the stage's business (pipeline/stages/train.py), not the loop's config.
    settings = params.train.model_dump(exclude={"device", "precision", "checkpoint_every", "checkpoint_minutes"})
    return TrainConfig(
        objective=objective(params), precision=resolve_precision(params.train.precision, device), **settings
    )
