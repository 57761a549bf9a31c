"""The model side's configs, each built from validated params in one function: params.yaml and its schema
are the only place defaults live, so nothing here can drift from them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.choices import resolve_arch, resolve_likelihood
from pipeline.params import Params

if TYPE_CHECKING:
    import torch

    from vae.likelihoods import Likelihood
    from vae.model import ModelConfig
    from vae.objectives import Objective
    from vae.train import TrainConfig


def model_config(params: Params) -> ModelConfig:
    """`auto` arch and likelihood resolved for the dataset (pipeline.choices), with its image shape."""
    from vae.datasets import dataset_info
    from vae.model import ModelConfig

    dataset = params.data.dataset
    return ModelConfig(
        arch=resolve_arch(dataset, params.model.arch),
        latent_dim=params.model.latent_dim,
        hidden_dim=params.model.hidden_dim,
        image_shape=dataset_info(dataset).image_shape,
        likelihood=resolve_likelihood(dataset, params.model.likelihood),
        gaussian_std=params.model.gaussian_std,
    )


def likelihood(params: Params) -> Likelihood:
    from vae.likelihoods import Likelihood

    config = model_config(params)
    return Likelihood(config.likelihood, config.gaussian_std)


def objective(params: Params) -> Objective:
    from vae.objectives import BetaVAE

    return BetaVAE(beta=params.beta, likelihood=likelihood(params))


def train_config(params: Params, device: torch.device) -> TrainConfig:
    """`train.precision: auto` is resolved for `device` here; `train.device` was used to pick it."""
    from vae.train import TrainConfig, resolve_precision

    settings = params.train.model_dump(exclude={"device", "precision"})
    return TrainConfig(
        objective=objective(params), precision=resolve_precision(params.train.precision, device), **settings
    )
