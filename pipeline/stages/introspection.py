"""What the latent figures are drawn against: a dataset's ground-truth factors, or its class label.

dSprites and its variants have factors, and the evaluate stage's MIG already holds the mutual information
of every latent with each. Labelled datasets (digits, MNIST, Fashion-MNIST) have no MIG, so evaluate adds
the same discretised mutual information with the class label (`label_mutual_info`), and the plot stage
treats the label as a one-column factor: the per-latent table names how much of it each latent carries,
the scatters are coloured by it, latent-vs-label plots each latent's mean code per class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from metrics.mig import factor_entropies, histogram_discretize, mutual_info_matrix
from pipeline.core.streams import numpy_stream

LABEL = "label"


def label_information(means: np.ndarray, labels: np.ndarray, bins: int, points: int, seed: int) -> dict[str, Any]:
    """details.json entries: mutual information (nats) of each latent's histogrammed mean code with the class
    label, on a seeded random subset of `points` held-out codes (MIG's estimator and bins), and H(label)."""
    rows = np.sort(numpy_stream("held_out_rows", seed).choice(len(means), min(points, len(means)), replace=False))
    labels = np.asarray(labels, dtype=np.int64)[rows, None]
    return {
        "label_mutual_info": mutual_info_matrix(histogram_discretize(means[rows], bins), labels).tolist(),
        "label_entropy": factor_entropies(labels).tolist(),
    }


@dataclass(frozen=True)
class Target:
    """Classes per held-out image (n, F) and, per latent and column, mutual information with them."""

    classes: np.ndarray
    names: list[str]
    mutual_info: list[list[float]]  # latents × columns, nats
    entropy: list[float]

    def details(self, details: dict[str, Any]) -> dict[str, Any]:
        """`details` with this target's MI in the keys the latent figures read."""
        return details | {"mutual_info": self.mutual_info, "factor_entropy": self.entropy, "factor_names": self.names}


def introspection_target(
    factors: np.ndarray | None, labels: np.ndarray | None, details: dict[str, Any]
) -> Target | None:
    """Factors where the dataset has them (and evaluate measured their MI), else the class label, else None."""
    if factors is not None and "mutual_info" in details:
        names = list(details["factor_names"])
        return Target(np.asarray(factors), names, details["mutual_info"], details["factor_entropy"])
    if labels is not None and "label_mutual_info" in details:
        classes = np.asarray(labels, dtype=np.int64)[:, None]
        return Target(classes, [LABEL], details["label_mutual_info"], details["label_entropy"])
    return None
