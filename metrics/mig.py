"""Mutual Information Gap (Chen et al., 2018), discretised estimator of disentanglement_lib.

Follows google-research/disentanglement_lib (evaluation/metrics/mig.py and
utils.py) so scores are comparable with published numbers, with two
differences: arrays are (num_points, num_dims), and factors that never vary
(zero entropy, e.g. dSprites' colour) are excluded instead of producing NaN.

Caveat inherited from that estimator: codes are binned into ``num_bins``
equal-width bins, so a factor with more classes than bins cannot be captured
fully (a perfect code for dSprites' 40-class orientation scores
log(20)/log(40) ~= 0.81 with 20 bins), and the score is invariant to affine
but not to arbitrary monotone transforms of a code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import mutual_info_score


def _check_2d(name: str, arr: np.ndarray) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (num_points, num_dims), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must be non-empty, got shape {arr.shape}")
    return arr


def histogram_discretize(codes: np.ndarray, num_bins: int = 20) -> np.ndarray:
    """Bin each code dim independently into ``num_bins`` equal-width bins over its own range.

    Per-dim ranges make the estimate independent of each dim's scale, which
    differs freely between latent dims. Returns int64 bin ids in 1..num_bins.
    """
    codes = _check_2d("codes", codes)
    if num_bins < 1:
        raise ValueError(f"num_bins must be >= 1, got {num_bins}")
    if not np.all(np.isfinite(codes)):
        raise ValueError("codes contain NaN or inf; cannot histogram them")
    out = np.empty(codes.shape, dtype=np.int64)
    for j in range(codes.shape[1]):
        c = codes[:, j]
        out[:, j] = np.digitize(c, np.histogram(c, num_bins)[1][:-1])
    return out


def mutual_info_matrix(discrete_codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Plug-in mutual information (nats) between every code dim and every factor, shape (num_codes, num_factors)."""
    discrete_codes = _check_2d("discrete_codes", discrete_codes)
    factors = _check_2d("factors", factors)
    if discrete_codes.shape[0] != factors.shape[0]:
        raise ValueError(
            f"discrete_codes and factors must have the same number of points, "
            f"got {discrete_codes.shape[0]} and {factors.shape[0]}"
        )
    m = np.zeros((discrete_codes.shape[1], factors.shape[1]))
    for i in range(discrete_codes.shape[1]):
        for j in range(factors.shape[1]):
            m[i, j] = mutual_info_score(factors[:, j], discrete_codes[:, i])
    return m


def factor_entropies(factors: np.ndarray) -> np.ndarray:
    """Empirical entropy (nats) of each factor, shape (num_factors,): the most MI any code can have with it."""
    factors = _check_2d("factors", factors)
    return np.array([mutual_info_score(factors[:, j], factors[:, j]) for j in range(factors.shape[1])])


@dataclass(frozen=True)
class MIGResult:
    """MIG score plus the pieces behind it, so a low score can be diagnosed.

    ``gaps`` holds the normalised gap of each varying factor (the entries of
    ``factor_mask`` that are True, in order); ``mutual_info`` is
    (num_codes, num_factors) and ``entropies`` (num_factors,), both in nats and
    over all factors.
    """

    score: float
    mutual_info: np.ndarray
    entropies: np.ndarray
    gaps: np.ndarray
    factor_mask: np.ndarray


def compute_mig(codes: np.ndarray, factors: np.ndarray, num_bins: int = 20) -> MIGResult:
    """Mean over varying factors of (top MI - second MI over code dims) / H(factor).

    The gap rewards a factor being captured by exactly one code dim: a factor
    spread over two dims scores 0 however well it is captured.

    codes: (num_points, num_codes) continuous, e.g. posterior means; at least 2 dims.
    factors: (num_points, num_factors) integer class labels (any discrete labels work).
    """
    codes = _check_2d("codes", codes)
    factors = _check_2d("factors", factors)
    if codes.shape[0] != factors.shape[0]:
        raise ValueError(
            f"codes and factors must have the same number of points (axis 0), "
            f"got {codes.shape[0]} and {factors.shape[0]}"
        )
    if codes.shape[1] < 2:
        raise ValueError(f"MIG needs at least 2 code dims to form a gap, got {codes.shape[1]}")

    mi = mutual_info_matrix(histogram_discretize(codes, num_bins), factors)
    entropies = factor_entropies(factors)
    # Entropy of a constant factor is exactly 0 from the plug-in estimator.
    factor_mask = entropies > 0
    if not factor_mask.any():
        raise ValueError("no factor varies (all have zero entropy); MIG is undefined")
    top2 = -np.sort(-mi, axis=0)[:2]
    gaps = (top2[0] - top2[1])[factor_mask] / entropies[factor_mask]
    return MIGResult(
        score=float(np.mean(gaps)),
        mutual_info=mi,
        entropies=entropies,
        gaps=gaps,
        factor_mask=factor_mask,
    )
