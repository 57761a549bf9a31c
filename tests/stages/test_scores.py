"""The evaluate stage's score wiring (pipeline/stages/scores.py) on a small untrained model: every score lands in
the metrics under its name, in range, and dSprites' sampler renders exactly the factor combination asked."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from metrics.unsupervised import compute_unsupervised
from pipeline.core.catalogue import CODE_SCORES, FACTOR_SCORES, unknown_keys
from pipeline.core.details import KEYS as DETAILS_KEYS
from pipeline.core.params import parse_params
from pipeline.core.streams import numpy_stream
from pipeline.stages.ground_truth import SCORED_FACTORS
from pipeline.stages.scores import add_scores, dsprites_ground_truth, scores_line, unsupervised_scores
from testkit.batches import tiny_model_and_sprites
from vae.dsprites import SPACE, render_images


def test_dsprites_ground_truth_renders_the_asked_factors():
    data = dsprites_ground_truth()
    assert data.factor_sizes == (3, 6, 40, 32, 32)
    assert SCORED_FACTORS == ("shape", "scale", "orientation", "posX", "posY")
    rng = np.random.default_rng(0)
    factors = data.sample_factors(50, rng)
    classes = np.hstack([np.zeros((50, 1), dtype=np.int64), factors])  # colour has one class
    np.testing.assert_array_equal(data.observations(factors, rng), render_images(SPACE.index_of(classes)))


@pytest.mark.slow
def test_add_scores_on_a_tiny_model():
    params, model, packed, _ = tiny_model_and_sprites(120, seed=1)
    metrics, details = add_scores(params, model, torch.device("cpu"), packed, {"elbo": -3000.0}, {"n_held_out": 1})
    assert metrics["elbo"] == -3000.0 and details["n_held_out"] == 1  # added to, not replaced
    assert unknown_keys(metrics) == [] and set(details) <= DETAILS_KEYS  # every key declared
    for name in FACTOR_SCORES[1:]:  # MIG comes from evaluate itself
        assert 0.0 <= metrics[name] <= 1.0, name
    # A Bernoulli image's log-likelihood is negative; the bound is finite.
    assert math.isfinite(metrics["iwae"]) and metrics["iwae"] < 0
    assert details["iwae_points"] == 100 and details["iwae_k"] == 4
    assert "score_seconds" not in details and "iwae_seconds" not in details  # outputs repeat byte for byte
    again, _ = add_scores(params, model, torch.device("cpu"), packed, {}, {})
    assert again == {key: metrics[key] for key in again}  # seeded: the same scores twice
    assert np.asarray(details["dci_importance"]).shape == (params.model.latent_dim, 5)
    assert 0.5 <= details["explicitness_train"] <= 1.0 and 0 <= details["irs_active_dims"] <= params.model.latent_dim
    assert np.asarray(details["irs_matrix"]).shape == (details["irs_active_dims"], 5)
    assert scores_line(metrics).startswith("evaluate: IWAE ")


def test_unsupervised_scores_read_a_seeded_subset_of_the_held_out_means():
    params = parse_params({"eval": {"unsupervised_points": 40, "mig_bins": 10}, "data": {"split_seed": 3}})
    means = np.random.default_rng(0).normal(size=(100, 4)) @ np.triu(np.ones((4, 4)))  # correlated latents
    metrics, details = unsupervised_scores(params, means)
    rows = np.sort(numpy_stream("unsupervised_rows", 3).choice(100, 40, replace=False))
    expected = compute_unsupervised(means[rows], num_bins=10)
    assert details == {"unsupervised_points": 40} and set(CODE_SCORES) <= metrics.keys()
    assert metrics["gaussian_total_correlation"] == expected.gaussian_total_correlation > 0.1
    assert metrics["mutual_info_score"] == expected.mutual_info_score
    assert unsupervised_scores(params, means[:30])[1] == {"unsupervised_points": 30}  # at most the held-out set
    assert "Gaussian TC" in scores_line(metrics)
    skipped, why = unsupervised_scores(params, means[:, :1])  # one latent: no pair to measure
    assert skipped == {} and "one latent" in why["unsupervised_skipped"]
