"""Training objectives against hand-computed values and the ELBO they are built from."""

from __future__ import annotations

import pytest
import torch

from metrics import elbo_terms
from vae.objectives import BetaVAE


def _batch(seed: int = 0, b: int = 6):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(b, 1, 16, 16, generator=g)
    x = (torch.rand(b, 1, 16, 16, generator=g) > 0.7).float()
    mu = torch.randn(b, 10, generator=g)
    logvar = torch.randn(b, 10, generator=g) * 0.5
    return logits, x, mu, logvar


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
    logits, x, mu, logvar = _batch()
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
    logits, x, mu, logvar = _batch()
    for t in (logits, mu, logvar):
        t.requires_grad_(True)
    BetaVAE(beta=4.0).terms(logits, x, mu, logvar)["loss"].backward()
    assert all(t.grad is not None and torch.isfinite(t.grad).all() for t in (logits, mu, logvar))
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="beta"):
            BetaVAE(beta=bad)
