"""Fresh samples from a ground-truth model, the way disentanglement_lib's scores draw them.

The BetaVAE and FactorVAE scores (and DCI/SAP as disentanglement_lib computes them) do not score a fixed
data set: they draw factor combinations, render observations of them and encode those. A data set hands
the scores a `GroundTruth`; the scores hand back to it only factor classes, so metrics/ never knows how
images are made.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Represent = Callable[[np.ndarray], np.ndarray]
"""Observations (n, ...) → codes (n, num_codes), e.g. a trained encoder's posterior means."""


@dataclass(frozen=True)
class GroundTruth:
    """A generative process over independent discrete factors (disentanglement_lib's GroundTruthData).

    ``factor_sizes`` are the classes of each factor that varies (dSprites: shape, scale, orientation,
    posX, posY = 3, 6, 40, 32, 32; its constant colour is left out, as disentanglement_lib does), and
    ``observations(factors, rng)`` turns (n, num_factors) class arrays into n observations.
    """

    factor_sizes: tuple[int, ...]
    observations: Callable[[np.ndarray, np.random.Generator], np.ndarray]

    def __post_init__(self) -> None:
        if not self.factor_sizes or min(self.factor_sizes) < 1:
            raise ValueError(f"factor_sizes must be non-empty and positive, got {self.factor_sizes}")

    @property
    def num_factors(self) -> int:
        return len(self.factor_sizes)

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """(n, num_factors) int64 classes, each factor uniform and independent of the others."""
        return np.stack([rng.integers(0, size, n) for size in self.factor_sizes], axis=1).astype(np.int64)


def check_sizes(**sizes: int) -> None:
    """One line naming the first sample size below 1 (or 2 where a variance needs two points)."""
    for name, value in sizes.items():
        least = 2 if name in {"batch_size", "num_variance_estimate"} else 1
        if int(value) < least:
            raise ValueError(f"{name} must be >= {least}, got {value}")


def codes_of_factors(
    data: GroundTruth, represent: Represent, factors: np.ndarray, rng: np.random.Generator, chunk: int = 1000
) -> np.ndarray:
    """Codes (n, num_codes) of the observations of (n, num_factors) factor classes, made and encoded
    `chunk` rows at a time, so memory stays bounded however many are drawn (the paper's FactorVAE
    setting encodes 970,000 images)."""
    check_sizes(chunk=chunk)
    parts = []
    for start in range(0, len(factors), chunk):
        observations = data.observations(factors[start : start + chunk], rng)
        parts.append(np.asarray(represent(observations), dtype=np.float64))
    codes = np.concatenate(parts, axis=0)
    if codes.ndim != 2 or codes.shape[0] != len(factors):
        raise ValueError(f"represent must return (n, num_codes) codes, got shape {codes.shape} for n={len(factors)}")
    return codes


def sample_codes(
    data: GroundTruth, represent: Represent, n: int, rng: np.random.Generator, chunk: int = 1000
) -> tuple[np.ndarray, np.ndarray]:
    """(codes (n, num_codes), factors (n, num_factors)) of n fresh samples: disentanglement_lib's
    generate_batch_factor_code, with points in rows."""
    check_sizes(n=n)
    factors = data.sample_factors(n, rng)
    return codes_of_factors(data, represent, factors, rng, chunk), factors


def codes_of_factor_batches(
    data: GroundTruth, represent: Represent, factors: np.ndarray, rng: np.random.Generator, chunk: int
) -> np.ndarray:
    """Codes of (num_points, batch, num_factors) factor classes, shape (num_points, batch, num_codes).

    The reference encodes one mini-batch per score point; encoding many of them together computes the
    same codes in far fewer calls.
    """
    points, batch, _ = factors.shape
    return codes_of_factors(data, represent, factors.reshape(points * batch, -1), rng, chunk).reshape(points, batch, -1)
