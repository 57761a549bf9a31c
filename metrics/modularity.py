"""Modularity and explicitness (Ridgeway & Zemel, 2018).

Follows google-research/disentanglement_lib (evaluation/metrics/modularity_explicitness.py):
- modularity (`modularity`, its `modularity`): the mutual information of each code with each factor, from
  codes binned into `num_bins` equal-width bins (MIG's estimator, metrics/mig.py); per code, 1 − the
  squared MI it shares with factors other than its best one over (num_factors − 1) × its best squared MI,
  so a code that carries one factor only scores 1; a code that carries nothing scores 0; mean over codes.
- explicitness (`explicitness_per_factor`, its `explicitness_per_factor`): per factor, a logistic
  regression from all codes (each normalised by the training points' mean and standard deviation)
  predicts the factor's class; its one-vs-rest ROC-AUC, averaged over the factor's classes, on the
  training and on the test points; mean over factors.
The classifier is one-vs-rest logistic regression (liblinear, C = 1), as the paper describes it and as
the reference's `LogisticRegression()` was with the scikit-learn of its time (before 0.22 made multinomial
the default). Where the reference would fail rather than score, this keeps going: a code constant over
the training points is left unscaled (std 0), and a class absent from the scored points, for which ROC-AUC
is undefined, is left out of that factor's average (and a factor without any such class, of the mean).
Paper setting (Locatello et al. 2019): 10,000 training and 5,000 test points, 20 bins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.multiclass import OneVsRestClassifier

from .dci import _check_pairs
from .mig import _check_2d, histogram_discretize, mutual_info_matrix


@dataclass(frozen=True)
class ModularityResult:
    modularity: float
    explicitness_train: float  # mean ROC-AUC over factors
    explicitness_test: float
    mutual_info: np.ndarray  # (num_codes, num_factors), nats, of the training points


def modularity(mutual_info: np.ndarray) -> float:
    """Mean over codes of 1 − δ, δ = (Σ_f m_f² − max m²) / ((F − 1) max m²), for a (num_codes, F ≥ 2)
    mutual-information matrix; a code whose largest entry is 0 scores 0."""
    squared = np.square(np.asarray(mutual_info, dtype=np.float64))
    if squared.ndim != 2 or squared.shape[1] < 2:
        raise ValueError(f"modularity needs a (num_codes, num_factors >= 2) matrix, got shape {squared.shape}")
    best = squared.max(axis=1)
    spread = squared.sum(axis=1) - best
    safe = np.where(best > 0, best, 1.0)
    per_code = np.where(best > 0, 1.0 - spread / (safe * (squared.shape[1] - 1)), 0.0)
    return float(per_code.mean())


def normalise(codes: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """(codes − mean) / std per code; a constant code (std 0) is only centred."""
    return (codes - mean) / np.where(std > 0, std, 1.0)


def mean_class_auc(classes: np.ndarray, probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Macro ROC-AUC of one-vs-rest `probabilities` (n, len(classes)) against `labels`: the mean over the
    classes that are both present and absent among the labels (elsewhere ROC-AUC is undefined)."""
    aucs = [
        roc_auc_score(labels == c, probabilities[:, k])
        for k, c in enumerate(classes)
        if 0 < np.count_nonzero(labels == c) < len(labels)
    ]
    return float(np.mean(aucs)) if aucs else float("nan")


def explicitness_per_factor(
    codes_train: np.ndarray, y_train: np.ndarray, codes_test: np.ndarray, y_test: np.ndarray
) -> tuple[float, float]:
    """(train ROC-AUC, test ROC-AUC) of a one-vs-rest logistic regression from (normalised) codes to one
    factor's classes."""
    classifier = OneVsRestClassifier(LogisticRegression(solver="liblinear")).fit(codes_train, y_train)
    train = mean_class_auc(classifier.classes_, classifier.predict_proba(codes_train), y_train)
    test = mean_class_auc(classifier.classes_, classifier.predict_proba(codes_test), y_test)
    return train, test


def compute_modularity_explicitness(
    codes_train: np.ndarray,
    factors_train: np.ndarray,
    codes_test: np.ndarray,
    factors_test: np.ndarray,
    num_bins: int = 20,
) -> ModularityResult:
    """Modularity (training points) and explicitness (train and test) of codes (num_points, num_codes)
    against integer factor classes (num_points, num_factors ≥ 2), each factor taking ≥ 2 training classes."""
    codes_train, factors_train = _check_2d("codes_train", codes_train), _check_2d("factors_train", factors_train)
    codes_test, factors_test = _check_2d("codes_test", codes_test), _check_2d("factors_test", factors_test)
    _check_pairs(codes_train, factors_train, codes_test, factors_test)
    if factors_train.shape[1] < 2:
        raise ValueError(f"modularity needs at least 2 factors, got {factors_train.shape[1]}")
    for j in range(factors_train.shape[1]):
        if len(np.unique(factors_train[:, j])) < 2:
            raise ValueError(f"factor {j} takes a single class in the training points; explicitness needs it to vary")
    mutual_info = mutual_info_matrix(histogram_discretize(codes_train, num_bins), factors_train)
    mean, std = codes_train.mean(axis=0), codes_train.std(axis=0)
    train_norm, test_norm = normalise(codes_train, mean, std), normalise(codes_test, mean, std)
    aucs = np.array(
        [
            explicitness_per_factor(train_norm, factors_train[:, j], test_norm, factors_test[:, j])
            for j in range(factors_train.shape[1])
        ]
    )
    if np.isnan(aucs[:, 1]).all():
        raise ValueError("no factor takes 2 classes in the test points; explicitness needs one that does")
    return ModularityResult(
        modularity(mutual_info), float(np.nanmean(aucs[:, 0])), float(np.nanmean(aucs[:, 1])), mutual_info
    )
