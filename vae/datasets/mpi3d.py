"""MPI3D (Gondal et al. 2019): toy, realistic and real, each one `.npz` of `images` uint8 (N, 64, 64, 3)
in grid order (the first factor varies slowest) and no labels, so the grid comes from the image count:
the published files hold 1,036,800 images (6 colours × 6 shapes × 2 sizes × 3 camera heights × 3
backgrounds × 40 × 40 arm positions); the earlier release that disentanglement_lib's loader was written for
held 460,800 (4 colours, 4 shapes)."""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from vae.datasets.factored import Factored, LocalFiles, Rows, grid_classes, not_found
from vae.errors import DatasetError

FACTOR_NAMES = (
    "object_color",
    "object_shape",
    "object_size",
    "camera_height",
    "background_color",
    "horizontal_axis",
    "vertical_axis",
)
LAYOUTS: dict[int, tuple[int, ...]] = {1_036_800: (6, 6, 2, 3, 3, 40, 40), 460_800: (4, 4, 2, 3, 3, 40, 40)}
"""Image count → factor sizes, in FACTOR_NAMES' order."""
BASE_URL = "https://storage.googleapis.com/disentanglement_dataset/Final_Dataset/"
CHUNK = 50_000


def read_mpi3d(path: Path, rows: Rows, name: str) -> Factored:
    """The kept rows of an MPI3D file as uint8 (n, 3, 64, 64) images with their seven factor classes."""
    path = Path(path)
    if not path.is_file():
        raise not_found(path, name, f"the MPI3D file {name}.npz", f"{BASE_URL}{name}.npz")
    try:
        with np.load(path) as z:
            images = z["images"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise DatasetError(path, f"not an MPI3D npz with `images` ({type(exc).__name__})") from None
    if images.dtype != np.uint8 or images.shape[1:] != (64, 64, 3):
        raise DatasetError(path, f"images are {images.dtype} {images.shape}, expected uint8 (N, 64, 64, 3)")
    if len(images) not in LAYOUTS:
        known = " or ".join(f"{n:,}" for n in LAYOUTS)
        raise DatasetError(path, f"{len(images):,} images; an MPI3D file holds {known} (its whole factor grid)")
    keep = rows(len(images))
    out = np.empty((len(keep), 3, 64, 64), dtype=np.uint8)
    for start in range(0, len(keep), CHUNK):
        out[start : start + CHUNK] = images[keep[start : start + CHUNK]].transpose(0, 3, 1, 2)
    classes = grid_classes(LAYOUTS[len(images)], len(images))[keep]
    return Factored(out, classes, np.zeros((len(keep), 0), dtype=np.int64))


def variant(name: str) -> LocalFiles:
    """mpi3d_toy, mpi3d_realistic or mpi3d_real: the same layout, other pictures."""
    return LocalFiles(
        Path(f"data/mpi3d/{name}.npz"), f"{BASE_URL}{name}.npz", lambda path, rows: read_mpi3d(path, rows, name)
    )
