"""SAP, the Separated Attribute Predictability score (Kumar et al., 2018).

Follows google-research/disentanglement_lib (evaluation/metrics/sap_score.py): a (num_codes, num_factors)
score matrix, then per factor the gap between its two best codes, averaged over factors. Discrete factors
(the paper setting, `continuous_factors=False`) score each code by the test accuracy of a 1-D
LinearSVC(C=0.01, class_weight="balanced") trained on that code alone; continuous factors by the squared
correlation of code and factor. A factor copied into two codes loses its credit (gap 0). Since a code
that knows nothing still scores about chance (1/classes) in the discrete mode, a factor's gap is at most
1 − chance accuracy: a perfect code of a binary factor scores about 0.5.
Paper setting (Locatello et al. 2019): discrete, 10,000 training and 5,000 test points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn import svm

from .dci import _check_pairs
from .mig import _check_2d


@dataclass(frozen=True)
class SAPResult:
    score: float
    score_matrix: np.ndarray  # (num_codes, num_factors)


def score_matrix(
    codes_train: np.ndarray,
    factors_train: np.ndarray,
    codes_test: np.ndarray,
    factors_test: np.ndarray,
    continuous_factors: bool = False,
) -> np.ndarray:
    """How well each code alone predicts each factor, (num_codes, num_factors)."""
    num_codes, num_factors = codes_train.shape[1], factors_train.shape[1]
    matrix = np.zeros((num_codes, num_factors))
    for i in range(num_codes):
        for j in range(num_factors):
            if continuous_factors:
                cov = np.cov(codes_train[:, i], factors_train[:, j], ddof=1)
                if cov[0, 0] > 1e-12:
                    matrix[i, j] = cov[0, 1] ** 2 / (cov[0, 0] * cov[1, 1])
            else:
                classifier = svm.LinearSVC(C=0.01, class_weight="balanced", random_state=0)
                classifier.fit(codes_train[:, i : i + 1], factors_train[:, j])
                matrix[i, j] = np.mean(classifier.predict(codes_test[:, i : i + 1]) == factors_test[:, j])
    return matrix


def top_two_gap(matrix: np.ndarray) -> float:
    """Mean over factors (columns) of best − second-best entry."""
    ordered = np.sort(matrix, axis=0)
    return float(np.mean(ordered[-1, :] - ordered[-2, :]))


def compute_sap(
    codes_train: np.ndarray,
    factors_train: np.ndarray,
    codes_test: np.ndarray,
    factors_test: np.ndarray,
    continuous_factors: bool = False,
) -> SAPResult:
    """SAP of codes (num_points, num_codes ≥ 2) against integer factor classes (num_points, num_factors)."""
    codes_train, factors_train = _check_2d("codes_train", codes_train), _check_2d("factors_train", factors_train)
    codes_test, factors_test = _check_2d("codes_test", codes_test), _check_2d("factors_test", factors_test)
    _check_pairs(codes_train, factors_train, codes_test, factors_test)
    if codes_train.shape[1] < 2:
        raise ValueError(f"SAP needs at least 2 code dims to form a gap, got {codes_train.shape[1]}")
    matrix = score_matrix(codes_train, factors_train, codes_test, factors_test, continuous_factors)
    return SAPResult(top_two_gap(matrix), matrix)
