"""IRS, the Interventional Robustness Score (Suter et al., 2019).

Follows google-research/disentanglement_lib (evaluation/metrics/irs.py, `compute_irs` and
`scalable_disentanglement_score`): the factors are first binned into `num_bins` equal-width bins (the
reference's discretizer, also applied to factors that are already classes: dSprites' 40 orientations and 32
positions fall into 20 bins); codes that never vary are dropped. For each factor i and each of its binned
values, the `diff_quantile` quantile over the points with that value of |z − E[z | g_i]| per code is the
code's deviation when only the other factors change; its mean over the values, divided by the code's largest
deviation from its overall mean, is 1 − IRS(code, factor). A code's score is its best factor's IRS, and the
score is the mean over codes weighted by their largest deviation. Without a varying code the score is 0.
Paper setting (Locatello et al. 2019): 10,000 points, diff_quantile 0.99, 20 bins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .mig import _check_2d, histogram_discretize


@dataclass(frozen=True)
class IRSResult:
    score: float
    num_active_dims: int  # codes that vary over the points (the others are dropped)
    per_code: np.ndarray  # (num_active_dims,) each varying code's best IRS
    parents: np.ndarray  # (num_active_dims,) the factor each varying code is most robust to changes of
    matrix: np.ndarray  # (num_active_dims, num_factors) IRS of each varying code and factor


def irs_matrix(factors: np.ndarray, codes: np.ndarray, diff_quantile: float = 0.99) -> tuple[np.ndarray, np.ndarray]:
    """(IRS matrix (num_codes, num_factors), each code's largest deviation from its mean (num_codes,)) of
    varying codes (n, num_codes) against discrete factors (n, num_factors)."""
    max_deviation = np.max(np.abs(codes - codes.mean(axis=0)), axis=0)
    deviation = np.zeros((codes.shape[1], factors.shape[1]))
    for i in range(factors.shape[1]):
        values = np.unique(factors[:, i])
        for value in values:
            group = codes[factors[:, i] == value]
            deviation[:, i] += np.quantile(np.abs(group - group.mean(axis=0)), diff_quantile, axis=0)
        deviation[:, i] /= len(values)
    return 1.0 - deviation / max_deviation[:, None], max_deviation


def compute_irs(codes: np.ndarray, factors: np.ndarray, diff_quantile: float = 0.99, num_bins: int = 20) -> IRSResult:
    """IRS of codes (num_points, num_codes) against factors (num_points, num_factors), both of one sample."""
    codes, factors = _check_2d("codes", codes), _check_2d("factors", factors)
    if codes.shape[0] != factors.shape[0]:
        raise ValueError(f"{codes.shape[0]} codes but {factors.shape[0]} factor rows")
    if not 0.0 <= diff_quantile <= 1.0:
        raise ValueError(f"diff_quantile must be in [0, 1], got {diff_quantile}")
    active = codes[:, codes.var(axis=0) > 0.0]
    if active.shape[1] == 0:
        empty = np.zeros(0)
        return IRSResult(0.0, 0, empty, empty.astype(np.int64), np.zeros((0, factors.shape[1])))
    matrix, max_deviation = irs_matrix(histogram_discretize(factors, num_bins), active, diff_quantile)
    per_code = matrix.max(axis=1)
    return IRSResult(
        float(np.average(per_code, weights=max_deviation)), active.shape[1], per_code, matrix.argmax(axis=1), matrix
    )
