"""DCI, SAP, FactorVAE and BetaVAE scores on constructed representations with known answers.

The ground truth of disentanglement_lib's own tests (IdentityObservationsData: 10 factors of 10 classes
each, the observation is the factor vector) and their sample sizes; then what the estimators imply
elsewhere, and invariances.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from metrics.beta_vae import compute_beta_vae
from metrics.dci import completeness, compute_dci, disentanglement
from metrics.factor_vae import compute_factor_vae, fixed_factor_batches
from metrics.sampling import GroundTruth, sample_codes
from metrics.sap import compute_sap

IDENTITY = GroundTruth((10,) * 10, lambda factors, rng: factors.astype(np.float64))
SMALL = GroundTruth((4,) * 3, lambda factors, rng: factors.astype(np.float64))  # for the boosted trees' speed


def _identity(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _duplicated(x: np.ndarray) -> np.ndarray:
    return np.hstack([x, x]).astype(np.float64)


def _splits(represent, n_train: int, n_test: int, seed: int = 0, data: GroundTruth = IDENTITY):
    rng = np.random.default_rng(seed)
    return (*sample_codes(data, represent, n_train, rng), *sample_codes(data, represent, n_test, rng))


# --------------------------------------------------------------------- DCI, on importance matrices
# disentanglement_lib's dci_test.py values.


def test_dci_importance_matrices():
    diag = np.diag(5.0 * np.ones(5))
    assert disentanglement(diag) == pytest.approx(1.0)
    assert completeness(diag) == pytest.approx(1.0)
    empty_code = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    assert disentanglement(empty_code) == pytest.approx(1.0)
    assert completeness(empty_code) == pytest.approx(1.0)
    assert disentanglement(np.zeros((10, 10))) == pytest.approx(0.0)
    assert completeness(np.zeros((10, 10))) == pytest.approx(0.0, abs=1e-7)
    redundant = np.vstack([diag, diag])  # two codes per factor
    assert disentanglement(redundant) == pytest.approx(1.0)
    assert completeness(redundant) == pytest.approx(1.0 - math.log(2) / math.log(10))
    assert disentanglement(diag[:2]) == pytest.approx(1.0)
    assert completeness(diag[:2]) == pytest.approx(1.0)
    two_factors = np.hstack([diag, diag])  # one code per two factors
    assert disentanglement(two_factors) == pytest.approx(1.0 - math.log(2) / math.log(10))
    assert completeness(two_factors) == pytest.approx(1.0)


def test_dci_uniform_importance_scores_zero_and_is_invariant_to_scale():
    uniform = np.ones((4, 3))
    assert disentanglement(uniform) == pytest.approx(0.0, abs=1e-9)
    assert completeness(uniform) == pytest.approx(0.0, abs=1e-9)
    rng = np.random.default_rng(0)
    r = rng.random((6, 4))
    assert disentanglement(7.0 * r) == pytest.approx(disentanglement(r))
    perm_codes, perm_factors = rng.permutation(6), rng.permutation(4)
    assert disentanglement(r[perm_codes][:, perm_factors]) == pytest.approx(disentanglement(r))
    assert completeness(r[perm_codes][:, perm_factors]) == pytest.approx(completeness(r))


# --------------------------------------------------------------- DCI, SAP on fresh samples (reference tests)


@pytest.mark.slow
def test_dci_reference_bounds():
    """disentanglement_lib's dci_test.py: identity, per-point permuted and duplicated codes, 1000/1000 points."""
    identity = compute_dci(*_splits(_identity, 1000, 1000))
    assert 0.9 <= identity.disentanglement <= 1.0
    assert 0.9 <= identity.completeness <= 1.0
    rep_rng = np.random.default_rng(0)

    def permuted(x):  # every point's factors in a fresh random order: equal importance everywhere
        return np.stack([rep_rng.permutation(row) for row in np.array(x, dtype=np.float64)])

    bad = compute_dci(*_splits(permuted, 1000, 1000))
    assert 0.0 <= bad.disentanglement <= 0.2
    assert 0.0 <= bad.completeness <= 0.2
    duplicated = compute_dci(*_splits(_duplicated, 1000, 1000))
    assert 0.9 <= duplicated.disentanglement <= 1.0
    target = 1.0 - math.log(2) / math.log(10)
    assert target - 0.1 <= duplicated.completeness <= target + 0.1


@pytest.fixture(scope="module")
def small_dci():
    return compute_dci(*_splits(_identity, 400, 400, data=SMALL))


def test_dci_identity_code(small_dci):
    assert 0.9 <= small_dci.disentanglement <= 1.0
    assert 0.9 <= small_dci.completeness <= 1.0
    assert small_dci.informativeness_test == pytest.approx(1.0)  # the code is the factor
    assert small_dci.importance.shape == (3, 3)


def test_dci_duplicated_code_halves_completeness_only():
    result = compute_dci(*_splits(_duplicated, 400, 400, data=SMALL))
    assert 0.9 <= result.disentanglement <= 1.0
    target = 1.0 - math.log(2) / math.log(6)  # each factor's importance split over 2 of 6 codes
    assert target - 0.1 <= result.completeness <= target + 0.1


def test_dci_noise_code_scores_low():
    noise_rng = np.random.default_rng(6)
    result = compute_dci(*_splits(lambda x: noise_rng.standard_normal(x.shape), 400, 400, data=SMALL))
    assert result.disentanglement <= 0.2
    assert result.completeness <= 0.2
    assert result.informativeness_test <= 0.4  # chance is 1/4


def test_dci_invariant_to_permuting_codes_rescaling_and_factor_labels(small_dci):
    codes_train, factors_train, codes_test, factors_test = _splits(_identity, 400, 400, data=SMALL)
    order, scale = np.array([2, 0, 1]), np.array([0.5, 3.0, 1.5])
    moved = compute_dci(
        2.0 + codes_train[:, order] * scale, factors_train, 2.0 + codes_test[:, order] * scale, factors_test
    )
    # Trees split on thresholds: a positive affine map per code changes no split, so no importance.
    assert moved.disentanglement == pytest.approx(small_dci.disentanglement, abs=1e-6)
    assert moved.completeness == pytest.approx(small_dci.completeness, abs=1e-6)
    np.testing.assert_allclose(moved.importance, small_dci.importance[order], atol=1e-9)
    relabel = np.array([3, 1, 0, 2])
    renamed = compute_dci(codes_train, relabel[factors_train], codes_test, relabel[factors_test])
    assert renamed.disentanglement == pytest.approx(small_dci.disentanglement, abs=0.02)
    assert renamed.informativeness_test == pytest.approx(small_dci.informativeness_test)


def test_sap_continuous_reference_bounds():
    assert 0.9 <= compute_sap(*_splits(_identity, 3000, 3000), continuous_factors=True).score <= 1.0
    zeros = compute_sap(*_splits(lambda x: np.zeros_like(x, dtype=np.float64), 3000, 3000), continuous_factors=True)
    assert 0.0 <= zeros.score <= 0.2
    duplicated = compute_sap(*_splits(_duplicated, 3000, 3000), continuous_factors=True)
    assert 0.0 <= duplicated.score <= 0.2  # a factor copied into two codes loses its credit


def test_sap_discrete_of_perfect_binary_code_is_one_minus_chance():
    """A code that knows nothing still scores ~chance (1/2 for a balanced binary factor), so the best
    possible gap of a binary factor is 1 − 1/2."""
    binary = GroundTruth((2,) * 4, lambda factors, rng: factors.astype(np.float64))
    noise_rng = np.random.default_rng(5)
    result = compute_sap(
        *_splits(lambda x: np.hstack([x, noise_rng.standard_normal(x.shape)]), 2000, 2000, data=binary)
    )
    assert result.score_matrix[:4].diagonal() == pytest.approx(np.ones(4))
    assert result.score == pytest.approx(0.5, abs=0.04)


def test_sap_invariant_to_permuting_codes_and_factor_labels():
    codes_train, factors_train, codes_test, factors_test = _splits(_identity, 1000, 1000)
    base = compute_sap(codes_train, factors_train, codes_test, factors_test, continuous_factors=True)
    order = np.random.default_rng(2).permutation(10)
    moved = compute_sap(
        3.0 * codes_train[:, order] + 1, factors_train, 3.0 * codes_test[:, order] + 1, factors_test, True
    )
    assert moved.score == pytest.approx(base.score)
    discrete = compute_sap(codes_train, factors_train, codes_test, factors_test)
    relabel = np.random.default_rng(3).permutation(10)  # class c of every factor is now called relabel[c]
    relabelled = compute_sap(codes_train, relabel[factors_train], codes_test, relabel[factors_test])
    assert relabelled.score == pytest.approx(discrete.score, abs=0.02)


def test_scores_validate_inputs():
    with pytest.raises(ValueError, match="same columns"):
        compute_sap(np.zeros((5, 3)), np.zeros((5, 2)), np.zeros((5, 4)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="single class"):
        compute_dci(np.zeros((5, 3)), np.zeros((5, 2)), np.zeros((5, 3)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="batch_size must be >= 2"):
        compute_factor_vae(IDENTITY, _identity, np.random.default_rng(0), batch_size=1)


# -------------------------------------------------------------------- FactorVAE and BetaVAE scores
# disentanglement_lib's settings: batch 5; FactorVAE 3000 train, 2000 eval, 2500 variance points; BetaVAE 2000/2000.


def test_factor_vae_reference_bounds():
    good = compute_factor_vae(IDENTITY, _identity, np.random.default_rng(0), 5, 3000, 2000, 2500, prune_threshold=0.0)
    assert 0.9 <= good.train_accuracy <= 1.0
    assert 0.9 <= good.eval_accuracy <= 1.0
    zeros = compute_factor_vae(IDENTITY, np.zeros_like, np.random.default_rng(0), 5, 3000, 2000, 2500, 0.0)
    assert 0.0 <= zeros.train_accuracy <= 0.2
    assert 0.0 <= zeros.eval_accuracy <= 0.2


def test_factor_vae_pruning_and_invariances():
    # Dead codes below the threshold are pruned; none left gives 0, as in the reference.
    dead = compute_factor_vae(IDENTITY, lambda x: 0.01 * _identity(x), np.random.default_rng(0), 5, 200, 200, 500)
    assert (dead.eval_accuracy, dead.num_active_dims) == (0.0, 0)
    base = compute_factor_vae(IDENTITY, _identity, np.random.default_rng(4), 5, 500, 500, 1000)
    order = np.random.default_rng(4).permutation(10)
    scale = np.linspace(0.5, 3.0, 10)  # normalised by each code's own spread: per-code scale cancels
    moved = compute_factor_vae(
        IDENTITY, lambda x: 5.0 + _identity(x)[:, order] * scale, np.random.default_rng(4), 5, 500, 500, 1000
    )
    assert moved.eval_accuracy == pytest.approx(base.eval_accuracy)
    assert base.num_active_dims == 10


def test_factor_vae_batches_fix_exactly_one_factor():
    fixed, factors = fixed_factor_batches(IDENTITY, 50, 8, np.random.default_rng(0))
    for point in range(50):
        assert np.all(factors[point, :, fixed[point]] == factors[point, 0, fixed[point]])


def test_beta_vae_reference_bound_and_noise():
    good = compute_beta_vae(IDENTITY, _identity, np.random.default_rng(0), 5, 2000, 2000)
    assert 0.9 <= good.train_accuracy <= 1.0
    assert 0.9 <= good.eval_accuracy <= 1.0
    noise_rng = np.random.default_rng(1)
    noise = compute_beta_vae(
        IDENTITY, lambda x: noise_rng.standard_normal(x.shape), np.random.default_rng(0), 5, 2000, 2000
    )
    assert noise.eval_accuracy <= 0.2  # chance is 1/10
