"""Evaluation math for the beta-VAE pipeline: pure functions on tensors and arrays."""

from .kl import active_dims, active_units, at_least_float32, gaussian_kl_per_dim, posterior_mean_variance
from .likelihood import (
    bernoulli_nll,
    continuous_bernoulli_log_norm,
    continuous_bernoulli_nll,
    elbo_summary,
    elbo_terms,
    gaussian_nll,
)

_MIG_NAMES = {"MIGResult", "compute_mig", "factor_entropies", "histogram_discretize", "mutual_info_matrix"}


def __getattr__(name: str):
    """MIG pulls in scikit-learn (and SciPy): imported on first use, so training processes never load it."""
    if name in _MIG_NAMES:
        from . import mig

        return getattr(mig, name)
    raise AttributeError(f"module 'metrics' has no attribute {name!r}")


__all__ = [
    "MIGResult",
    "active_dims",
    "active_units",
    "at_least_float32",
    "bernoulli_nll",
    "compute_mig",
    "continuous_bernoulli_log_norm",
    "continuous_bernoulli_nll",
    "elbo_summary",
    "elbo_terms",
    "factor_entropies",
    "gaussian_kl_per_dim",
    "gaussian_nll",
    "histogram_discretize",
    "mutual_info_matrix",
    "posterior_mean_variance",
]
