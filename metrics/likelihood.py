"""Bernoulli reconstruction likelihood and the ELBO built from it (objectives live in vae.objectives)."""

from __future__ import annotations

import numpy as np
import torch.nn.functional as F
from torch import Tensor

from .kl import at_least_float32, gaussian_kl_per_dim


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
    logits = at_least_float32(logits)
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


def elbo_summary(recon: np.ndarray, kl_per_example_dim: np.ndarray) -> dict[str, float | np.ndarray]:
    """Dataset means from per-example terms: ``recon`` (NLL, shape (N,)) and KL per example and latent
    dimension (N, D). Returns ``elbo``, ``recon``, ``kl`` (nats per image, float64) and ``kl_per_dim`` (D,).

    Averaged over examples before summing dimensions, so the KL carried by each dimension and the total
    are the same numbers.
    """
    recon = np.asarray(recon, dtype=np.float64)
    kl_per_dim = np.asarray(kl_per_example_dim, dtype=np.float64).mean(axis=0)
    recon_mean, kl = float(recon.mean()), float(kl_per_dim.sum())
    return {"elbo": -(recon_mean + kl), "recon": recon_mean, "kl": kl, "kl_per_dim": kl_per_dim}
