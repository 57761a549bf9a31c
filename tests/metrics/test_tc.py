"""The KL's decomposition (Chen et al. 2018) and FactorVAE's permutation, against hand-computed values and
the identities they must satisfy."""

from __future__ import annotations

import math

import pytest
import torch

from metrics.kl import gaussian_kl_per_dim
from metrics.tc import held_out_kl_decomposition, kl_decomposition, log_importance_weights, permute_dims


def _log_normal(z: float, mu: float, logvar: float) -> float:
    return -0.5 * (math.log(2 * math.pi) + logvar + (z - mu) ** 2 / math.exp(logvar))


def test_decomposition_hand_computed_on_two_points():
    # Two points, two dims, weights 1/2 each (the exact mixture of both posteriors), written out by hand.
    z = [[0.3, -1.0], [1.5, 0.2]]
    mu = [[0.0, -0.5], [1.0, 0.5]]
    logvar = [[0.0, -1.0], [0.5, 0.0]]
    mi, tc, dim_kl = kl_decomposition(
        torch.tensor(z, dtype=torch.float64),
        torch.tensor(mu, dtype=torch.float64),
        torch.tensor(logvar, dtype=torch.float64),
        math.log(0.5),
    )
    for i in range(2):
        own = sum(_log_normal(z[i][d], mu[i][d], logvar[i][d]) for d in range(2))
        joint = math.log(
            sum(0.5 * math.exp(sum(_log_normal(z[i][d], mu[j][d], logvar[j][d]) for d in range(2))) for j in range(2))
        )
        marginals = sum(
            math.log(sum(0.5 * math.exp(_log_normal(z[i][d], mu[j][d], logvar[j][d])) for j in range(2)))
            for d in range(2)
        )
        prior = sum(_log_normal(z[i][d], 0.0, 0.0) for d in range(2))
        assert mi[i].item() == pytest.approx(own - joint, abs=1e-12)
        assert tc[i].item() == pytest.approx(joint - marginals, abs=1e-12)
        assert dim_kl[i].item() == pytest.approx(marginals - prior, abs=1e-12)


def test_importance_weights():
    b, n = 5, 100
    mws = log_importance_weights(b, n, "mws").exp()
    assert torch.allclose(mws, torch.full((b, b), 1 / (n * b), dtype=torch.float64))
    mss = log_importance_weights(b, n, "mss").exp()
    # Chen et al. §C.2 with M = B − 1: own 1/N, one stratum (N − M)/(N·M), the other M − 1 points 1/M.
    m = b - 1
    torch.testing.assert_close(mss.sum(dim=1), torch.ones(b, dtype=torch.float64))
    torch.testing.assert_close(mss.diagonal(), torch.full((b,), 1 / n, dtype=torch.float64))
    for row in mss:
        values = sorted(row.tolist())
        assert values == pytest.approx(sorted([1 / n, (n - m) / (n * m)] + [1 / m] * (m - 1)))
    with pytest.raises(ValueError, match="smaller than the batch"):
        log_importance_weights(8, 4, "mws")
    with pytest.raises(ValueError, match="sampling"):
        log_importance_weights(4, 8, "iid")


def _toy(b: int, d: int, seed: int, dependent: bool = False):
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(b, d, generator=g, dtype=torch.float64)
    if dependent:
        mu[:, 1] = mu[:, 0]  # the posterior means of z0 and z1 move together: TC > 0
    logvar = torch.full((b, d), -1.0, dtype=torch.float64)
    z = mu + torch.randn(b, d, generator=g, dtype=torch.float64) * (0.5 * logvar).exp()
    return z, mu, logvar


@pytest.mark.parametrize("sampling", ["mws", "mss"])
def test_parts_sum_to_the_kl_within_monte_carlo_error(sampling):
    b, d = 2000, 3
    z, mu, logvar = _toy(b, d, seed=1)
    parts = kl_decomposition(z, mu, logvar, log_importance_weights(b, 50_000, sampling))
    total = sum(parts)
    kl = gaussian_kl_per_dim(mu, logvar).sum(dim=1)
    error = 4 * (total - kl).std().item() / math.sqrt(b)
    assert abs(total.mean().item() - kl.mean().item()) < error
    assert error < 0.1 * kl.mean().item()  # the check has teeth: the MC error is small against the KL


def test_total_correlation_near_zero_for_independent_codes_and_positive_for_dependent():
    n = 2000
    independent = held_out_kl_decomposition(*_toy(n, 2, seed=2)[1:], n, torch.Generator().manual_seed(0))
    dependent = held_out_kl_decomposition(*_toy(n, 2, seed=2, dependent=True)[1:], n, torch.Generator().manual_seed(0))
    # Analytic: q(z) is close to N(0, Σ) with Σ = I + σ² I (independent) or Σ = [[1 + σ², 1], [1, 1 + σ²]]
    # (dependent), σ² = e⁻¹, whose TC is −½ log(1 − ρ²), ρ = 1 / (1 + σ²); each marginal N(0, 1 + σ²).
    var = 1 + math.exp(-1.0)
    rho = 1 / var
    assert independent["tc"] == pytest.approx(0.0, abs=0.03)
    assert dependent["tc"] == pytest.approx(-0.5 * math.log(1 - rho**2), abs=0.03)
    dim_kl = 2 * 0.5 * (var - 1 - math.log(var))
    assert independent["dim_kl"] == pytest.approx(dim_kl, abs=0.02)
    # MI of a posterior N(μ, e^-1) with μ ~ N(0, I): positive and at most log N.
    assert 0 < independent["mi"] < math.log(n)


def test_permutation_keeps_marginals_and_breaks_dependence():
    g = torch.Generator().manual_seed(3)
    base = torch.randn(4000, 1, generator=g)
    z = torch.cat([base, 2 * base + 0.1 * torch.randn(4000, 1, generator=g), torch.randn(4000, 1, generator=g)], 1)
    permuted = permute_dims(z, torch.Generator().manual_seed(4))
    for dim in range(3):  # the same values per column: each marginal is kept exactly
        torch.testing.assert_close(permuted[:, dim].sort().values, z[:, dim].sort().values)
    assert torch.corrcoef(z.T)[0, 1] > 0.99
    assert abs(torch.corrcoef(permuted.T)[0, 1].item()) < 4 / math.sqrt(4000)
    assert not torch.equal(permuted[:, 0], z[:, 0])


def test_mws_bias_and_mss_exactness_when_every_posterior_is_the_prior():
    # All q(z|x_j) = p(z): the true MI, TC and dimension-wise KL are 0. MWS (Chen et al.'s estimator as
    # published) weighs each posterior 1/(N·B), so it reads log q(z) low by log N: MI = log N,
    # TC = (D − 1)·log N, dimension-wise KL = −D·log N, summing to the true KL of 0. MSS's rows sum to 1.
    b, d, n = 8, 3, 1000
    z = torch.randn(b, d, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    prior = torch.zeros(b, d, dtype=torch.float64)
    mws = kl_decomposition(z, prior, prior, log_importance_weights(b, n, "mws"))
    for part, expected in zip(mws, (math.log(n), (d - 1) * math.log(n), -d * math.log(n))):
        torch.testing.assert_close(part, torch.full((b,), expected, dtype=torch.float64))
    for part in kl_decomposition(z, prior, prior, log_importance_weights(b, n, "mss")):
        torch.testing.assert_close(part, torch.zeros(b, dtype=torch.float64))
