"""The benchmarked model, objective and training settings: params.yaml's defaults through pipeline.core.configs,
never a copy of them, so the benchmark measures what `vae-pipe train` runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.core.configs import model_config, objective
from pipeline.core.params import Params

if TYPE_CHECKING:
    from vae.model import VAE
    from vae.objectives import Objective
    from vae.train import TrainConfig

DEFAULTS = Params()
LR = DEFAULTS.train.lr  # the bare loop's and the DataLoader baseline's Adam


def default_model() -> VAE:
    from vae.model import VAE

    return VAE(model_config(DEFAULTS))


def default_objective() -> Objective:
    return objective(DEFAULTS)


def bench_train_config(steps: int, batch_size: int, precision: str, compile: bool = False) -> TrainConfig:
    """The default training settings with the benchmark's budget, batch and (resolved) precision; one
    curve point per call, so logging costs nothing measurable."""
    from dataclasses import replace

    import torch

    from pipeline.core.configs import train_config

    train = DEFAULTS.train.model_copy(update={"steps": steps, "batch_size": batch_size, "log_every": steps})
    config = train_config(DEFAULTS.model_copy(update={"train": train}), torch.device("cpu"))
    return replace(config, precision=precision, compile=compile)
