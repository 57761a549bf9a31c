"""The objective registry: one entry per `model.objective`, each buildable, its settings from the schema."""

from __future__ import annotations

import pytest

from pipeline.core.configs import objective
from pipeline.core.objectives import REGISTRY, describe, legend
from pipeline.core.params import ObjectiveParams, parse_params


def test_every_objective_params_section_belongs_to_a_registered_objective():
    assert set(ObjectiveParams.model_fields) <= set(REGISTRY)


@pytest.mark.parametrize("name", list(REGISTRY))
def test_each_entry_builds_its_objective_and_names_its_weight(name):
    params = parse_params({"model": {"objective": name}})
    built = objective(params, dataset_size=1000)
    assert built.name == name
    entry = REGISTRY[name]
    assert entry.weight_key in params.flat() and set(entry.setting_keys) <= set(params.flat())
    assert entry.weight_key in entry.setting_keys


def test_settings_come_from_the_schema_so_legends_carry_every_hyperparameter():
    flat = parse_params({"model": {"objective": "tc_vae"}, "objective": {"tc_vae": {"alpha": 0.5}}}).flat()
    assert describe(flat) == "β-TCVAE (β = 4, α = 0.5, γ = 1, sampling mws)"
    assert legend(flat) == "β-TCVAE (α = 0.5, γ = 1, sampling mws); x: β"
