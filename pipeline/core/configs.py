"""The model side's configs, each built from validated params in one function: params.yaml and its schema
are the only place defaults live, so nothing here can drift from them."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pipeline.core.choices import resolve_arch, resolve_likelihood
from pipeline.core.objectives import OBJECTIVE_NAMES
from pipeline.core.params import Params

if TYPE_CHECKING:
    import torch

    from vae.likelihoods import Likelihood
    from vae.model import ModelConfig
    from vae.objectives import Objective
    from vae.train import TrainConfig


def model_config(params: Params) -> ModelConfig:
    """`auto` arch and likelihood resolved for the dataset (pipeline.core.choices), with its image shape."""
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


def _beta_vae(params: Params, dataset_size: int | None, nll: Likelihood) -> Objective:
    from vae.objectives import BetaVAE

    return BetaVAE(beta=params.beta, likelihood=nll)


def _capacity(params: Params, dataset_size: int | None, nll: Likelihood) -> Objective:
    from vae.objectives import AnnealedCapacity

    return AnnealedCapacity(**params.objective.capacity.model_dump(), likelihood=nll)


def _tc_vae(params: Params, dataset_size: int | None, nll: Likelihood) -> Objective:
    from vae.objectives import BetaTCVAE

    if dataset_size is None:
        raise ValueError("model.objective tc_vae: the dataset size must be given")
    return BetaTCVAE(
        beta=params.beta, dataset_size=dataset_size, **params.objective.tc_vae.model_dump(), likelihood=nll
    )


def _factor_vae(params: Params, dataset_size: int | None, nll: Likelihood) -> Objective:
    from vae.objectives import Discriminator, FactorVAE

    fv = params.objective.factor_vae
    discriminator = Discriminator(params.model.latent_dim, fv.disc_hidden, fv.disc_layers)
    return FactorVAE(fv.gamma, discriminator, lr=fv.disc_lr, betas=(fv.disc_beta1, fv.disc_beta2), likelihood=nll)


BUILDERS: dict[str, Callable[[Params, int | None, Likelihood], Objective]] = {
    "beta_vae": _beta_vae,
    "capacity": _capacity,
    "tc_vae": _tc_vae,
    "factor_vae": _factor_vae,
}
"""(params, dataset size, likelihood) → the objective, for each entry of pipeline/core/objectives.py."""
assert set(BUILDERS) == set(OBJECTIVE_NAMES), "every registered objective needs its builder, and only those"


def objective(params: Params, dataset_size: int | None = None) -> Objective:
    """`model.objective` with its settings. `dataset_size` (the data the objective trains or is evaluated
    on) enters β-TCVAE's estimator of q(z), so it comes from the data, never a constant."""
    return BUILDERS[params.model.objective](params, dataset_size, likelihood(params))


def train_config(params: Params, device: torch.device, dataset_size: int | None = None) -> TrainConfig:
    """`train.precision: auto` is resolved for `device` here (`train.device` was used to pick it), and
    `train.compile: auto` for the run's length."""
    from vae.train import TrainConfig, resolve_compile, resolve_precision

    # Checkpointing is the stage's business (pipeline/stages/train.py), not the loop's config.
    excluded = {"device", "precision", "compile", "checkpoint_every", "checkpoint_minutes"}
    settings = params.train.model_dump(exclude=excluded)
    return TrainConfig(
        objective=objective(params, dataset_size),
        precision=resolve_precision(params.train.precision, device),
        compile=resolve_compile(params.train.compile, params.train.steps),
        **settings,
    )
