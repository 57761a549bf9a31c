"""KL divergence of a diagonal Gaussian posterior to the N(0, I) prior, and active units."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def at_least_float32(t: Tensor) -> Tensor:
    """bf16/fp16 lose too much precision in exp(logvar) and in sums over pixels or latent dims;
    float64 inputs are kept as they are."""
    return t.to(torch.promote_types(t.dtype, torch.float32))


def gaussian_kl_per_dim(mu: Tensor, logvar: Tensor) -> Tensor:
    """Elementwise KL(N(mu, exp(logvar)) || N(0, 1)) in nats.

    Kept per dimension (not summed) so callers can both sum it for the ELBO and
    inspect which latent dims carry information. Always computed in at least
    float32, so mixed-precision encoder outputs give the same numbers as fp32.
    """
    if mu.shape != logvar.shape:
        raise ValueError(f"mu and logvar must have the same shape, got {tuple(mu.shape)} and {tuple(logvar.shape)}")
    mu = at_least_float32(mu)
    logvar = at_least_float32(logvar)
    return 0.5 * (mu.square() + logvar.exp() - logvar - 1.0)


def _to_numpy_2d(mu: Tensor | np.ndarray) -> np.ndarray:
    if isinstance(mu, Tensor):
        # numpy has no bfloat16, so cast on the torch side first.
        arr = mu.detach().to(device="cpu", dtype=torch.float64).numpy()
    else:
        arr = np.asarray(mu, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"mu must be 2-D (num_points, latent_dim), got shape {arr.shape}")
    if arr.shape[0] < 2:
        raise ValueError(f"need at least 2 data points to measure variance, got {arr.shape[0]}")
    return arr


def posterior_mean_variance(mu: Tensor | np.ndarray) -> np.ndarray:
    """Per-dimension variance, over data points, of the posterior means (num_points, latent_dim).

    A dim whose posterior mean does not move with the input carries no
    information about it (it has collapsed to the prior), whatever its KL says
    per example. Population variance (ddof=0), in float64.
    """
    return _to_numpy_2d(mu).var(axis=0)


def active_dims(variance: np.ndarray, threshold: float = 0.01) -> np.ndarray:
    """Which latent dims are active (Burda et al., 2016), from `posterior_mean_variance`: Var_x(E_q[z_u | x])
    above `threshold`. Boolean, shape (latent_dim,)."""
    return np.asarray(variance, dtype=np.float64) > threshold


def active_units(mu: Tensor | np.ndarray, threshold: float = 0.01) -> int:
    """Number of active latent dims (Burda et al., 2016): Var_x(E_q[z_u | x]) > threshold.

    Counts how much of the latent capacity a beta-VAE actually uses, which is
    what beta trades off against reconstruction.
    """
    return int(np.count_nonzero(active_dims(posterior_mean_variance(mu), threshold)))
