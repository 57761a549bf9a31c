"""Datasets read from the user's own files whose images cover a grid of ground-truth factors (3D Shapes, MPI3D,
SmallNORB, Cars3D): one npz layout for all of them, and the grid's index the scores draw observations through.

The file holds `imgs` uint8 (N, C, H, W), `factors` int64 (N, F), the classes of the factors that are scored,
and `nuisance` int64 (N, G), those of factors that vary but are not scored (SmallNORB's instance, as in
disentanglement_lib; G is 0 elsewhere). A factor's class k is its k-th smallest value in the source, so a
reduced file still forms a consistent grid.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vae.errors import DatasetError
from vae.files import atomic_path

Rows = Callable[[int], np.ndarray]
"""n_total → the sorted row indices to keep (prepare's subsample)."""


@dataclass(frozen=True)
class Factored:
    images: np.ndarray  # uint8 (N, C, H, W)
    factors: np.ndarray  # int64 (N, F) scored factor classes
    nuisance: np.ndarray  # int64 (N, G) classes of unscored factors, G >= 0


@dataclass(frozen=True)
class LocalFiles:
    """How one dataset is read from the user's copy: its default place and where to get it."""

    default: Path  # relative to the repository root; data.source overrides it
    url: str
    read: Callable[[Path, Rows], Factored]


def not_found(path: Path, name: str, what: str, url: str) -> DatasetError:
    """The one line a missing local file gives: what to download, from where, and where to put it."""
    return DatasetError(
        path,
        f"{name} needs {what} here; download it from {url} and put it at this path, or set data.source to where it "
        "is (nothing is downloaded at run time)",
    )


def classes_of_values(values: np.ndarray) -> np.ndarray:
    """(N, F) factor values → int64 classes: each column's values ranked among its distinct values."""
    values = np.asarray(values)
    return np.stack([np.unique(column, return_inverse=True)[1] for column in values.T], axis=1).astype(np.int64)


def grid_classes(sizes: tuple[int, ...], n: int) -> np.ndarray:
    """(n, F) classes of rows stored in grid order (the first factor varies slowest), as MPI3D is."""
    return np.stack(np.unravel_index(np.arange(n), sizes), axis=1).astype(np.int64)


def write_factored(path: Path, data: Factored) -> int:
    """Write the images and their factor classes atomically; returns N."""
    n = len(data.images)
    if data.images.dtype != np.uint8 or data.images.ndim != 4 or len(data.factors) != n or len(data.nuisance) != n:
        raise ValueError(f"expected uint8 (N, C, H, W) images and N factor rows, got {data.images.shape}")
    with atomic_path(Path(path)) as tmp, tmp.open("wb") as handle:
        np.savez_compressed(
            handle, imgs=data.images, factors=data.factors.astype(np.int64), nuisance=data.nuisance.astype(np.int64)
        )
    return n


def load_factored(path: Path, shape: tuple[int, int, int], n_factors: int) -> Factored:
    """A file write_factored wrote, checked against the dataset's image shape and number of scored factors."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(path, "file not found (run `dvc repro prepare`)")
    try:
        with np.load(path) as z:
            data = Factored(z["imgs"], z["factors"], z["nuisance"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise DatasetError(
            path, f"damaged or not a factored-images npz ({type(exc).__name__}); run `dvc repro -f prepare`"
        ) from None
    if data.images.dtype != np.uint8 or data.images.shape[1:] != tuple(shape):
        raise DatasetError(path, f"imgs are {data.images.dtype} {data.images.shape}, expected uint8 (N, {shape})")
    if data.factors.shape != (len(data.images), n_factors) or len(data.nuisance) != len(data.images):
        raise DatasetError(path, f"factors have shape {data.factors.shape}, expected ({len(data.images)}, {n_factors})")
    return data


class FactorGrid:
    """The row of every combination of factor classes, so a score can draw any combination (disentanglement_lib's
    StateSpaceAtomIndex). Unscored factors are drawn uniformly for each observation, as its SplitDiscreteStateSpace
    draws SmallNORB's instance."""

    def __init__(self, factors: np.ndarray, nuisance: np.ndarray) -> None:
        every = np.concatenate([factors, nuisance], axis=1).astype(np.int64)
        self.n_scored = factors.shape[1]
        self.sizes = tuple(int(column.max()) + 1 for column in every.T)
        table = np.full(int(np.prod(self.sizes)), -1, dtype=np.int64)
        table[np.ravel_multi_index(tuple(every.T), self.sizes)] = np.arange(len(every))
        self.table = table
        self.missing = int((table < 0).sum())

    @property
    def factor_sizes(self) -> tuple[int, ...]:
        return self.sizes[: self.n_scored]

    def rows(self, factors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Row indices of (n, F) scored classes, each with freshly drawn unscored classes."""
        nuisance = [rng.integers(0, size, len(factors)) for size in self.sizes[self.n_scored :]]
        every = np.column_stack([np.asarray(factors, dtype=np.int64), *nuisance]) if nuisance else factors
        rows = self.table[np.ravel_multi_index(tuple(np.asarray(every, dtype=np.int64).T), self.sizes)]
        if (rows < 0).any():
            raise ValueError("a factor combination the dataset does not hold was asked for")
        return rows
