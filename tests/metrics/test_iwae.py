"""The IWAE bound (Burda et al. 2016): hand-computed values, K = 1 equals the one-sample ELBO, and it does
not fall as K grows."""

from __future__ import annotations

import math

import pytest
import torch

from metrics import bernoulli_nll, gaussian_kl_per_dim
from metrics.likelihood import gaussian_log_density, importance_log_terms, iwae_bound, standard_normal_log_density


def test_iwae_hand_computed():
    # Two samples of one example with log weights log 1 and log 3: log((1 + 3) / 2) = log 2.
    log_px_z = torch.tensor([[0.0], [math.log(3.0)]])
    zeros = torch.zeros(2, 1)
    assert iwae_bound(log_px_z, zeros, zeros).item() == pytest.approx(math.log(2.0))
    # Densities enter as log p(x|z) + log p(z) − log q(z|x).
    got = iwae_bound(torch.tensor([[-1.0]]), torch.tensor([[-2.0]]), torch.tensor([[-0.5]]))
    assert got.item() == pytest.approx(-2.5)


def test_log_densities_hand_values():
    z = torch.tensor([[0.0, 1.0]])
    assert standard_normal_log_density(z).item() == pytest.approx(-math.log(2 * math.pi) - 0.5)
    # N(1; 1, 4) · N(0; 0, 1): the first term sits at its mean with variance 4.
    got = gaussian_log_density(
        torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 0.0]]), torch.tensor([[math.log(4.0), 0.0]])
    )
    assert got.item() == pytest.approx(-0.5 * math.log(2 * math.pi * 4) - 0.5 * math.log(2 * math.pi))


def _toy(seed: int = 0, b: int = 16, d: int = 3, p: int = 12):
    """A fixed linear decoder and data: enough to compare bounds, no training needed."""
    g = torch.Generator().manual_seed(seed)
    weight = torch.randn(d, p, generator=g)
    x = (torch.rand(b, p, generator=g) > 0.5).float()
    mu = 0.5 * torch.randn(b, d, generator=g)
    logvar = -1.0 + 0.3 * torch.randn(b, d, generator=g)
    return x, mu, logvar, lambda z: z @ weight


def test_iwae_at_k1_is_the_one_sample_elbo_with_the_same_sample():
    x, mu, logvar, decode = _toy()
    bound = iwae_bound(*importance_log_terms(x, mu, logvar, decode, 1, torch.Generator().manual_seed(7)))
    z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=torch.Generator().manual_seed(7))
    elbo_one_sample = (
        -bernoulli_nll(decode(z), x) + standard_normal_log_density(z) - gaussian_log_density(z, mu, logvar)
    )
    torch.testing.assert_close(bound, elbo_one_sample)


def test_iwae_k1_matches_analytic_elbo_in_expectation():
    x, mu, logvar, decode = _toy()
    terms = importance_log_terms(x, mu, logvar, decode, 400, torch.Generator().manual_seed(0))
    mc_elbo = (terms[0] + terms[1] - terms[2]).mean()  # each row is a K = 1 bound
    analytic = terms[0].mean() - gaussian_kl_per_dim(mu, logvar).sum(dim=1).mean()
    assert mc_elbo.item() == pytest.approx(analytic.item(), abs=0.03)


def test_iwae_does_not_fall_as_k_grows():
    x, mu, logvar, decode = _toy()
    means = []
    for k in (1, 4, 32):
        # Average over many independent draws at a fixed seed: the claim is about the expectation.
        draws = [
            iwae_bound(*importance_log_terms(x, mu, logvar, decode, k, torch.Generator().manual_seed(s)))
            for s in range(20)
        ]
        means.append(torch.stack(draws).mean().item())
    assert means[0] < means[1] < means[2]


def test_iwae_validates():
    with pytest.raises(ValueError, match=r"\(K, B\)"):
        iwae_bound(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(3, 2))
    with pytest.raises(ValueError, match="k must be"):
        importance_log_terms(torch.zeros(1, 2), torch.zeros(1, 1), torch.zeros(1, 1), lambda z: z, 0)
