"""DCI: disentanglement, completeness and informativeness (Eastwood & Williams, 2018).

Follows google-research/disentanglement_lib (evaluation/metrics/dci.py): one scikit-learn
GradientBoostingClassifier with default settings per factor predicts the factor's class from all codes;
the absolute feature importances form a (num_codes, num_factors) matrix R.
- disentanglement: per code, 1 − entropy (base num_factors) of its row of R, weighted by the code's
  share of all importance: a code that predicts one factor only scores 1.
- completeness: per factor, 1 − entropy (base num_codes) of its column, weighted by the factor's share:
  a factor predicted by one code only scores 1.
- informativeness: the classifiers' mean accuracy, on the training points and on held-out test points
  (disentanglement_lib reports accuracy, not the error of the paper).
Paper setting (Locatello et al. 2019): 10,000 training and 5,000 test points. The one deviation: the
boosted trees get a fixed random_state, so a score is reproducible (the reference leaves it unseeded).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.stats
from sklearn.ensemble import GradientBoostingClassifier

from .mig import _check_2d


@dataclass(frozen=True)
class DCIResult:
    disentanglement: float
    completeness: float
    informativeness_train: float  # mean accuracy over factors
    informativeness_test: float
    importance: np.ndarray  # (num_codes, num_factors)


def disentanglement_per_code(importance: np.ndarray) -> np.ndarray:
    """1 − H(row) / log(num_factors) for each code (the 1e-11 keeps empty rows finite, as the reference)."""
    return 1.0 - scipy.stats.entropy(importance.T + 1e-11, base=importance.shape[1])


def disentanglement(importance: np.ndarray) -> float:
    """Importance-weighted mean of `disentanglement_per_code`; an all-zero matrix weights codes equally."""
    importance = np.asarray(importance, dtype=np.float64)
    per_code = disentanglement_per_code(importance)
    weights = importance if importance.sum() != 0.0 else np.ones_like(importance)
    return float(np.sum(per_code * weights.sum(axis=1) / weights.sum()))


def completeness_per_factor(importance: np.ndarray) -> np.ndarray:
    """1 − H(column) / log(num_codes) for each factor."""
    return 1.0 - scipy.stats.entropy(importance + 1e-11, base=importance.shape[0])


def completeness(importance: np.ndarray) -> float:
    """Importance-weighted mean of `completeness_per_factor`; an all-zero matrix weights factors equally."""
    importance = np.asarray(importance, dtype=np.float64)
    per_factor = completeness_per_factor(importance)
    weights = importance if importance.sum() != 0.0 else np.ones_like(importance)
    return float(np.sum(per_factor * weights.sum(axis=0) / weights.sum()))


def importance_gbt(
    codes_train: np.ndarray, factors_train: np.ndarray, codes_test: np.ndarray, factors_test: np.ndarray, seed: int = 0
) -> tuple[np.ndarray, float, float]:
    """(importance (num_codes, num_factors), mean train accuracy, mean test accuracy) of one boosted-tree
    classifier per factor."""
    importance = np.zeros((codes_train.shape[1], factors_train.shape[1]), dtype=np.float64)
    train_acc, test_acc = [], []
    for j in range(factors_train.shape[1]):
        model = GradientBoostingClassifier(random_state=seed)
        model.fit(codes_train, factors_train[:, j])
        importance[:, j] = np.abs(model.feature_importances_)
        train_acc.append(np.mean(model.predict(codes_train) == factors_train[:, j]))
        test_acc.append(np.mean(model.predict(codes_test) == factors_test[:, j]))
    return importance, float(np.mean(train_acc)), float(np.mean(test_acc))


def compute_dci(
    codes_train: np.ndarray, factors_train: np.ndarray, codes_test: np.ndarray, factors_test: np.ndarray, seed: int = 0
) -> DCIResult:
    """DCI of codes (num_points, num_codes) against integer factor classes (num_points, num_factors).

    Every factor must take at least two classes in the training points (a classifier needs them).
    """
    codes_train, factors_train = _check_2d("codes_train", codes_train), _check_2d("factors_train", factors_train)
    codes_test, factors_test = _check_2d("codes_test", codes_test), _check_2d("factors_test", factors_test)
    _check_pairs(codes_train, factors_train, codes_test, factors_test)
    for j in range(factors_train.shape[1]):
        if len(np.unique(factors_train[:, j])) < 2:
            raise ValueError(f"factor {j} takes a single class in the training points; DCI needs it to vary")
    importance, train_acc, test_acc = importance_gbt(codes_train, factors_train, codes_test, factors_test, seed)
    return DCIResult(disentanglement(importance), completeness(importance), train_acc, test_acc, importance)


def _check_pairs(codes_train, factors_train, codes_test, factors_test) -> None:
    """Codes and factors of one split have the same points; both splits have the same columns."""
    for split, codes, factors in (("train", codes_train, factors_train), ("test", codes_test, factors_test)):
        if codes.shape[0] != factors.shape[0]:
            raise ValueError(f"{split}: {codes.shape[0]} codes but {factors.shape[0]} factor rows")
    if codes_train.shape[1] != codes_test.shape[1] or factors_train.shape[1] != factors_test.shape[1]:
        raise ValueError(
            f"train and test must have the same columns, got codes {codes_train.shape[1]}/{codes_test.shape[1]} "
            f"and factors {factors_train.shape[1]}/{factors_test.shape[1]}"
        )
