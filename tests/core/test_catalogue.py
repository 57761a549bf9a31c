"""The metric catalogue: every key evaluate writes has an entry, and the views read from it agree."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.core.catalogue import BOUNDS, CATALOGUE, CODE_SCORES, FACTOR_SCORES, REPORTED, unknown_keys
from pipeline.core.details import KEYS as DETAILS_KEYS
from pipeline.core.params import parse_params
from pipeline.stages.evaluate import summarise


def test_every_entry_says_what_it_is():
    for name, metric in CATALOGUE.items():
        assert metric.name == name and metric.label and metric.title and metric.axis and metric.estimator, name
        assert metric.better in ("higher", "lower", None), name
    assert FACTOR_SCORES[0] == "mig" and set(FACTOR_SCORES) <= set(REPORTED)
    assert BOUNDS == ("elbo", "iwae")
    assert all(CATALOGUE[name].needs_factors and CATALOGUE[name].decimals == 3 for name in FACTOR_SCORES)
    assert set(CODE_SCORES) <= set(REPORTED) and not any(CATALOGUE[name].needs_factors for name in CODE_SCORES)


def test_unknown_keys_are_named():
    assert unknown_keys({"elbo": -100.0, "kl_dim": {"z0": 1.0}, "mig_gap": {"shape": 0.1}}) == []
    assert unknown_keys({"elbo": -100.0, "new_score": 0.5}) == ["new_score"]
    assert unknown_keys({"kl_dim": 3.0, "mig": {"a": 1.0}}) == ["kl_dim", "mig"]  # a mapping must be a `per` entry


@pytest.mark.parametrize("objective", ["beta_vae", "capacity", "tc_vae", "factor_vae"])
@pytest.mark.parametrize("with_factors", [True, False])
def test_evaluate_writes_only_catalogued_keys(objective, with_factors):
    params = parse_params(
        {"model": {"objective": objective, "latent_dim": 4}, "eval": {"mig_points": 50, "tc_points": 20}}
    )
    rng = np.random.default_rng(0)
    n = 60
    recon, kl_dims = rng.random(n) * 100, rng.random((n, 4))
    means, logvars = rng.normal(size=(n, 4)), rng.normal(size=(n, 4)) * 0.1 - 1
    factors = np.stack([rng.integers(0, size, n) for size in (3, 6, 40, 32, 32)], axis=1) if with_factors else None
    metrics, details = summarise(params, recon, kl_dims, means, factors, logvars)
    assert unknown_keys(metrics) == []
    assert set(details) <= DETAILS_KEYS  # eval/details.json's keys are declared in pipeline/core/details.py
    assert ("mig" in metrics) == with_factors
    assert set(CODE_SCORES) <= metrics.keys()  # the unsupervised scores need no factors
