"""Decoder likelihoods: NLLs against torch.distributions, shapes, and the choice validated per dataset."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Bernoulli, ContinuousBernoulli, Normal

from metrics import continuous_bernoulli_nll, gaussian_nll
from pipeline.core.errors import ParamsError
from pipeline.core.params import parse_params
from vae.likelihoods import Likelihood
from vae.model import VAE, ModelConfig


def test_gaussian_nll_matches_torch_normal_fixed_and_per_pixel() -> None:
    g = torch.Generator().manual_seed(0)
    mean, x = torch.rand(3, 1, 8, 8, generator=g), torch.rand(3, 1, 8, 8, generator=g)
    log_std = torch.randn(3, 1, 8, 8, generator=g) * 0.3
    expected = -Normal(mean, log_std.exp()).log_prob(x).sum(dim=(1, 2, 3))
    torch.testing.assert_close(gaussian_nll(mean, log_std, x), expected)
    fixed = -Normal(mean, 0.1).log_prob(x).sum(dim=(1, 2, 3))
    torch.testing.assert_close(gaussian_nll(mean, math.log(0.1), x), fixed)


def test_continuous_bernoulli_nll_matches_torch_including_near_one_half() -> None:
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(4, 1, 8, 8, generator=g) * 3
    logits[0] = 0.0  # λ = 1/2 exactly, where the normaliser's closed form is 0/0
    logits[1] = 0.01
    x = torch.rand(4, 1, 8, 8, generator=g)
    expected = -ContinuousBernoulli(logits=logits).log_prob(x).sum(dim=(1, 2, 3))
    torch.testing.assert_close(continuous_bernoulli_nll(logits, x), expected, rtol=1e-4, atol=1e-3)
    assert torch.isfinite(continuous_bernoulli_nll(logits, x)).all()


@pytest.mark.parametrize("name", ["bernoulli", "gaussian", "gaussian_learned", "continuous_bernoulli"])
def test_every_likelihood_trains_an_mlp_on_8x8_and_gives_nats_per_image(name: str) -> None:
    config = ModelConfig(
        arch="mlp", latent_dim=3, hidden_dim=16, image_shape=(1, 8, 8), likelihood=name, gaussian_std=0.1
    )
    model = VAE(config)
    x = torch.rand(5, 1, 8, 8).round() if name == "bernoulli" else torch.rand(5, 1, 8, 8)
    out, mu, _ = model(x)
    assert out.shape == (5, 2 if name == "gaussian_learned" else 1, 8, 8)
    nll = model.likelihood.nll(out, x)
    assert nll.shape == (5,) and torch.isfinite(nll).all()
    mean = model.likelihood.mean(out)
    assert mean.shape == x.shape and mean.min() >= 0 and mean.max() <= 1
    if name == "bernoulli":
        expected = -Bernoulli(logits=out).log_prob(x).sum(dim=(1, 2, 3))
        torch.testing.assert_close(nll, expected)


def test_unknown_likelihood_and_conv_on_small_images_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown likelihood 'poisson'"):
        Likelihood("poisson", 0.1)
    with pytest.raises(ValueError, match="conv architecture needs 64×64 or 28×28"):
        ModelConfig(
            arch="conv", latent_dim=3, hidden_dim=8, image_shape=(1, 8, 8), likelihood="gaussian", gaussian_std=1
        )


def test_params_validate_the_model_against_the_dataset() -> None:
    with pytest.raises(
        ParamsError, match=r"^params.yaml: model.arch: conv needs 64×64 or 28×28 images but digits is 8×8"
    ):
        parse_params({"data": {"dataset": "digits"}, "model": {"arch": "conv"}})
    with pytest.raises(ParamsError, match="model.likelihood: bernoulli is for binary images but digits is grey"):
        parse_params({"data": {"dataset": "digits"}, "model": {"likelihood": "bernoulli"}})
    parse_params({"data": {"dataset": "digits"}})  # auto picks what fits: mlp, continuous Bernoulli
    parse_params({"model": {"likelihood": "gaussian_learned"}})  # a grey likelihood on binary data is allowed
