"""The KL's decomposition (Chen et al. 2018) into index-code mutual information, total correlation and
dimension-wise KL, estimated from posterior samples.

E_x KL(q(z|x) || p(z)) = I_q(x; z) + KL(q(z) || Π_d q(z_d)) + Σ_d KL(q(z_d) || p(z_d)), and for each sampled
z_i ~ q(z|x_i) the three per-sample terms (log q(z_i|x_i) − log q(z_i), log q(z_i) − log Π_d q(z_id),
log Π_d q(z_id) − log p(z_i)) sum to log q(z_i|x_i) − log p(z_i), whose expectation is the analytic KL.
The aggregate posterior q(z) = (1/N) Σ_n q(z|x_n) needs the whole dataset; it is estimated from the
posteriors of a minibatch by importance weights: minibatch-weighted sampling (MWS) or minibatch stratified
sampling (MSS), Chen et al. 2018 §C.1–C.2, or uniform weights 1/N when all N posteriors are at hand
(held-out evaluation). Pure functions on tensors, used both by the β-TCVAE objective and by evaluation.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

from .kl import at_least_float32

Sampling = Literal["mws", "mss"]
_LOG_2PI = math.log(2 * math.pi)


def gaussian_log_density_per_dim(z: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """Elementwise log N(z; μ, exp(log σ²)) in nats, one value per dimension (metrics.likelihood.gaussian_log_density
    is its sum over the last dimension); broadcasts."""
    z, mu, logvar = (at_least_float32(t) for t in (z, mu, logvar))
    return -0.5 * (_LOG_2PI + logvar + (z - mu).square() * torch.exp(-logvar))


def log_importance_weights(batch_size: int, dataset_size: int, sampling: Sampling) -> Tensor:
    """(B, B) log weights w_ij with q(z_i) ≈ Σ_j w_ij q(z_i | x_j) for a minibatch of B of N points.

    MWS: every w_ij = 1/(N·B). MSS: x_i's own posterior 1/N, one other point (N − M)/(N·M), the remaining
    M − 1 points 1/M, with M = B − 1: each row sums to 1 (Chen et al. 2018, §C.2).
    """
    if batch_size < 2:
        raise ValueError(f"the KL decomposition needs a batch of at least 2 codes, got {batch_size}")
    if dataset_size < batch_size:
        raise ValueError(f"dataset size {dataset_size} is smaller than the batch size {batch_size}")
    n, b = float(dataset_size), batch_size
    if sampling == "mws":
        return torch.full((b, b), -math.log(n * b), dtype=torch.float64)
    if sampling != "mss":
        raise ValueError(f"sampling must be 'mws' or 'mss', got {sampling!r}")
    m = b - 1
    weights = torch.full((b, b), 1.0 / m, dtype=torch.float64)
    rows = torch.arange(b)
    weights[rows, rows] = 1.0 / n
    weights[rows, (rows + 1) % b] = (n - m) / (n * m)
    return weights.log()


def kl_decomposition(z: Tensor, mu: Tensor, logvar: Tensor, log_weights: Tensor | float, own: slice | None = None):
    """Per-sample (mi, tc, dim_kl), each shape (M,), for codes z (M, D) against N posteriors (μ, log σ²) (N, D).

    `log_weights` broadcasts to (M, N): `log_importance_weights` for a minibatch (M = N, z_i drawn from
    posterior i), or −log N for uniform weights over a whole dataset. `own` picks the rows of μ, log σ² that
    z was drawn from (default: all, M = N), so a large set can be processed in chunks of rows.
    """
    mine = slice(None) if own is None else own
    log_q_own = gaussian_log_density_per_dim(z, mu[mine], logvar[mine]).sum(dim=1)
    log_p = gaussian_log_density_per_dim(z, torch.zeros_like(z), torch.zeros_like(z)).sum(dim=1)
    pairs = gaussian_log_density_per_dim(z.unsqueeze(1), mu.unsqueeze(0), logvar.unsqueeze(0))  # (M, N, D)
    weights = torch.as_tensor(log_weights, dtype=pairs.dtype, device=pairs.device)
    if weights.ndim == 2:
        weights = weights[mine]
    log_qz = torch.logsumexp(pairs.sum(dim=2) + weights, dim=1)
    per_dim_weights = weights.unsqueeze(-1) if weights.ndim else weights
    log_prod_marginals = torch.logsumexp(pairs + per_dim_weights, dim=1).sum(dim=1)
    return log_q_own - log_qz, log_qz - log_prod_marginals, log_prod_marginals - log_p


def held_out_kl_decomposition(
    mu: Tensor, logvar: Tensor, n_points: int, generator: torch.Generator, chunk: int = 128
) -> dict[str, float]:
    """Means of (mi, tc, dim_kl) over one code sampled from each of `n_points` random posteriors of
    (μ, log σ²) (N, D), with q(z) the exact mixture of all N posteriors (weights 1/N): no minibatch
    estimator needed. The MI estimate is at most log N."""
    n = mu.shape[0]
    if not 1 <= n_points <= n:
        raise ValueError(f"n_points must be in [1, {n}], got {n_points}")
    order = torch.randperm(n, generator=generator).to(mu.device)  # the mixture does not depend on order
    mu, logvar = at_least_float32(mu)[order], at_least_float32(logvar)[order]
    sums = torch.zeros(3, dtype=torch.float64)
    for start in range(0, n_points, chunk):
        rows = slice(start, min(start + chunk, n_points))
        noise = torch.randn(mu[rows].shape, generator=generator, dtype=mu.dtype).to(mu.device)
        z = mu[rows] + noise * torch.exp(0.5 * logvar[rows])
        parts = kl_decomposition(z, mu, logvar, -math.log(n), own=rows)
        sums += torch.stack([part.double().sum().cpu() for part in parts])
    mi, tc, dim_kl = (sums / n_points).tolist()
    return {"mi": mi, "tc": tc, "dim_kl": dim_kl}


def permute_dims(z: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Each column of z (B, D) shuffled across the batch by its own permutation (Kim & Mnih 2018, Alg. 1):
    every dimension keeps its marginal, the dependence between dimensions is broken, so the result is a
    sample of Π_d q(z_d)."""
    keys = torch.rand(z.shape, generator=generator, device="cpu" if generator is not None else z.device)
    return z.gather(0, keys.argsort(dim=0).to(z.device))
