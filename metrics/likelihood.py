"""Reconstruction likelihoods (Bernoulli, Gaussian, continuous Bernoulli) and the ELBO built from them.

Each NLL is per example in nats, summed over every pixel and channel, so an ELBO is a bound on log p(x) in
nats per image whatever the decoder; ELBOs under different likelihoods are still different quantities
(a density for continuous data, a probability for binary) and are never compared. Objectives live in
vae.objectives.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
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


def _check_pair(a: Tensor, x: Tensor, what: str) -> None:
    if a.shape != x.shape:
        raise ValueError(f"{what} and x must have the same shape, got {tuple(a.shape)} and {tuple(x.shape)}")
    if a.ndim < 1:
        raise ValueError(f"{what} must have a batch dimension")


_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def gaussian_nll(mean: Tensor, log_std: Tensor | float, x: Tensor) -> Tensor:
    """Per-example -log N(x; mean, exp(log_std)²) in nats, summed over non-batch dims, shape (B,).

    `log_std` is a tensor of mean's shape (a learned variance per pixel) or a number (fixed variance).
    """
    _check_pair(mean, x, "mean")
    mean = at_least_float32(mean)
    x = x.to(mean.dtype)
    log_std = at_least_float32(log_std) if isinstance(log_std, Tensor) else torch.tensor(float(log_std))
    nll = 0.5 * ((x - mean) * torch.exp(-log_std)) ** 2 + log_std + _HALF_LOG_2PI
    return _sum_non_batch(nll.expand_as(x))


def continuous_bernoulli_log_norm(logits: Tensor) -> Tensor:
    """log C(λ) of the continuous Bernoulli with λ = sigmoid(logits) (Loaiza-Ganem & Cunningham 2019):
    C(λ) = 2 artanh(1 - 2λ) / (1 - 2λ), and its limit 2 (+ 4/3 (λ - ½)²) near λ = ½, where the closed
    form is 0/0."""
    logits = at_least_float32(logits)
    lam = torch.sigmoid(logits).clamp(1e-6, 1 - 1e-6)
    near = (lam - 0.5).abs() < 1e-2
    safe = torch.where(near, torch.full_like(lam, 0.25), lam)
    exact = torch.log(2.0 * torch.atanh(1.0 - 2.0 * safe) / (1.0 - 2.0 * safe))
    taylor = math.log(2.0) + (4.0 / 3.0) * (lam - 0.5) ** 2
    return torch.where(near, taylor, exact)


def continuous_bernoulli_nll(logits: Tensor, x: Tensor) -> Tensor:
    """Per-example -log CB(x; sigmoid(logits)) for x in [0, 1], in nats, summed over non-batch dims:
    the Bernoulli cross-entropy minus log C(λ), so it is a proper density on [0, 1]."""
    _check_pair(logits, x, "logits")
    logits = at_least_float32(logits)
    x = x.to(logits.dtype)
    nll = F.binary_cross_entropy_with_logits(logits, x, reduction="none") - continuous_bernoulli_log_norm(logits)
    return _sum_non_batch(nll)


def elbo_terms(
    logits: Tensor,
    x: Tensor,
    mu: Tensor,
    logvar: Tensor,
    nll: Callable[[Tensor, Tensor], Tensor] = bernoulli_nll,
) -> dict[str, Tensor]:
    """Per-example ELBO pieces, each shape (B,): ``recon`` (NLL), ``kl`` and ``elbo = -recon - kl``.

    `logits` is the decoder's output and `nll(logits, x)` the per-example reconstruction NLL of the chosen
    likelihood (Bernoulli by default). Returned per example so evaluation can report means, spreads and
    per-example bounds without recomputing anything.
    """
    recon = nll(logits, x)
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


def standard_normal_log_density(z: Tensor) -> Tensor:
    """log N(z; 0, I) summed over the last dim, shape z.shape[:-1]."""
    z = at_least_float32(z)
    return -0.5 * (z.square() + math.log(2.0 * math.pi)).sum(dim=-1)


def gaussian_log_density(z: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """log N(z; mu, diag exp(logvar)) summed over the last dim (mu, logvar broadcast against z)."""
    z, mu, logvar = at_least_float32(z), at_least_float32(mu), at_least_float32(logvar)
    return -0.5 * ((z - mu).square() * torch.exp(-logvar) + logvar + math.log(2.0 * math.pi)).sum(dim=-1)


def iwae_bound(log_px_z: Tensor, log_pz: Tensor, log_qz_x: Tensor) -> Tensor:
    """Importance-weighted bound (Burda et al., 2016) per example from K samples z_k ~ q(z|x), shape (B,):
    log (1/K) Σ_k p(x|z_k) p(z_k) / q(z_k|x), computed as logsumexp − log K.

    Inputs are (K, B) log densities in nats. At K = 1 it is the one-sample ELBO estimate; its expectation
    never falls as K grows and tends to log p(x), so it sits between the ELBO and the true likelihood.
    """
    if not (log_px_z.shape == log_pz.shape == log_qz_x.shape) or log_px_z.ndim != 2:
        raise ValueError(
            f"log densities must all be (K, B), got {tuple(log_px_z.shape)}, {tuple(log_pz.shape)}, "
            f"{tuple(log_qz_x.shape)}"
        )
    log_w = at_least_float32(log_px_z) + at_least_float32(log_pz) - at_least_float32(log_qz_x)
    return torch.logsumexp(log_w, dim=0) - math.log(log_w.shape[0])


def importance_log_terms(
    x: Tensor,
    mu: Tensor,
    logvar: Tensor,
    decode,
    k: int,
    generator: torch.Generator | None = None,
    nll: Callable[[Tensor, Tensor], Tensor] = bernoulli_nll,
) -> tuple[Tensor, Tensor, Tensor]:
    """(log p(x|z_k), log p(z_k), log q(z_k|x)), each (K, B), for K samples z_k ~ q(z|x) = N(mu, exp(logvar)).

    `decode` maps latents (n, D) to the decoder's output for x's rows and `nll` reads it as the likelihood
    (Bernoulli logits by default); samples are drawn and decoded one k at a time, so memory is that of one
    batch.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    mu, logvar = at_least_float32(mu), at_least_float32(logvar)
    std = torch.exp(0.5 * logvar)
    log_px_z, log_pz, log_qz_x = [], [], []
    for _ in range(k):
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        z = mu + std * eps
        log_px_z.append(-nll(decode(z), x))
        log_pz.append(standard_normal_log_density(z))
        log_qz_x.append(gaussian_log_density(z, mu, logvar))
    return torch.stack(log_px_z), torch.stack(log_pz), torch.stack(log_qz_x)
