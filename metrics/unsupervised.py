"""Scores of the codes alone, no factors needed: Gaussian total correlation, Gaussian Wasserstein correlation
and the mean mutual information between codes (Locatello et al. 2019's unsupervised scores).

Follows google-research/disentanglement_lib (evaluation/metrics/unsupervised_metrics.py,
`unsupervised_metrics`): fit a Gaussian to the codes by their sample covariance Σ (ddof 1), then
- `gaussian_total_correlation`: KL(N(0, Σ) ‖ N(0, diag Σ)) = ½ (Σ_d log Σ_dd − log det Σ), nats;
- `gaussian_wasserstein_correlation`: the squared 2-Wasserstein distance between the same two Gaussians,
  2 tr Σ − 2 tr (diag Σ · Σ)^½, in squared code units, and divided by tr Σ (`_norm`) a fraction of the codes'
  total variance that does not depend on their scale;
- `mutual_info_score`: codes binned into `num_bins` equal-width bins (MIG's estimator), the plug-in mutual
  information of every ordered pair of distinct codes, averaged (nats).
Each is 0 for independent codes. tr (diag Σ · Σ)^½ is computed as the sum of the square roots of the
eigenvalues of the symmetric diag Σ^½ Σ diag Σ^½, which has the same eigenvalues, instead of a general
matrix square root. Where the reference gives NaN, a code constant over the points (variance 0, log 0 in
the total correlation), that code is left out of the total correlation: it is independent of the others.
Paper setting: 10,000 points, 20 bins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .mig import _check_2d, histogram_discretize, mutual_info_matrix


@dataclass(frozen=True)
class UnsupervisedResult:
    gaussian_total_correlation: float  # nats
    gaussian_wasserstein_correlation: float  # squared code units
    gaussian_wasserstein_correlation_norm: float  # over tr Σ
    mutual_info_score: float  # nats
    covariance: np.ndarray  # (num_codes, num_codes)


def gaussian_total_correlation(cov: np.ndarray) -> float:
    """Total correlation (nats) of a zero-mean Gaussian with covariance `cov`; codes of variance 0 are left out."""
    cov = np.asarray(cov, dtype=np.float64)
    varying = np.diag(cov) > 0
    kept = cov[np.ix_(varying, varying)]
    if kept.size == 0:
        return 0.0
    sign, logdet = np.linalg.slogdet(kept)
    if sign <= 0:
        return float("inf")  # a varying code that is an exact linear function of others
    return float(0.5 * (np.sum(np.log(np.diag(kept))) - logdet))


def gaussian_wasserstein_correlation(cov: np.ndarray) -> float:
    """Squared 2-Wasserstein distance between N(0, cov) and N(0, diag cov)."""
    cov = np.asarray(cov, dtype=np.float64)
    root_diag = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    eigenvalues = np.linalg.eigvalsh(root_diag[:, None] * cov * root_diag[None, :])
    return float(2.0 * np.trace(cov) - 2.0 * np.sum(np.sqrt(np.clip(eigenvalues, 0.0, None))))


def mutual_info_score(codes: np.ndarray, num_bins: int = 20) -> float:
    """Mean plug-in mutual information (nats) over ordered pairs of distinct codes, codes binned in `num_bins`."""
    codes = _check_2d("codes", codes)
    if codes.shape[1] < 2:
        raise ValueError(f"the mutual information score needs at least 2 codes, got {codes.shape[1]}")
    binned = histogram_discretize(codes, num_bins)
    matrix = mutual_info_matrix(binned, binned)
    np.fill_diagonal(matrix, 0.0)
    return float(matrix.sum() / (codes.shape[1] ** 2 - codes.shape[1]))


def compute_unsupervised(codes: np.ndarray, num_bins: int = 20) -> UnsupervisedResult:
    """The three scores of codes (num_points ≥ 2, num_codes ≥ 2), e.g. posterior means."""
    codes = _check_2d("codes", codes)
    if codes.shape[0] < 2:
        raise ValueError(f"a covariance needs at least 2 points, got {codes.shape[0]}")
    cov = np.atleast_2d(np.cov(codes, rowvar=False))
    wasserstein, total = gaussian_wasserstein_correlation(cov), float(np.trace(cov))
    return UnsupervisedResult(
        gaussian_total_correlation(cov),
        wasserstein,
        wasserstein / total if total > 0 else 0.0,
        mutual_info_score(codes, num_bins),
        cov,
    )
