"""Training objectives against hand-computed values and the ELBO they are built from."""

from __future__ import annotations

import math

import pytest
import torch

from metrics import elbo_terms
from testkit.batches import random_vae_batch
from vae.objectives import AnnealedCapacity, BetaTCVAE, BetaVAE, Discriminator, FactorVAE


def test_beta_vae_hand_computed_on_one_pixel():
    # One image of one pixel x = 1 with logit 0 (p = 1/2): recon = log 2. One latent with μ = 1,
    # log σ² = 0: KL = ½(1 + 1 − 0 − 1) = ½. So loss = log 2 + β/2.
    logits, x = torch.zeros(1, 1), torch.ones(1, 1)
    mu, logvar = torch.ones(1, 1), torch.zeros(1, 1)
    terms = BetaVAE(beta=4.0).terms(logits, x, mu, logvar)
    assert list(terms) == ["loss", "recon", "kl"]
    assert terms["recon"].item() == pytest.approx(0.6931471805599453)
    assert terms["kl"].item() == pytest.approx(0.5)
    assert terms["loss"].item() == pytest.approx(0.6931471805599453 + 2.0)


def test_beta_vae_beta_zero_and_linearity():
    logits, x, mu, logvar = random_vae_batch()
    t = elbo_terms(logits, x, mu, logvar)
    zero = BetaVAE(beta=0.0).terms(logits, x, mu, logvar)
    assert all(value.shape == () for value in zero.values())
    torch.testing.assert_close(zero["loss"], zero["recon"])
    torch.testing.assert_close(zero["recon"], t["recon"].mean())
    torch.testing.assert_close(zero["kl"], t["kl"].mean())
    # β = 1 is exactly the negative mean ELBO: β is not rescaled per pixel.
    torch.testing.assert_close(BetaVAE(beta=1.0).terms(logits, x, mu, logvar)["loss"], -t["elbo"].mean())
    for beta in (0.5, 4.0, 16.0):
        loss = BetaVAE(beta=beta).terms(logits, x, mu, logvar)["loss"]
        torch.testing.assert_close(loss, zero["recon"] + beta * zero["kl"])
    l2, l4, l6 = (BetaVAE(beta=b).terms(logits, x, mu, logvar)["loss"] for b in (2.0, 4.0, 6.0))
    torch.testing.assert_close(l6 - l4, l4 - l2)
    # The held-out loss evaluate reports is the same formula on dataset means.
    assert BetaVAE(beta=4.0).loss(15.0, 5.0) == 35.0


def test_beta_vae_backprops_and_validates():
    logits, x, mu, logvar = random_vae_batch()
    for t in (logits, mu, logvar):
        t.requires_grad_(True)
    BetaVAE(beta=4.0).terms(logits, x, mu, logvar)["loss"].backward()
    assert all(t.grad is not None and torch.isfinite(t.grad).all() for t in (logits, mu, logvar))
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="beta"):
            BetaVAE(beta=bad)


def _one_pixel():
    # recon = log 2 (logit 0, x = 1); KL = ½ (μ = 1, log σ² = 0).
    return torch.zeros(1, 1), torch.ones(1, 1), torch.ones(1, 1), torch.zeros(1, 1)


def test_capacity_schedule_and_hand_computed_loss():
    objective = AnnealedCapacity(gamma=100.0, c_max=0.4, anneal_steps=10)
    assert [objective.capacity(t) for t in (0, 5, 10, 20)] == pytest.approx([0.0, 0.2, 0.4, 0.4])
    terms = objective.terms(*_one_pixel(), step=5)
    assert list(terms) == ["loss", "recon", "kl", "capacity"]
    assert terms["capacity"].item() == pytest.approx(0.2)
    assert terms["loss"].item() == pytest.approx(math.log(2) + 100 * abs(0.5 - 0.2))
    held = objective.held_out({"recon": 10.0, "kl": 1.0}, step=10)
    assert held == pytest.approx({"loss": 10.0 + 100 * 0.6, "capacity": 0.4})


@pytest.mark.parametrize(("step", "sign"), [(1, 1.0), (10, -1.0)])
def test_capacity_gradient_pushes_kl_towards_c(step, sign):
    # KL = ½ μ² at log σ² = 0 rises with μ > 0: above C (early) the loss pulls μ down, below C it pushes up.
    objective = AnnealedCapacity(gamma=1.0, c_max=2.0, anneal_steps=10)
    logits, x, mu, logvar = _one_pixel()
    mu.requires_grad_(True)
    objective.terms(logits, x, mu, logvar, step=step)["loss"].backward()
    assert torch.sign(mu.grad).item() == sign


def test_tc_vae_hand_computed_and_weights():
    logits, x, mu, logvar = random_vae_batch(b=6)
    z = mu + 0.3
    objective = BetaTCVAE(alpha=0.5, beta=6.0, gamma=2.0, dataset_size=1000, sampling="mws")
    terms = objective.terms(logits, x, mu, logvar, z=z)
    assert list(terms) == ["loss", "recon", "kl", "mi", "tc", "dim_kl"]
    # MWS by hand: log q(z_i) ≈ logsumexp_j log q(z_i | x_j) − log(N·B).
    pairs = -0.5 * (math.log(2 * math.pi) + logvar[None] + (z[:, None] - mu[None]) ** 2 / logvar[None].exp())
    own = pairs.diagonal(dim1=0, dim2=1).T.sum(1)
    log_qz = torch.logsumexp(pairs.sum(2), 1) - math.log(6000)
    log_prod = (torch.logsumexp(pairs, 1) - math.log(6000)).sum(1)
    log_p = (-0.5 * (math.log(2 * math.pi) + z**2)).sum(1)
    expected = {"mi": own - log_qz, "tc": log_qz - log_prod, "dim_kl": log_prod - log_p}
    for key, value in expected.items():
        assert terms[key].item() == pytest.approx(value.mean().item(), rel=1e-5)
    loss = terms["recon"] + 0.5 * terms["mi"] + 6.0 * terms["tc"] + 2.0 * terms["dim_kl"]
    assert terms["loss"].item() == pytest.approx(loss.item(), rel=1e-6)
    with pytest.raises(ValueError, match="needs the decoded code"):
        objective.terms(logits, x, mu, logvar)


def test_tc_vae_with_unit_weights_is_the_elbo_in_expectation():
    g = torch.Generator().manual_seed(5)
    b = 256
    logits, x = torch.randn(b, 1, 4, 4, generator=g), (torch.rand(b, 1, 4, 4, generator=g) > 0.5).float()
    mu, logvar = torch.randn(b, 4, generator=g), torch.randn(b, 4, generator=g) * 0.3
    objective = BetaTCVAE(alpha=1.0, beta=1.0, gamma=1.0, dataset_size=100_000, sampling="mss")
    losses = []
    for _ in range(12):
        z = mu + torch.randn(mu.shape, generator=g) * (0.5 * logvar).exp()
        losses.append(objective.terms(logits, x, mu, logvar, z=z)["loss"].item())
    elbo_loss = BetaVAE(beta=1.0).terms(logits, x, mu, logvar)["loss"].item()
    mean, sd = sum(losses) / len(losses), torch.tensor(losses).std().item()
    assert abs(mean - elbo_loss) < 4 * sd / math.sqrt(len(losses)) + 1e-3


def _constant_discriminator(logit: float) -> Discriminator:
    discriminator = Discriminator(latent_dim=1, hidden_dim=4, layers=2)
    with torch.no_grad():
        for p in discriminator.parameters():
            p.zero_()
        discriminator.net[-1].bias.fill_(logit)
    return discriminator


def test_factor_vae_hand_computed_terms_and_discriminator_step():
    objective = FactorVAE(gamma=10.0, discriminator=_constant_discriminator(1.0), lr=1e-4, betas=(0.5, 0.9))
    logits, x, mu, logvar = _one_pixel()
    mu.requires_grad_(True)
    terms = objective.terms(logits, x, mu, logvar, z=mu * 2)
    assert list(terms) == ["loss", "recon", "kl", "tc"]
    assert terms["tc"].item() == pytest.approx(1.0)  # the logit log D/(1 − D) is the TC estimate
    assert terms["loss"].item() == pytest.approx(math.log(2) + 0.5 + 10.0)
    terms["loss"].backward()
    assert all(p.grad is None for p in objective.discriminator.parameters())  # the VAE does not train D
    before = [p.clone() for p in objective.discriminator.parameters()]
    disc = objective.after_step()
    # Joint codes labelled 1, permuted 0, both at logit 1: ½(softplus(−1) + softplus(1)); accuracy ½(1 + 0).
    softplus = lambda v: math.log1p(math.exp(v))  # noqa: E731
    assert disc["disc_loss"].item() == pytest.approx(0.5 * (softplus(-1.0) + softplus(1.0)))
    assert disc["disc_acc"].item() == pytest.approx(0.5)
    assert any(not torch.equal(a, b) for a, b in zip(before, objective.discriminator.parameters()))
    assert objective.held_out({"recon": 3.0, "kl": 2.0, "tc": 0.5}, step=0) == {"loss": 3.0 + 2.0 + 5.0}


def test_factor_vae_state_round_trips():
    a = FactorVAE(gamma=1.0, discriminator=Discriminator(3, 8, 2), lr=1e-3, betas=(0.5, 0.9))
    logits, x, mu, logvar = random_vae_batch(b=6)
    a.terms(logits, x, mu[:, :3], logvar[:, :3], z=mu[:, :3])
    a.after_step()
    b = FactorVAE(gamma=1.0, discriminator=Discriminator(3, 8, 2), lr=1e-3, betas=(0.5, 0.9))
    b.load_state_dict(a.state_dict())
    for p, q in zip(a.discriminator.parameters(), b.discriminator.parameters()):
        torch.testing.assert_close(p, q)
    assert b.optimizer.state_dict()["state"].keys() == a.optimizer.state_dict()["state"].keys()
    with pytest.raises(ValueError, match="no state"):
        BetaVAE(beta=1.0).load_state_dict({"discriminator": {}})
