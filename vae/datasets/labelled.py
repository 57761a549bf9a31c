"""Labelled image datasets without ground-truth factors (digits), in one small npz layout.

The file holds `imgs` uint8 (N, C, H, W) in 0..255 and `labels` int64 (N,); every source is converted
to that once, in `prepare`, so training reads one format whatever the origin.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from vae.errors import DatasetError
from vae.files import atomic_path


def sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8×8 digits (ships with the package: no download), as uint8 (N, 1, 8, 8)
    scaled from its 0..16 grey levels to 0..255, and int64 labels."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)[:, None]
    return images, bunch.target.astype(np.int64)


SOURCES: dict[str, Callable[[], tuple[np.ndarray, np.ndarray]]] = {"digits": sklearn_digits}


def write_labelled(path: Path, images: np.ndarray, labels: np.ndarray) -> int:
    """Write images (uint8 (N, C, H, W)) and labels (N,) atomically; returns N."""
    if images.dtype != np.uint8 or images.ndim != 4 or len(images) != len(labels):
        raise ValueError(f"expected uint8 (N, C, H, W) images and N labels, got {images.dtype} {images.shape}")
    with atomic_path(Path(path)) as tmp, tmp.open("wb") as handle:
        np.savez_compressed(handle, imgs=images, labels=labels.astype(np.int64))
    return len(images)


def load_labelled(path: Path, shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 (N, *shape) images, int64 (N,) labels) from a file write_labelled wrote, checked."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(path, "file not found (run `dvc repro prepare`)")
    try:
        with np.load(path) as z:
            images, labels = z["imgs"], z["labels"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        # A truncated file fails here, when a member is read, not when it is opened.
        raise DatasetError(
            path,
            f"damaged or not a labelled-images npz ({type(exc).__name__}); run `dvc checkout` or `dvc repro -f prepare`",
        ) from None
    if images.dtype != np.uint8 or images.shape[1:] != tuple(shape):
        raise DatasetError(
            path, f"imgs are {images.dtype} {images.shape}, expected uint8 (N, {', '.join(map(str, shape))})"
        )
    if labels.shape != (len(images),):
        raise DatasetError(path, f"labels have shape {labels.shape}, expected ({len(images)},)")
    return images, labels.astype(np.int64)
