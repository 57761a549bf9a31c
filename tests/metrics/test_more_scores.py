"""Modularity, explicitness, IRS and the unsupervised scores on constructed representations with known answers:
disentanglement_lib's own test cases and bounds (modularity_explicitness_test.py, irs_test.py,
unsupervised_metrics_test.py; the identity ground truth of 10 factors of 10 classes, at their sample sizes),
then values checked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg

from metrics.irs import compute_irs
from metrics.mig import histogram_discretize, mutual_info_matrix
from metrics.modularity import compute_modularity_explicitness, modularity
from metrics.sampling import GroundTruth, sample_codes
from metrics.unsupervised import (
    compute_unsupervised,
    gaussian_total_correlation,
    gaussian_wasserstein_correlation,
    mutual_info_score,
)

IDENTITY = GroundTruth((10,) * 10, lambda factors, rng: factors.astype(np.float64))
BINARY = GroundTruth((2,) * 4, lambda factors, rng: factors.astype(np.float64))


def _identity(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _splits(represent, n_train: int, n_test: int, data: GroundTruth = IDENTITY, seed: int = 0):
    rng = np.random.default_rng(seed)
    return (*sample_codes(data, represent, n_train, rng), *sample_codes(data, represent, n_test, rng))


# ------------------------------------------------------------------------------ modularity, explicitness


def test_modularity_reference_matrices():
    diag = np.diag(5.0 * np.ones(5))
    assert modularity(diag) == pytest.approx(1.0)
    assert modularity(np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])) == pytest.approx(2.0 / 3.0)  # empty code: 0
    assert modularity(np.zeros((10, 10))) == pytest.approx(0.0)
    assert modularity(np.vstack([diag, diag])) == pytest.approx(1.0)  # redundant codes
    assert modularity(diag[:2]) == pytest.approx(1.0)  # missed factors
    assert modularity(np.hstack([diag, diag])) == pytest.approx(1.0 - 1.0 / 9.0)  # one code, two factors


def test_modularity_by_hand():
    # code 0: squared MI (4, 1), δ = 1 / (4 · 1) → 0.75; code 1: (0, 9) → 1.
    assert modularity(np.array([[2.0, 1.0], [0.0, 3.0]])) == pytest.approx(0.875)
    with pytest.raises(ValueError, match="num_factors >= 2"):
        modularity(np.ones((3, 1)))


def _modularity_of(represent, n: int) -> float:
    """Modularity as compute_modularity_explicitness computes it, without the explicitness classifiers (the
    reference tests bound modularity only; their logistic regressions on 10-class codes take seconds)."""
    codes, factors = sample_codes(IDENTITY, represent, n, np.random.default_rng(0))
    return modularity(mutual_info_matrix(histogram_discretize(codes, 20), factors))


def test_modularity_reference_bounds():
    """Identity and duplicated codes score in [0.9, 1] with 3000 points, as the reference's tests (and
    below: codes that permute each point's factors afresh, equal MI with every factor, in [0, 0.2] with 20,000)."""
    assert 0.9 <= _modularity_of(_identity, 3000) <= 1.0
    assert 0.9 <= _modularity_of(lambda x: np.hstack([x, x]).astype(float), 3000) <= 1.0


def test_modularity_of_permuted_codes_reference_bound():
    rep_rng = np.random.default_rng(0)
    assert 0.0 <= _modularity_of(lambda x: rep_rng.permuted(np.array(x, dtype=np.float64), axis=1), 20_000) <= 0.2


def test_modularity_of_the_whole_estimator_is_the_training_points_binned_mi():
    codes_train, factors_train, codes_test, factors_test = _splits(_identity, 300, 300, data=BINARY)
    result = compute_modularity_explicitness(codes_train, factors_train, codes_test, factors_test, num_bins=20)
    np.testing.assert_allclose(result.mutual_info, mutual_info_matrix(histogram_discretize(codes_train), factors_train))
    assert 0.99 <= result.modularity <= 1.0 and result.mutual_info.shape == (4, 4)


def test_explicitness_of_binary_codes_and_of_noise():
    perfect = compute_modularity_explicitness(*_splits(_identity, 1000, 1000, data=BINARY))
    assert perfect.explicitness_train == pytest.approx(1.0) and perfect.explicitness_test == pytest.approx(1.0)
    assert perfect.modularity == pytest.approx(1.0, abs=1e-3)  # the plug-in MI of independent factors is ~0
    noise_rng = np.random.default_rng(3)
    noise = compute_modularity_explicitness(
        *_splits(lambda x: noise_rng.standard_normal(x.shape), 2000, 2000, data=BINARY)
    )
    assert 0.45 <= noise.explicitness_test <= 0.55  # ROC-AUC of a guess


def test_explicitness_skips_a_class_missing_from_the_test_points_and_constant_codes():
    three = GroundTruth((3, 2, 2), lambda factors, rng: factors.astype(np.float64))

    def one_hot(x):  # factor 0 as three indicator codes (each class linearly separable), then the others
        return np.hstack([np.eye(3)[x[:, 0].astype(int)], x[:, 1:], np.zeros((len(x), 1))]).astype(np.float64)

    codes_train, factors_train, codes_test, factors_test = _splits(one_hot, 300, 300, data=three)
    keep = factors_test[:, 0] != 2  # class 2 of factor 0 never occurs among the test points
    result = compute_modularity_explicitness(codes_train, factors_train, codes_test[keep], factors_test[keep])
    assert result.explicitness_test == pytest.approx(1.0) and math.isfinite(result.modularity)  # dead code: fine
    with pytest.raises(ValueError, match="factor 1 takes a single class"):
        compute_modularity_explicitness(codes_train, factors_train * [1, 0, 1], codes_test, factors_test)


# ------------------------------------------------------------------------------------------------- IRS


def test_irs_reference_bounds():
    identity = compute_irs(*sample_codes(IDENTITY, _identity, 3000, np.random.default_rng(0)), 0.99)
    assert 0.9 <= identity.score <= 1.0 and identity.num_active_dims == 10
    zeros = compute_irs(*sample_codes(IDENTITY, np.zeros_like, 3000, np.random.default_rng(0)), 0.99)
    assert 0.0 <= zeros.score <= 0.1 and zeros.num_active_dims == 0


def test_irs_by_hand_and_drops_constant_codes():
    # g1, g2 binary, fully crossed; z1 = g1 is untouched by g2 (IRS 1), z2 = g1 + g2 moves by 0.5 within
    # either factor's groups against a largest deviation of 1 (IRS 0.5). Weights: largest deviations 0.5, 1.
    g = np.array([[0, 0], [0, 1], [1, 0], [1, 1]] * 5)
    codes = np.stack([g[:, 0], g[:, 0] + g[:, 1], np.full(len(g), 7.0)], axis=1).astype(float)
    result = compute_irs(codes, g, diff_quantile=1.0)
    assert result.num_active_dims == 2  # the constant third code is dropped
    np.testing.assert_allclose(result.matrix, [[1.0, 0.0], [0.5, 0.5]])
    assert result.score == pytest.approx((0.5 * 1.0 + 1.0 * 0.5) / 1.5)
    assert list(result.parents) == [0, 0]
    with pytest.raises(ValueError, match="diff_quantile"):
        compute_irs(codes, g, diff_quantile=1.5)


# ------------------------------------------------------------------------------------ unsupervised scores


def _kl_gaussians(cov_0: np.ndarray, cov_1: np.ndarray) -> float:
    """KL(N(0, cov_0) ‖ N(0, cov_1)) by the textbook formula (the reference test's unstable version)."""
    inverse = np.linalg.inv(cov_1)
    k = len(cov_0)
    return 0.5 * (np.trace(inverse @ cov_0) - k + math.log(np.linalg.det(cov_1) / np.linalg.det(cov_0)))


def test_gaussian_total_correlation_reference_cases():
    assert abs(gaussian_total_correlation(np.eye(5))) <= 0.01
    cov = np.array([[1.0, 0.9], [0.9, 1.0]])
    expected = _kl_gaussians(cov, np.diag(np.diag(cov)))
    assert gaussian_total_correlation(cov) == pytest.approx(expected, abs=1e-9)
    assert gaussian_total_correlation(cov) == pytest.approx(-0.5 * math.log(0.19))  # by hand: ½ (0 − log det)
    # A constant code (variance 0) is left out instead of giving NaN.
    padded = np.zeros((3, 3))
    padded[:2, :2] = cov
    assert gaussian_total_correlation(padded) == pytest.approx(-0.5 * math.log(0.19))


def test_gaussian_wasserstein_correlation_reference_cases():
    assert abs(gaussian_wasserstein_correlation(np.eye(5))) <= 0.01
    cov = np.array([[1.0, 0.9], [0.9, 1.0]])
    diagonal = np.diag(np.diag(cov))
    expected = np.trace(cov + diagonal - 2 * scipy.linalg.sqrtm(cov @ diagonal)).real
    assert gaussian_wasserstein_correlation(cov) == pytest.approx(expected, abs=1e-9)
    # By hand: eigenvalues 1.9 and 0.1, so 2·2 − 2(√1.9 + √0.1).
    assert gaussian_wasserstein_correlation(cov) == pytest.approx(4 - 2 * (math.sqrt(1.9) + math.sqrt(0.1)))
    # Unequal variances: the reference's general square root of diag Σ · Σ (not symmetric).
    skewed = np.array([[4.0, 1.0, 0.5], [1.0, 1.0, 0.2], [0.5, 0.2, 0.25]])
    reference = 2 * np.trace(skewed) - 2 * np.trace(scipy.linalg.sqrtm(skewed * np.diag(skewed)[:, None])).real
    assert gaussian_wasserstein_correlation(skewed) == pytest.approx(reference, abs=1e-9)


def test_mutual_info_score_by_hand():
    x = np.repeat(np.arange(4.0), 25)  # 4 equally likely values: H = log 4
    assert mutual_info_score(np.stack([x, x], axis=1)) == pytest.approx(math.log(4))
    crossed = np.stack([np.repeat(np.arange(4.0), 4), np.tile(np.arange(4.0), 4)], axis=1)  # independent
    assert mutual_info_score(crossed) == pytest.approx(0.0, abs=1e-12)
    # Three codes, one pair copied: 2 of the 6 ordered pairs carry log 4.
    three = np.stack([np.repeat(np.arange(4.0), 4), np.tile(np.arange(4.0), 4), np.repeat(np.arange(4.0), 4)], 1)
    assert mutual_info_score(three) == pytest.approx(2 * math.log(4) / 6)


def test_unsupervised_scores_of_independent_and_correlated_codes():
    rng = np.random.default_rng(0)
    independent = compute_unsupervised(rng.standard_normal((10_000, 5)) * [1, 2, 3, 4, 5])
    assert 0.0 <= independent.gaussian_total_correlation <= 0.01
    assert abs(independent.gaussian_wasserstein_correlation_norm) <= 0.01
    assert 0.0 <= independent.mutual_info_score <= 0.02  # the plug-in estimator's small-sample bias only
    z = rng.standard_normal((10_000, 2))
    correlated = compute_unsupervised(np.stack([z[:, 0], 0.9 * z[:, 0] + math.sqrt(0.19) * z[:, 1]], axis=1))
    assert correlated.gaussian_total_correlation == pytest.approx(-0.5 * math.log(0.19), abs=0.03)
    scaled = compute_unsupervised(
        10.0 * np.stack([z[:, 0], 0.9 * z[:, 0] + math.sqrt(0.19) * z[:, 1]], axis=1)
    )  # the normalised Wasserstein correlation, the TC and the binned MI do not depend on the codes' scale
    assert scaled.gaussian_wasserstein_correlation_norm == pytest.approx(
        correlated.gaussian_wasserstein_correlation_norm
    )
    assert scaled.gaussian_total_correlation == pytest.approx(correlated.gaussian_total_correlation)
    assert scaled.mutual_info_score == pytest.approx(correlated.mutual_info_score)
    with pytest.raises(ValueError, match="at least 2 codes"):
        compute_unsupervised(z[:, :1])
