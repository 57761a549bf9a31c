"""Bernoulli reconstruction likelihood and the (beta-)ELBO built from it."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .kl import gaussian_kl_per_dim


def _at_least_float32(t: Tensor) -> Tensor:
    return t.to(torch.promote_types(t.dtype, torch.float32))


def _sum_non_batch(t: Tensor) -> Tensor:
    return t.reshape(t.shape[0], -1).sum(dim=1)


def bernoulli_nll(logits: Tensor, x: Tensor) -> Tensor:
    """Per-example -log p(x | z) in nats, summed over all non-batch dims, shape (B,).

    Works from logits (not probabilities) so saturated decoders give finite,
    exact values; summed (not averaged) over pixels so it is on the same scale
    as the KL term and the ELBO is a true bound on log p(x).
    """
    if logits.shape != x.shape:
        raise ValueError(f"logits and x must have the same shape, got {tuple(logits.shape)} and {tuple(x.shape)}")
    if logits.ndim < 1:
        raise ValueError("logits must have a batch dimension")
    logits = _at_least_float32(logits)
    x = x.to(logits.dtype)
    nll = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    return _sum_non_batch(nll)


def elbo_terms(logits: Tensor, x: Tensor, mu: Tensor, logvar: Tensor) -> dict[str, Tensor]:
    """Per-example ELBO pieces, each shape (B,): ``recon`` (NLL), ``kl`` and ``elbo = -recon - kl``.

    Returned per example so evaluation can report means, spreads and
    per-example bounds without recomputing anything.
    """
    recon = bernoulli_nll(logits, x)
    if mu.ndim < 1 or mu.shape[0] != recon.shape[0]:
        raise ValueError(f"mu batch size {tuple(mu.shape)[:1]} does not match logits batch size {recon.shape[0]}")
    kl = _sum_non_batch(gaussian_kl_per_dim(mu, logvar))
    return {"recon": recon, "kl": kl, "elbo": -recon - kl}


def beta_vae_loss(
    logits: Tensor, x: Tensor, mu: Tensor, logvar: Tensor, beta: float
) -> tuple[Tensor, Tensor, Tensor]:
    """Batch-mean (loss, recon, kl) with loss = recon + beta * kl (Higgins et al., 2017).

    beta multiplies the KL of the summed-over-pixels likelihood as in the
    papers, not a per-pixel-normalised one, so beta values are comparable with
    published ones; beta = 1 gives the negative ELBO, beta = 0 a plain autoencoder.
    """
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    terms = elbo_terms(logits, x, mu, logvar)
    recon = terms["recon"].mean()
    kl = terms["kl"].mean()
    return recon + beta * kl, recon, kl
