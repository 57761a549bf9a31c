"""Objectives in words, from flat params (`params.flat()` or an MLflow run's params): titles, the main
weight each objective's runs are compared on, and legends that carry the objective's hyperparameters."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pipeline.params import Params

DEFAULT_OBJECTIVE = "beta_vae"  # runs recorded before `model.objective` existed were β-VAEs
TITLES = {"beta_vae": "β-VAE", "capacity": "annealed capacity", "tc_vae": "β-TCVAE", "factor_vae": "FactorVAE"}
# The weight on the x axis per objective: β-VAE's and β-TCVAE's β, capacity's C_max, FactorVAE's γ.
WEIGHT_KEYS = {
    "beta_vae": "beta",
    "tc_vae": "beta",
    "capacity": "objective.capacity.c_max",
    "factor_vae": "objective.factor_vae.gamma",
}
SETTING_KEYS = {
    "beta_vae": ("beta",),
    "capacity": ("objective.capacity.gamma", "objective.capacity.c_max", "objective.capacity.anneal_steps"),
    "tc_vae": ("objective.tc_vae.alpha", "beta", "objective.tc_vae.gamma", "objective.tc_vae.sampling"),
    "factor_vae": (  # the discriminator's settings are FactorVAE's own too: runs differing in them are not pooled
        "objective.factor_vae.gamma",
        "objective.factor_vae.disc_hidden",
        "objective.factor_vae.disc_layers",
        "objective.factor_vae.disc_lr",
        "objective.factor_vae.disc_beta1",
        "objective.factor_vae.disc_beta2",
    ),
}
SYMBOLS = {
    "beta": "β",
    "gamma": "γ",
    "alpha": "α",
    "c_max": "C_max",
    "anneal_steps": "anneal steps",
    "disc_hidden": "disc. width",
    "disc_layers": "disc. layers",
    "disc_lr": "disc. lr",
    "disc_beta1": "disc. β1",
    "disc_beta2": "disc. β2",
}


def objective_name(flat: Mapping[str, Any]) -> str:
    return str(flat.get("model.objective") or DEFAULT_OBJECTIVE)


def symbol(key: str) -> str:
    last = key.rsplit(".", 1)[-1]
    return SYMBOLS.get(last, last)


def weight(flat: Mapping[str, Any]) -> float:
    """The objective's main weight (NaN when the run lacks that param)."""
    try:
        return float(flat[WEIGHT_KEYS.get(objective_name(flat), "beta")])
    except (KeyError, TypeError, ValueError):
        return math.nan


def _value(value: Any) -> str:
    try:
        return f"{float(value):g}"
    except (TypeError, ValueError):
        return str(value)


def describe(flat: Mapping[str, Any], with_weight: bool = True) -> str:
    """`β-TCVAE (α = 1, β = 4, γ = 1, sampling mws)`; without the weight for a legend whose x axis is it."""
    name = objective_name(flat)
    keys = [k for k in SETTING_KEYS.get(name, ()) if with_weight or k != WEIGHT_KEYS.get(name)]
    settings = [
        f"{symbol(k)} {flat[k]}" if symbol(k) == "sampling" else f"{symbol(k)} = {_value(flat[k])}"
        for k in keys
        if k in flat
    ]
    title = TITLES.get(name, name)
    return f"{title} ({', '.join(settings)})" if settings else title


def describe_objective(params: Params) -> str:
    return describe(params.flat())


def legend(flat: Mapping[str, Any]) -> str:
    """`β-TCVAE (α = 1, γ = 1, sampling mws); x: β`: the settings a line shares, and its x axis."""
    return f"{describe(flat, with_weight=False)}; x: {symbol(WEIGHT_KEYS.get(objective_name(flat), 'beta'))}"
