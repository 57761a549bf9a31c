"""Hand-checked values and invariants for metrics/ (KL, likelihood, MIG)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from torch.distributions import Bernoulli, Normal, kl_divergence

from metrics import (
    MIGResult,
    active_dims,
    active_units,
    bernoulli_nll,
    compute_mig,
    elbo_summary,
    elbo_terms,
    factor_entropies,
    gaussian_kl_per_dim,
    histogram_discretize,
    mutual_info_matrix,
    posterior_mean_variance,
)
from testkit.batches import random_vae_batch

DSPRITES_SIZES = (1, 3, 6, 40, 32, 32)  # colour (constant), shape, scale, orientation, posX, posY


def _grid(*sizes: int) -> np.ndarray:
    """Full factorial design: factors are exactly independent, so cross-factor MI is exactly 0."""
    return np.array(list(itertools.product(*(range(s) for s in sizes))), dtype=np.int64)


def _random_factors(rng: np.random.Generator, n: int, sizes=DSPRITES_SIZES) -> np.ndarray:
    return np.stack([rng.integers(0, s, n) for s in sizes], axis=1)


# ----------------------------------------------------------------------------- KL


def test_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(64, 10, generator=g) * 2
    logvar = torch.randn(64, 10, generator=g)
    expected = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(torch.zeros_like(mu), torch.ones_like(mu)))
    got = gaussian_kl_per_dim(mu, logvar)
    assert got.shape == mu.shape
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


def test_kl_hand_values():
    mu = torch.tensor([0.0, 1.0, 0.0])
    logvar = torch.tensor([0.0, 0.0, math.log(4.0)])
    got = gaussian_kl_per_dim(mu, logvar)
    expected = torch.tensor([0.0, 0.5, 0.5 * (4.0 - math.log(4.0) - 1.0)])
    torch.testing.assert_close(got, expected)
    assert got[0].item() == 0.0


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_kl_low_precision_inputs_computed_in_float32(dtype):
    g = torch.Generator().manual_seed(1)
    mu = torch.randn(8, 4, generator=g).to(dtype)
    logvar = torch.randn(8, 4, generator=g).to(dtype)
    got = gaussian_kl_per_dim(mu, logvar)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, gaussian_kl_per_dim(mu.float(), logvar.float()), rtol=0, atol=0)


def test_kl_rejects_shape_mismatch():
    with pytest.raises(ValueError, match="same shape"):
        gaussian_kl_per_dim(torch.zeros(4, 3), torch.zeros(4, 1))


# ---------------------------------------------------------------------- active units


def test_active_units_constructed():
    rng = np.random.default_rng(0)
    n = 1000
    mu = np.zeros((n, 6))
    mu[:, 0] = 3.0  # constant, nonzero mean: inactive
    mu[:, 1] = rng.standard_normal(n)  # var ~1: active
    mu[:, 2] = 0.01 * rng.standard_normal(n)  # var ~1e-4: inactive
    mu[:, 3] = np.where(np.arange(n) % 2 == 0, -1.0, 1.0)  # var exactly 1: active
    mu[:, 4] = 0.5 * rng.standard_normal(n)  # var ~0.25: active
    # dim 5 all zeros: inactive
    var = posterior_mean_variance(mu)
    assert var.shape == (6,)
    assert var[0] == 0.0 and var[5] == 0.0
    assert var[3] == pytest.approx(1.0)
    assert active_units(mu) == 3
    assert active_units(torch.from_numpy(mu).to(torch.bfloat16)) == 3
    assert active_units(mu, threshold=0.5) == 2  # only the var~1 dims
    assert active_units(mu, threshold=2.0) == 0


def test_active_units_threshold_is_strict():
    mu = np.array([[-0.1], [0.1]])  # population variance exactly 0.01
    assert posterior_mean_variance(mu)[0] == pytest.approx(0.01)
    assert active_units(mu, threshold=0.0099) == 1
    assert active_units(mu, threshold=0.0101) == 0


def test_active_units_validates():
    with pytest.raises(ValueError, match="2-D"):
        active_units(np.zeros(10))
    with pytest.raises(ValueError, match="at least 2"):
        active_units(np.zeros((1, 4)))


# ------------------------------------------------------------------------ likelihood


def test_bernoulli_nll_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(5, 1, 8, 8, generator=g) * 4
    x = (torch.rand(5, 1, 8, 8, generator=g) > 0.5).float()
    expected = -Bernoulli(logits=logits).log_prob(x).sum(dim=(1, 2, 3))
    got = bernoulli_nll(logits, x)
    assert got.shape == (5,)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, expected)


def test_bernoulli_nll_hand_value_and_stability():
    x = (torch.arange(2 * 64 * 64).reshape(2, 1, 64, 64) % 3 == 0).float()
    got = bernoulli_nll(torch.zeros(2, 1, 64, 64), x)
    torch.testing.assert_close(got, torch.full((2,), 4096 * math.log(2.0)))
    # Saturated logits stay finite and exact: a confident wrong pixel costs |logit| nats.
    big = torch.tensor([[100.0, -100.0]])
    assert bernoulli_nll(big, torch.tensor([[0.0, 1.0]])).item() == pytest.approx(200.0)
    assert bernoulli_nll(big, torch.tensor([[1.0, 0.0]])).item() == pytest.approx(0.0, abs=1e-30)


def test_bernoulli_nll_bf16_logits_give_float32():
    logits = torch.randn(3, 16).to(torch.bfloat16)
    x = torch.ones(3, 16)
    got = bernoulli_nll(logits, x)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, bernoulli_nll(logits.float(), x))


def test_elbo_terms():
    logits, x, mu, logvar = random_vae_batch()
    t = elbo_terms(logits, x, mu, logvar)
    assert set(t) == {"recon", "kl", "elbo"}
    for v in t.values():
        assert v.shape == (6,)
    torch.testing.assert_close(t["recon"], bernoulli_nll(logits, x))
    torch.testing.assert_close(t["kl"], gaussian_kl_per_dim(mu, logvar).sum(dim=1))
    torch.testing.assert_close(t["elbo"], -t["recon"] - t["kl"])
    assert torch.all(t["kl"] >= 0)


def test_elbo_terms_reject_mismatched_batches():
    logits, x, mu, logvar = random_vae_batch()
    with pytest.raises(ValueError, match="batch"):
        elbo_terms(logits, x, mu[:3], logvar[:3])


def test_elbo_summary_hand_checked():
    recon = np.array([10.0, 20.0])  # mean 15
    kl = np.array([[1.0, 0.0, 2.0], [3.0, 0.0, 4.0]])  # per dim (2, 0, 3), total 5
    got = elbo_summary(recon, kl)
    assert got["recon"] == 15.0 and got["kl"] == 5.0 and got["elbo"] == -20.0
    np.testing.assert_array_equal(got["kl_per_dim"], [2.0, 0.0, 3.0])


def test_active_dims_is_a_strict_threshold_on_the_variance():
    np.testing.assert_array_equal(active_dims(np.array([0.0, 0.01, 0.02, 5.0]), 0.01), [False, False, True, True])
    mu = np.stack([np.zeros(50), np.linspace(-1, 1, 50), 0.01 * np.linspace(-1, 1, 50)], axis=1)
    assert active_units(mu, 0.01) == int(active_dims(posterior_mean_variance(mu), 0.01).sum()) == 1


# ----------------------------------------------------------------------------- MIG


def test_histogram_discretize_matches_reference_formula():
    rng = np.random.default_rng(0)
    codes = rng.standard_normal((500, 3)) * np.array([1.0, 10.0, 0.1])
    d = histogram_discretize(codes, num_bins=20)
    assert d.shape == codes.shape and d.dtype == np.int64
    for j in range(3):
        c = codes[:, j]
        np.testing.assert_array_equal(d[:, j], np.digitize(c, np.histogram(c, 20)[1][:-1]))
    assert d.min() == 1 and d.max() == 20
    # A constant code falls in a single bin (so it carries no information).
    assert np.unique(histogram_discretize(np.full((10, 2), 7.0))).size == 1


def test_histogram_discretize_rejects_nonfinite():
    codes = np.zeros((10, 2))
    codes[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        histogram_discretize(codes)


def test_mutual_info_matrix_hand_values():
    # Two perfectly correlated binary variables share log 2 nats; independent ones share 0.
    codes = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    factors = codes.copy()
    np.testing.assert_allclose(mutual_info_matrix(codes, factors), math.log(2) * np.eye(2), atol=1e-12)
    # Asymmetric case by hand: p(c,f) = {(0,0): 1/2, (0,1): 1/4, (1,1): 1/4}; p(c)=(3/4,1/4), p(f)=(1/2,1/2).
    m = mutual_info_matrix(np.array([[0], [0], [0], [1]]), np.array([[0], [0], [1], [1]]))
    expected = 0.5 * math.log(4 / 3) + 0.25 * math.log(2 / 3) + 0.25 * math.log(2)
    assert m.shape == (1, 1)
    assert m[0, 0] == pytest.approx(expected, abs=1e-12)


def test_factor_entropies_hand_values():
    factors = np.array([[0, 0, 5], [0, 1, 5], [1, 2, 5], [1, 3, 5]])
    np.testing.assert_allclose(factor_entropies(factors), [math.log(2), math.log(4), 0.0], atol=1e-12)


def test_mig_perfect_code_is_exactly_one():
    # Full grid over factors plus a hidden nuisance variable; noise dims are functions of the
    # nuisance only, so they are exactly independent of every factor.
    grid = _grid(3, 6, 5, 4)
    factors, nuisance = grid[:, :3], grid[:, 3]
    noise = np.stack([nuisance, (nuisance * 7) % 4], axis=1).astype(float)
    codes = np.concatenate([factors.astype(float), noise], axis=1)
    r = compute_mig(codes, factors)
    assert isinstance(r, MIGResult)
    assert r.score == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(r.gaps, 1.0, atol=1e-12)
    np.testing.assert_allclose(r.entropies, np.log([3, 6, 5]), atol=1e-12)
    assert r.mutual_info.shape == (5, 3)
    np.testing.assert_allclose(r.mutual_info[3:], 0.0, atol=1e-12)


def test_mig_factor_split_over_two_dims_scores_zero_for_it():
    # Factor A copied into two dims (gap 0), factor B into one (gap 1): MIG = (0 + 1) / 2.
    factors = _grid(4, 5)
    codes = factors[:, [0, 0, 1]].astype(float)
    r = compute_mig(codes, factors)
    np.testing.assert_allclose(r.gaps, [0.0, 1.0], atol=1e-12)
    assert r.score == pytest.approx(0.5, abs=1e-12)
    # Every factor duplicated: MIG is exactly 0 however well the factors are captured.
    assert compute_mig(factors[:, [0, 0, 1, 1]].astype(float), factors).score == pytest.approx(0.0, abs=1e-12)


def test_mig_excludes_constant_factor():
    base = _grid(4, 5)
    factors = np.concatenate([np.zeros((len(base), 1), dtype=np.int64), base], axis=1)  # like dSprites colour
    codes = base[:, [0, 0, 1]].astype(float)
    r = compute_mig(codes, factors)
    np.testing.assert_array_equal(r.factor_mask, [False, True, True])
    assert r.entropies[0] == 0.0
    assert r.gaps.shape == (2,)
    assert np.isfinite(r.score)
    assert r.score == pytest.approx(compute_mig(codes, base).score, abs=1e-12) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="no factor varies"):
        compute_mig(codes, factors[:, :1])


def test_mig_realistic_dsprites_sized_perfect_code():
    rng = np.random.default_rng(0)
    n = 10_000
    factors = _random_factors(rng, n)
    codes = np.concatenate([factors[:, 1:].astype(float), rng.standard_normal((n, 4))], axis=1)
    # Enough bins for the 40-class orientation: only sampling noise separates it from 1.
    r = compute_mig(codes, factors, num_bins=40)
    assert not r.factor_mask[0] and r.factor_mask[1:].all()
    assert r.score > 0.97
    # Factors with <= 20 classes are captured exactly with the default 20 bins.
    r20 = compute_mig(codes, factors)
    assert np.all(r20.gaps[:2] > 0.99)  # shape (3), scale (6)
    # But 20 bins cannot hold 40 orientations: a perfect code is capped near log 20 / log 40.
    assert r20.gaps[2] < math.log(20) / math.log(40) + 0.01
    assert r20.score < r.score


def test_mig_orientation_ceiling_with_20_bins_hand_value():
    # 40 equally frequent classes into 20 equal-width bins: exactly 2 classes per bin, so the
    # best code has MI = log 20 while H = log 40. The second code dim is constant (MI 0).
    factors = np.repeat(np.arange(40), 3)[:, None]
    codes = np.stack([factors[:, 0].astype(float), np.zeros(len(factors))], axis=1)
    assert compute_mig(codes, factors).score == pytest.approx(math.log(20) / math.log(40), abs=1e-12)
    assert compute_mig(codes, factors, num_bins=40).score == pytest.approx(1.0, abs=1e-12)


def test_mig_near_zero_for_independent_codes():
    rng = np.random.default_rng(1)
    n = 10_000
    factors = _random_factors(rng, n)
    codes = rng.standard_normal((n, 10))
    r = compute_mig(codes, factors)
    assert 0.0 <= r.score < 0.05
    assert np.all(r.gaps >= 0)


def _noisy_codes(seed: int = 2, n: int = 5000):
    rng = np.random.default_rng(seed)
    factors = _random_factors(rng, n, sizes=(3, 6, 10))
    codes = np.concatenate(
        [factors + rng.standard_normal(factors.shape) * np.array([0.3, 1.0, 2.0]), rng.standard_normal((n, 2))],
        axis=1,
    )
    return codes, factors


def test_mig_invariant_to_permuting_code_dims():
    codes, factors = _noisy_codes()
    r = compute_mig(codes, factors)
    assert 0.05 < r.score < 0.95  # a non-trivial case
    perm = np.array([4, 2, 0, 3, 1])
    rp = compute_mig(codes[:, perm], factors)
    assert rp.score == pytest.approx(r.score, abs=1e-12)
    np.testing.assert_allclose(rp.mutual_info, r.mutual_info[perm], atol=1e-12)


@pytest.mark.parametrize("scale, shift", [(2.5, -3.0), (1e-3, 10.0), (-4.0, 0.5)])
def test_mig_invariant_to_affine_rescaling_of_a_code(scale, shift):
    # Equal-width bins over each dim's own range make the estimator invariant to affine
    # (not arbitrary monotone) reparametrisation of any single code dim.
    codes, factors = _noisy_codes()
    r = compute_mig(codes, factors)
    rescaled = codes.copy()
    rescaled[:, 1] = scale * rescaled[:, 1] + shift
    rescaled[:, 3] = scale * rescaled[:, 3] + shift
    rr = compute_mig(rescaled, factors)
    assert rr.score == pytest.approx(r.score, abs=1e-12)
    np.testing.assert_allclose(rr.mutual_info, r.mutual_info, atol=1e-12)


def test_mig_validates_shapes():
    codes = np.zeros((10, 3))
    factors = np.zeros((10, 2), dtype=np.int64)
    with pytest.raises(ValueError, match="2-D"):
        compute_mig(codes[:, 0], factors)
    with pytest.raises(ValueError, match="2-D"):
        compute_mig(codes, factors[:, 0])
    with pytest.raises(ValueError, match="same number of points"):
        compute_mig(codes[:9], factors)
    with pytest.raises(ValueError, match="at least 2 code dims"):
        compute_mig(codes[:, :1], factors)
    with pytest.raises(ValueError, match="same number of points"):
        mutual_info_matrix(codes[:9].astype(int), factors)


def _reference_mig_disentanglement_lib(mus: np.ndarray, ys: np.ndarray) -> float:
    """Transcription of disentanglement_lib's _compute_mig (arrays are (dims, points) there)."""
    from sklearn.metrics import mutual_info_score

    discretized = np.zeros_like(mus)
    for i in range(mus.shape[0]):
        discretized[i, :] = np.digitize(mus[i, :], np.histogram(mus[i, :], 20)[1][:-1])
    m = np.array([[mutual_info_score(ys[j], discretized[i]) for j in range(ys.shape[0])] for i in range(mus.shape[0])])
    entropy = np.array([mutual_info_score(ys[j], ys[j]) for j in range(ys.shape[0])])
    sorted_m = np.sort(m, axis=0)[::-1]
    return float(np.mean(np.divide(sorted_m[0, :] - sorted_m[1, :], entropy[:])))


def test_mig_matches_disentanglement_lib_when_no_factor_is_constant():
    codes, factors = _noisy_codes(seed=3, n=3000)
    expected = _reference_mig_disentanglement_lib(codes.T, factors.T)
    assert compute_mig(codes, factors).score == pytest.approx(expected, abs=1e-12)
