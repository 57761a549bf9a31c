"""The objectives, one registry entry each: its weight param, its title, and the settings that tell its runs
apart (derived from the params schema, so a new hyperparameter is picked up). The schema's `model.objective`
choices, the report's titles, axes and legends come from here; pipeline/core/configs.py builds each one
(checked against this registry at import). Adding an objective is this entry, its builder, its class in
vae/objectives.py and its params section. Light on purpose: params validation imports it.
Also the words for objectives from flat params (`params.flat()` or an MLflow run's params)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.core.params import Params


@dataclass(frozen=True)
class ObjectiveEntry:
    name: str  # `model.objective`
    title: str
    weight_key: str  # the flat param its runs are compared on (the report's x axis)
    uses_beta: bool  # whether the top-level `beta` is one of its settings

    @property
    def setting_keys(self) -> tuple[str, ...]:
        """`beta` if it uses it, then every field of its `objective.<name>` params section, in schema order:
        runs that differ in any of them are never pooled."""
        from pipeline.core.params import ObjectiveParams

        section = ObjectiveParams.model_fields.get(self.name)
        fields = tuple(section.annotation.model_fields) if section is not None else ()
        return ("beta",) * self.uses_beta + tuple(f"objective.{self.name}.{field}" for field in fields)


REGISTRY: dict[str, ObjectiveEntry] = {
    entry.name: entry
    for entry in (
        ObjectiveEntry("beta_vae", "β-VAE", "beta", True),  # Higgins et al. 2017
        ObjectiveEntry("capacity", "annealed capacity", "objective.capacity.c_max", False),  # Burgess 2018
        ObjectiveEntry("tc_vae", "β-TCVAE", "beta", True),  # Chen et al. 2018
        ObjectiveEntry("factor_vae", "FactorVAE", "objective.factor_vae.gamma", False),  # Kim & Mnih
    )
}
OBJECTIVE_NAMES: tuple[str, ...] = tuple(REGISTRY)
DEFAULT_OBJECTIVE = "beta_vae"  # runs recorded before `model.objective` existed were β-VAEs
TITLES = {name: entry.title for name, entry in REGISTRY.items()}
WEIGHT_KEYS = {name: entry.weight_key for name, entry in REGISTRY.items()}


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
    entry = REGISTRY.get(name)
    keys = [k for k in (entry.setting_keys if entry else ()) if with_weight or k != WEIGHT_KEYS.get(name)]
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
