"""FactorVAE score (Kim & Mnih, 2018).

Follows google-research/disentanglement_lib (evaluation/metrics/factor_vae.py). Codes are divided by
their global standard deviation (from `num_variance_estimate` fresh samples); dims whose standard
deviation is below `prune_threshold` (collapsed to the prior) are left out. Each score point fixes one
random factor across a batch of `batch_size` fresh samples and votes for the code dim with the smallest
normalised variance; a majority-vote classifier maps dims to factors (fitted on `num_train` points) and
the score is its accuracy on `num_eval` new points. Returns 0 when no dim survives the pruning.
Paper setting (Locatello et al. 2019): batch 64, 10,000 training, 5,000 evaluation and 10,000 variance
points, prune threshold 0.05. The batches are drawn and encoded many at a time instead of one by one:
the same estimator with fewer calls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .sampling import GroundTruth, Represent, check_sizes, codes_of_factor_batches, sample_codes


@dataclass(frozen=True)
class FactorVAEResult:
    train_accuracy: float
    eval_accuracy: float
    num_active_dims: int
    votes: np.ndarray  # (num_factors, num_codes) training votes: factor fixed → dim of least variance


def fixed_factor_batches(data: GroundTruth, num_points: int, batch_size: int, rng: np.random.Generator):
    """(fixed factor per point (num_points,), factors (num_points, batch_size, num_factors)): each batch
    shares the value of its fixed factor, all other factors free."""
    fixed = rng.integers(data.num_factors, size=num_points)
    factors = data.sample_factors(num_points * batch_size, rng).reshape(num_points, batch_size, -1)
    points = np.arange(num_points)
    factors[points, :, fixed] = factors[points, 0, fixed][:, None]
    return fixed, factors


def votes(
    data: GroundTruth,
    represent: Represent,
    rng: np.random.Generator,
    batch_size: int,
    num_points: int,
    global_variances: np.ndarray,
    active: np.ndarray,
    chunk: int,
) -> np.ndarray:
    """(num_factors, num_codes) counts of (fixed factor, dim of least normalised variance) over score points."""
    fixed, factors = fixed_factor_batches(data, num_points, batch_size, rng)
    codes = codes_of_factor_batches(data, represent, factors, rng, chunk)
    local = np.var(codes, axis=1, ddof=1)
    active_idx = np.flatnonzero(active)
    with np.errstate(divide="ignore", invalid="ignore"):  # a constant code at threshold 0: NaN, as the reference
        least = active_idx[np.argmin(local[:, active] / global_variances[active], axis=1)]
    counts = np.zeros((data.num_factors, len(global_variances)), dtype=np.int64)
    np.add.at(counts, (fixed, least), 1)
    return counts


def compute_factor_vae(
    data: GroundTruth,
    represent: Represent,
    rng: np.random.Generator,
    batch_size: int = 64,
    num_train: int = 10_000,
    num_eval: int = 5_000,
    num_variance_estimate: int = 10_000,
    prune_threshold: float = 0.05,
    chunk: int = 1000,
) -> FactorVAEResult:
    """The FactorVAE score of `represent` on fresh samples of `data`."""
    check_sizes(
        batch_size=batch_size, num_train=num_train, num_eval=num_eval, num_variance_estimate=num_variance_estimate
    )
    codes, _ = sample_codes(data, represent, num_variance_estimate, rng, chunk)
    global_variances = np.var(codes, axis=0, ddof=1)
    active = np.sqrt(global_variances) >= prune_threshold
    if not active.any():
        return FactorVAEResult(0.0, 0.0, 0, np.zeros((data.num_factors, codes.shape[1]), dtype=np.int64))
    train = votes(data, represent, rng, batch_size, num_train, global_variances, active, chunk)
    classifier = np.argmax(train, axis=0)  # each dim → the factor that most often fixed it
    columns = np.arange(train.shape[1])
    train_accuracy = train[classifier, columns].sum() / train.sum()
    evaluation = votes(data, represent, rng, batch_size, num_eval, global_variances, active, chunk)
    eval_accuracy = evaluation[classifier, columns].sum() / evaluation.sum()
    return FactorVAEResult(float(train_accuracy), float(eval_accuracy), int(active.sum()), train)
