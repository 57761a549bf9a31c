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

    return ModelConfig(**params.model.model_dump(exclude={"objective"}))


def objective(params: Params, dataset_size: int | None = None) -> Objective:
    """`model.objective` with its settings. `dataset_size` (the data the objective trains or is evaluated
    on) enters β-TCVAE's estimator of q(z), so it comes from the data, never a constant."""
    from vae import objectives

    name, settings = params.model.objective, params.objective
    if name == "capacity":
        return objectives.AnnealedCapacity(**settings.capacity.model_dump())
    if name == "tc_vae":
        if dataset_size is None:
            raise ValueError("model.objective tc_vae: the dataset size must be given")
        return objectives.BetaTCVAE(beta=params.beta, dataset_size=dataset_size, **settings.tc_vae.model_dump())
    if name == "factor_vae":
        fv = settings.factor_vae
        discriminator = objectives.Discriminator(params.model.latent_dim, fv.disc_hidden, fv.disc_layers)
        return objectives.FactorVAE(fv.gamma, discriminator, lr=fv.disc_lr, betas=(fv.disc_beta1, fv.disc_beta2))
    return objectives.BetaVAE(beta=params.beta)


def train_config(params: Params, device: torch.device, dataset_size: int | None = None) -> TrainConfig:
    """`train.precision: auto` is resolved for `device` here; `train.device` was used to pick it."""
    from vae.train import TrainConfig, resolve_precision

    # Checkpointing is the stage's business (pipeline/stages/train.py), not the loop's config.
    settings = params.train.model_dump(exclude={"device", "precision", "checkpoint_every", "checkpoint_minutes"})
    return TrainConfig(
        objective=objective(params, dataset_size),
        precision=resolve_precision(params.train.precision, device),
        **settings,
    )
