"""Each objective through the real training loop and built from params: its terms on the curve, finite,
deterministic for a seed; the β-VAE path is unchanged (tests/vae/test_model.py pins its weights)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pipeline.core.configs import model_config, objective, train_config
from pipeline.core.errors import ParamsError
from pipeline.core.objectives import describe, weight
from pipeline.core.params import Params, parse_params
from vae.checkpoint import weights_digest
from vae.model import VAE
from vae.seeding import seed_everything
from vae.train import train_vae

TERMS = {
    "beta_vae": ["loss", "recon", "kl"],
    "capacity": ["loss", "recon", "kl", "capacity"],
    "tc_vae": ["loss", "recon", "kl", "mi", "tc", "dim_kl"],
    "factor_vae": ["loss", "recon", "kl", "tc", "disc_loss", "disc_acc"],
}


def _params(name: str) -> Params:
    return parse_params(
        {
            "model": {"objective": name, "arch": "mlp", "latent_dim": 4, "hidden_dim": 16},
            "objective": {"capacity": {"anneal_steps": 8}, "factor_vae": {"disc_hidden": 16, "disc_layers": 2}},
            "train": {"steps": 8, "batch_size": 16, "log_every": 4, "precision": "fp32", "device": "cpu"},
        }
    )


def _train(name: str, seed: int = 0):
    rng = np.random.default_rng(0)
    images = (rng.random((64, 64 * 64)) > 0.9).astype(np.uint8)
    packed = torch.from_numpy(np.packbits(images, axis=1))
    params = _params(name)
    generator = seed_everything(seed)
    model = VAE(model_config(params))
    config = train_config(params, torch.device("cpu"), dataset_size=len(packed))
    return model, train_vae(model, packed, config, generator), config.objective


@pytest.mark.parametrize("name", list(TERMS))
def test_each_objective_trains_and_logs_its_terms(name):
    model, curve, built = _train(name)
    assert built.name == name
    assert [p.step for p in curve] == [4, 8]
    assert all(list(p.terms) == TERMS[name] for p in curve)
    assert all(math.isfinite(v) for p in curve for v in p.terms.values())
    if name == "capacity":  # C(t) averaged over steps 1–4 and 5–8 of an 8-step schedule at C_max 25
        assert [p.terms["capacity"] for p in curve] == pytest.approx([25 * 2.5 / 8, 25 * 6.5 / 8])
    if name == "factor_vae":
        assert all(0 <= p.terms["disc_acc"] <= 1 for p in curve)
    again, curve_again, _ = _train(name)
    assert weights_digest(model) == weights_digest(again)
    assert [p.terms for p in curve] == [p.terms for p in curve_again]


def test_objective_from_params_and_its_weight():
    tc = objective(parse_params({"model": {"objective": "tc_vae"}, "beta": 6}), dataset_size=500)
    assert (tc.alpha, tc.beta, tc.gamma, tc.dataset_size, tc.sampling) == (1.0, 6.0, 1.0, 500, "mws")
    with pytest.raises(ValueError, match="dataset size"):
        objective(parse_params({"model": {"objective": "tc_vae"}}))
    assert objective(Params()).name == "beta_vae"
    flat = parse_params({"model": {"objective": "capacity"}, "objective": {"capacity": {"c_max": 30}}}).flat()
    assert weight(flat) == 30.0
    assert describe(flat) == "annealed capacity (γ = 10, C_max = 30, anneal steps = 10000)"
    assert describe(flat, with_weight=False) == "annealed capacity (γ = 10, anneal steps = 10000)"
    assert describe({"beta": "4.0"}) == "β-VAE (β = 4)"  # runs from before model.objective existed


def test_objective_params_are_validated():
    with pytest.raises(ParamsError, match="model.objective"):
        parse_params({"model": {"objective": "tcvae"}})
    with pytest.raises(ParamsError, match="objective.capacity.gamma"):
        parse_params({"objective": {"capacity": {"gamma": -1}}})
    with pytest.raises(ParamsError, match="batch_size >= 2"):
        parse_params({"model": {"objective": "tc_vae"}, "train": {"batch_size": 1}})
