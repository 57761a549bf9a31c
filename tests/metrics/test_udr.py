"""UDR on disentanglement_lib's own test cases (evaluation/udr/metrics/udr_test.py: its bounds, sizes and
data, uniform noise standing for the codes) and on hand-checked values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats

from metrics.udr import compute_udr, gaussian_kl_mean, lasso_matrix, relative_strength, spearman_matrix

N_LATENTS, N_POINTS = 10, 1000  # the reference's DummyData: 10 factors, 1000 points


def _codes(seed: int = 0) -> np.ndarray:
    return np.random.RandomState(seed).random_sample((N_POINTS, N_LATENTS))


def _permuted_and_flipped(codes: np.ndarray, seed: int = 1) -> np.ndarray:
    rng = np.random.RandomState(seed)
    out = codes[:, rng.permutation(N_LATENTS)].copy()
    out[:, rng.choice(N_LATENTS, N_LATENTS // 2)] *= -1.0
    return out


def _orthogonal_codes(n: int, d: int, seed: int = 0) -> np.ndarray:
    """Centred codes whose latents are exactly uncorrelated, each of unit variance."""
    centred = np.random.default_rng(seed).normal(size=(n, d))
    centred -= centred.mean(axis=0)
    q, _ = np.linalg.qr(centred)
    return q * math.sqrt(n)


def test_relative_strength_reference_cases_and_hand_values():
    assert relative_strength(np.eye(3)) == 1.0
    two_shared = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    assert relative_strength(two_shared) == pytest.approx(2 / 3)  # per column and row: 1/2, 1/2, 1
    assert relative_strength(np.ones((3, 3))) == pytest.approx(1 / 3)
    assert relative_strength(np.zeros((3, 3))) == 0.0
    # NaN (a constant latent under Spearman) makes its row and column count 0: columns 0, 1/2; rows 0, 1
    assert relative_strength(np.array([[np.nan, 1.0], [0.0, 1.0]])) == pytest.approx((0.25 + 0.5) / 2)
    assert relative_strength(np.zeros((0, 3))) == 0.0  # a collapsed model: no latent left


def test_spearman_matrix_reference_cases_and_scipy():
    rng = np.random.RandomState(0)
    a = rng.random_sample((1000, 3))
    assert np.allclose(spearman_matrix(a, a.copy()), np.eye(3), atol=0.1)
    a = rng.random_sample((1000, 3))
    b = a.copy()
    b[:, 1] = b[:, 0]
    assert np.allclose(spearman_matrix(a, b), [[1, 1, 0], [0, 0, 0], [0, 0, 1]], atol=0.1)
    # Exactly scipy's spearmanr pair by pair, ties included
    a, b = np.round(rng.normal(size=(50, 3)), 1), np.round(rng.normal(size=(50, 4)), 1)
    expected = [[abs(scipy.stats.spearmanr(a[:, i], b[:, j])[0]) for j in range(4)] for i in range(3)]
    np.testing.assert_allclose(spearman_matrix(a, b), expected, rtol=1e-12)
    with np.errstate(invalid="ignore"):
        assert np.isnan(spearman_matrix(np.zeros((50, 1)), b)).all()  # a constant latent: NaN, as scipy


def test_lasso_matrix_reference_cases_and_hand_value():
    rng = np.random.RandomState(0)
    a = rng.random_sample((1000, 3)) * 10.0
    assert np.allclose(lasso_matrix(a, a.copy()), np.eye(3), atol=0.2)
    a = rng.random_sample((1000, 3)) * 10.0
    b = a.copy()
    b[:, 1] = b[:, 0]
    assert np.allclose(lasso_matrix(a, b), [[1, 1, 0], [0, 0, 0], [0, 0, 1]], atol=0.2)
    # Uncorrelated unit-variance latents: each coefficient is 1 soft-thresholded by alpha = 0.1
    codes = _orthogonal_codes(200, 4)
    np.testing.assert_allclose(lasso_matrix(codes, codes[:, ::-1]), np.eye(4)[:, ::-1] * 0.9, atol=1e-9)


@pytest.mark.parametrize("correlation", ["spearman", "lasso"])
def test_udr_is_invariant_to_permutation_and_sign(correlation):
    codes = _codes()
    result = compute_udr([codes, _permuted_and_flipped(codes)], [np.ones(N_LATENTS)] * 2, correlation)
    assert all(0.8 <= score <= 1.0 for score in result.scores)


def test_udr_kl_filter_reference_case():
    """Only the first latent carries the input (KL 1); the other nine are fresh noise with KL 0."""
    rng = np.random.RandomState(0)
    signal = _codes()[:, :1]
    codes = [np.hstack([signal, rng.random_sample((N_POINTS, N_LATENTS - 1))]) for _ in range(2)]
    kl = np.zeros(N_LATENTS)
    kl[0] = 1.0
    unfiltered = compute_udr(codes, [kl, kl], filter_low_kl=False)
    assert all(0.0 <= score <= 0.2 for score in unfiltered.scores)
    filtered = compute_udr(codes, [kl, kl], filter_low_kl=True)
    assert all(0.8 <= score <= 1.0 for score in filtered.scores)
    # By hand: one 1 × 1 Lasso coefficient 0.9 (unit-variance input, alpha 0.1): 0.9² / 0.9
    assert filtered.scores == pytest.approx([0.9, 0.9], abs=1e-9)
    # Unfiltered: the nine zeroed latents count 0 in the row and column means, (0.9 / 10 + 0.9 / 10) / 2
    assert unfiltered.scores == pytest.approx([0.09, 0.09], abs=1e-9)


def test_each_score_is_the_median_over_its_pairs_and_a_collapsed_model_ranks_last():
    base = _orthogonal_codes(400, 4, seed=1)
    noise = _orthogonal_codes(400, 4, seed=2)  # its correlations with base stay under alpha: Lasso keeps none
    flipped = -base[:, [2, 0, 3, 1]]
    result = compute_udr([base, flipped, base.copy(), noise], [np.ones(4)] * 4)
    # Three copies of one code: each pair 0.9 exactly, the noise 0 with each; medians of (0.9, 0.9, 0) = 0.9
    np.testing.assert_allclose(result.pairwise[:3, :3], 0.9 * (1 - np.eye(3)), atol=1e-9)
    assert (result.pairwise[3] == 0).all() and (result.pairwise[:, 3] == 0).all()
    np.testing.assert_allclose(result.scores, [0.9, 0.9, 0.9, 0.0], atol=1e-9)
    # A collapsed model (every latent at 0.005 nats) shares nothing: its pairs 0; the others' medians of
    # (0.9, 0.9, 0, 0) are (0.9 + 0) / 2
    collapsed = compute_udr([base, flipped, base.copy(), noise, base * 1e-3], [np.ones(4)] * 4 + [np.full(4, 0.005)])
    assert (collapsed.pairwise[4] == 0).all() and (collapsed.pairwise[:, 4] == 0).all()
    np.testing.assert_allclose(collapsed.scores, [0.45, 0.45, 0.45, 0.0, 0.0], atol=1e-9)


def test_gaussian_kl_mean_by_hand_and_bad_inputs():
    means, logvars = np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([[0.0, math.log(2)], [0.0, math.log(2)]])
    np.testing.assert_allclose(gaussian_kl_mean(means, logvars), [0.5, 0.5 * (2 - math.log(2) - 1)])
    with pytest.raises(ValueError, match="at least 2 models"):
        compute_udr([_codes()], [np.ones(N_LATENTS)])
    with pytest.raises(ValueError, match="one \\(inputs, latents\\) shape"):
        compute_udr([_codes(), _codes()[:10]], [np.ones(N_LATENTS)] * 2)
