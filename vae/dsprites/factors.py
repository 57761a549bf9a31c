"""The dSprites factor grid: names, sizes and value grids, and flat index ↔ factor classes.

Kept apart from rendering and file I/O because all of them, and the evaluation's factor names, agree on
this one grid: rows of DeepMind's file run in C order over the factor sizes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

IMAGE_SIZE = 64
"""Images are IMAGE_SIZE x IMAGE_SIZE pixels."""


def checked_indices(
    indices: np.ndarray | Iterable[int], n_total: int, *, increasing: bool = False, name: str = "indices"
) -> np.ndarray:
    """Checked 1-D int64 copy of `indices`; out-of-range rows would silently alias other images."""
    arr = np.asarray(indices)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must be a 1-D integer array, got shape {arr.shape} dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0 or hi >= n_total:
        raise ValueError(f"{name} must lie in [0, {n_total}), got values from {lo} to {hi}")
    if increasing and arr.size > 1 and not bool(np.all(np.diff(arr) > 0)):
        raise ValueError(f"{name} must be strictly increasing (sorted, no repeats)")
    return arr


class FactorSpace:
    """Factor classes ↔ flat index over a C-ordered grid of named factors (after disent's StateSpace), so
    the index arithmetic lives in one place instead of in every caller of np.unravel_index."""

    def __init__(self, names: Sequence[str], grids: Sequence[np.ndarray]) -> None:
        if len(names) != len(grids):
            raise ValueError(f"{len(names)} factor names but {len(grids)} value grids")
        self.names: tuple[str, ...] = tuple(names)
        self._grids = tuple(np.array(g, dtype=np.float64) for g in grids)
        for grid in self._grids:
            grid.flags.writeable = False
        self.sizes: tuple[int, ...] = tuple(len(g) for g in self._grids)
        self.n: int = int(np.prod(self.sizes))

    def values(self) -> list[np.ndarray]:
        """The value grid of each factor (fresh, writable copies)."""
        return [grid.copy() for grid in self._grids]

    def classes_of(self, indices: np.ndarray | Iterable[int]) -> np.ndarray:
        """int64 (n, factors) classes of flat indices (checked to lie in the grid)."""
        idx = checked_indices(indices, self.n)
        classes = np.stack(np.unravel_index(idx, self.sizes), axis=1).astype(np.int64, copy=False)
        return classes.reshape(-1, len(self.sizes))

    def values_of(self, classes: np.ndarray) -> np.ndarray:
        """float64 (n, factors) factor values at the given classes."""
        values = np.empty(classes.shape, dtype=np.float64)
        for f, grid in enumerate(self._grids):
            values[:, f] = grid[classes[:, f]]
        return values

    def index_of(self, classes: np.ndarray) -> np.ndarray:
        """int64 (n,) flat indices of (n, factors) classes: the inverse of classes_of."""
        classes = np.asarray(classes).reshape(-1, len(self.sizes))
        return np.ravel_multi_index(tuple(classes.T), self.sizes).astype(np.int64)


SPACE = FactorSpace(
    ("color", "shape", "scale", "orientation", "posX", "posY"),
    [
        np.array([1.0]),
        np.array([1.0, 2.0, 3.0]),
        np.linspace(0.5, 1.0, 6),
        np.linspace(0.0, 2.0 * np.pi, 40),
        np.linspace(0.0, 1.0, 32),
        np.linspace(0.0, 1.0, 32),
    ],
)
"""DeepMind's grid: every combination once, exactly the values their file stores."""

FACTOR_NAMES: tuple[str, ...] = SPACE.names
FACTOR_SIZES: tuple[int, ...] = SPACE.sizes
N_IMAGES: int = SPACE.n


def factor_values() -> list[np.ndarray]:
    """The value grid of each factor, exactly as DeepMind's file stores them (fresh copies)."""
    return SPACE.values()


def latents_for(indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(classes int64 (n, 6), values float64 (n, 6)) of flat indices into the C-ordered factor grid."""
    classes = SPACE.classes_of(indices)
    return classes, SPACE.values_of(classes)


def subsample_indices(n_total: int, n: int | None, seed: int) -> np.ndarray:
    """Sorted, seed-deterministic random subset of range(n_total) of size n (None = all), so small
    runs use a fixed, reproducible slice of the dataset."""
    if n_total < 0:
        raise ValueError(f"n_total must be >= 0, got {n_total}")
    if n is None:
        return np.arange(n_total, dtype=np.int64)
    if not 0 <= n <= n_total:
        raise ValueError(f"n must lie in [0, {n_total}], got {n}")
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_total, size=n, replace=False)).astype(np.int64)
