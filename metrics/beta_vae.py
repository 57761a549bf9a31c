"""BetaVAE score (Higgins et al., 2017).

Follows google-research/disentanglement_lib (evaluation/metrics/beta_vae.py, its scikit-learn version).
Each score point fixes one random factor, draws two batches of `batch_size` fresh samples that share that
factor's value pairwise and nothing else, and takes the mean absolute difference of their codes; a
scikit-learn LogisticRegression with default settings learns to tell the fixed factor from that vector
(`num_train` points), and the score is its accuracy on `num_eval` new points.
Paper setting (Locatello et al. 2019): batch 64, 10,000 training and 5,000 evaluation points. The
batches are drawn and encoded many at a time instead of one by one: the same estimator with fewer calls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression

from .sampling import GroundTruth, Represent, check_sizes, codes_of_factor_batches


@dataclass(frozen=True)
class BetaVAEResult:
    train_accuracy: float
    eval_accuracy: float


def difference_features(
    data: GroundTruth, represent: Represent, rng: np.random.Generator, batch_size: int, num_points: int, chunk: int
) -> tuple[np.ndarray, np.ndarray]:
    """(features (num_points, num_codes), labels (num_points,)): mean |code1 − code2| over a batch of
    pairs that share the labelled factor."""
    labels = rng.integers(data.num_factors, size=num_points)
    first = data.sample_factors(num_points * batch_size, rng).reshape(num_points, batch_size, -1)
    second = data.sample_factors(num_points * batch_size, rng).reshape(num_points, batch_size, -1)
    points = np.arange(num_points)
    second[points, :, labels] = first[points, :, labels]
    codes = codes_of_factor_batches(data, represent, np.concatenate([first, second], axis=1), rng, chunk)
    features = np.abs(codes[:, :batch_size] - codes[:, batch_size:]).mean(axis=1)
    return features, labels


def compute_beta_vae(
    data: GroundTruth,
    represent: Represent,
    rng: np.random.Generator,
    batch_size: int = 64,
    num_train: int = 10_000,
    num_eval: int = 5_000,
    chunk: int = 1000,
) -> BetaVAEResult:
    """The BetaVAE score of `represent` on fresh samples of `data`."""
    check_sizes(batch_size=batch_size, num_train=num_train, num_eval=num_eval)
    if data.num_factors < 2:
        raise ValueError(f"the BetaVAE score needs at least 2 factors to tell apart, got {data.num_factors}")
    train_x, train_y = difference_features(data, represent, rng, batch_size, num_train, chunk)
    model = LogisticRegression(random_state=int(rng.integers(2**31 - 1)))
    model.fit(train_x, train_y)
    train_accuracy = float(np.mean(model.predict(train_x) == train_y))
    eval_x, eval_y = difference_features(data, represent, rng, batch_size, num_eval, chunk)
    return BetaVAEResult(train_accuracy, float(model.score(eval_x, eval_y)))
