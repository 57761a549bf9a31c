"""UDR, the Unsupervised Disentanglement Ranking (Duan et al. 2020): model selection without labels.

Follows google-research/disentanglement_lib (evaluation/udr/metrics/udr.py, `compute_udr_sklearn`). The
idea: disentangled models of one setting agree with each other up to permutation and sign of their
latents, entangled ones each entangle differently. Every model encodes the same inputs (posterior means);
- each model's codes are standardised (zero mean, unit variance) and the latents whose mean KL over those
  inputs is at most 0.01 nats are zeroed (uninformative);
- for each ordered pair (i, j), a similarity matrix R (latents of i × latents of j): the absolute
  coefficients of one multi-output Lasso (alpha 0.1) predicting j's codes from i's (the default), or the
  absolute Spearman correlations of each pair of latents;
- with `filter_low_kl`, the latents at or under `kl_threshold` are dropped from R;
- the pair's score is `relative_strength(R)`: per column and per row, max(R)² / sum(R), averaged
  over columns and over rows, and the two averages averaged;
- a model's UDR is the median of its pairs' scores (the pairs where it is the predicted model).
Perfectly permuted, sign-flipped copies of a code score about 1 with Spearman and 0.9 with Lasso (on
uncorrelated standardised latents a Lasso coefficient is 1 shrunk by alpha). The one addition: where a model of the pair has no
latent over the threshold (a collapsed model), the reference fails on an empty matrix; here the pair
scores 0, the least similarity, so a collapsed model ranks last.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.stats

Correlation = Literal["lasso", "spearman"]
LASSO_ALPHA = 0.1  # disentanglement_lib's fixed regularisation
ZERO_KL = 0.01  # nats: latents at or below this mean KL are zeroed before the pairs are compared


@dataclass(frozen=True)
class UDRResult:
    pairwise: np.ndarray  # (models, models): [i, j] the similarity of pair (i predicts j); 0 on the diagonal
    scores: np.ndarray  # (models,): each model's UDR, the median of column j without its diagonal


def gaussian_kl_mean(means: np.ndarray, logvars: np.ndarray) -> np.ndarray:
    """Per latent, the mean over the inputs of KL(N(μ, σ²) ‖ N(0, 1)) in nats, (n, d) → (d,)."""
    means, logvars = np.asarray(means, dtype=np.float64), np.asarray(logvars, dtype=np.float64)
    return np.mean(0.5 * (np.square(means) + np.exp(logvars) - logvars - 1.0), axis=0)


def relative_strength(similarity: np.ndarray) -> float:
    """disentanglement_lib's `relative_strength_disentanglement`: per column and per row max² / sum (a column
    or row of zeros, or one holding NaN, counts 0), each averaged, then the two averaged. 1 for a
    permutation matrix, 1/d for a d × d matrix of equal entries."""
    r = np.asarray(similarity, dtype=np.float64)
    if r.size == 0:
        return 0.0  # a collapsed model: nothing in common (the reference fails here)
    with np.errstate(divide="ignore", invalid="ignore"):
        columns = np.nan_to_num(np.max(r, axis=0) ** 2 / np.sum(r, axis=0), nan=0.0)
        rows = np.nan_to_num(np.max(r, axis=1) ** 2 / np.sum(r, axis=1), nan=0.0)
    return float((columns.mean() + rows.mean()) / 2)


def spearman_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|Spearman ρ| of each latent of `a` (rows) with each latent of `b` (columns); NaN where a latent is
    constant, as scipy's spearmanr gives it."""
    ranks_a = scipy.stats.rankdata(np.asarray(a, dtype=np.float64), axis=0)
    ranks_b = scipy.stats.rankdata(np.asarray(b, dtype=np.float64), axis=0)
    ranks_a -= ranks_a.mean(axis=0)
    ranks_b -= ranks_b.mean(axis=0)
    norms = np.outer(np.linalg.norm(ranks_a, axis=0), np.linalg.norm(ranks_b, axis=0))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.abs(ranks_a.T @ ranks_b / norms)


def lasso_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|coefficients| of one Lasso (alpha 0.1, scikit-learn's, cyclic and so deterministic) predicting every
    latent of `b` from all latents of `a`: latents of `a` (rows) × latents of `b` (columns)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import Lasso

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a zeroed target column: the fit is exact
        coef = Lasso(alpha=LASSO_ALPHA).fit(a, b).coef_
    return np.abs(np.atleast_2d(coef)).T


def standardised(codes: np.ndarray, kl: np.ndarray) -> np.ndarray:
    """Codes scaled to zero mean and unit variance (scikit-learn's StandardScaler: a constant latent stays
    0), latents with mean KL at or under ZERO_KL zeroed."""
    from sklearn.preprocessing import StandardScaler

    scaled = StandardScaler().fit_transform(np.asarray(codes, dtype=np.float64))
    return scaled * (np.asarray(kl) > ZERO_KL)


def compute_udr(
    codes: Sequence[np.ndarray],
    kls: Sequence[np.ndarray],
    correlation: Correlation = "lasso",
    filter_low_kl: bool = True,
    kl_threshold: float = 0.01,
) -> UDRResult:
    """UDR of each model from its posterior means `codes[i]` (n, d) of the same n inputs, in the same order,
    and its mean KL per latent `kls[i]` (d,) over them (`gaussian_kl_mean`). Needs at least 2 models."""
    if len(codes) < 2 or len(codes) != len(kls):
        raise ValueError(f"UDR needs codes and KLs of at least 2 models (got {len(codes)} and {len(kls)})")
    shapes = {np.shape(c) for c in codes}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise ValueError(f"UDR needs codes of one (inputs, latents) shape for every model (got {sorted(shapes)})")
    if correlation not in ("lasso", "spearman"):
        raise ValueError(f"UDR correlation must be 'lasso' or 'spearman' (got {correlation!r})")
    scaled = [standardised(c, kl) for c, kl in zip(codes, kls)]
    masks = [np.asarray(kl) > kl_threshold for kl in kls]
    similarity = lasso_matrix if correlation == "lasso" else spearman_matrix
    m = len(codes)
    pairwise = np.zeros((m, m))
    for i in range(m):
        for j in range(m):
            if i != j:
                r = similarity(scaled[i], scaled[j])
                if filter_low_kl:
                    r = r[masks[i]][:, masks[j]]
                pairwise[i, j] = relative_strength(r)
    scores = np.array([np.median(np.delete(pairwise[:, j], j)) for j in range(m)])
    return UDRResult(pairwise, scores)
