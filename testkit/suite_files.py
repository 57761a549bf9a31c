"""Tiny copies of disentanglement_lib's datasets in each one's real file format, for tests: the same keys,
dtypes, layouts and headers as the published files, with fewer values per factor. Each writer returns what
it wrote (the source images in the file's own layout and the factor classes of each stored row)."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

SHAPES3D_SIZES = (2, 2, 2, 2, 2, 3)  # floor, wall, object hue, scale, shape, orientation (the real: 10,10,10,8,4,15)
MPI3D_SIZES = (2, 2, 1, 1, 1, 3, 4)  # the real: 6, 6, 2, 3, 3, 40, 40


def _grid(sizes: tuple[int, ...]) -> np.ndarray:
    return np.stack(np.unravel_index(np.arange(int(np.prod(sizes))), sizes), axis=1).astype(np.int64)


def write_shapes3d(path: Path, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """DeepMind's `3dshapes.h5`: `images` uint8 (N, 64, 64, 3), `labels` float64 (N, 6) factor values in
    grid order (hues k/10, scale from 0.75 to 1.25, shape 0..3, orientation from -30 to 30 degrees)."""
    import h5py

    classes = _grid(SHAPES3D_SIZES)
    grids = [np.arange(10) / 10] * 3 + [np.linspace(0.75, 1.25, 8), np.arange(4.0), np.linspace(-30, 30, 15)]
    labels = np.column_stack([grid[classes[:, j] * 2] for j, grid in enumerate(grids)])  # every other value
    images = np.random.default_rng(seed).integers(0, 256, (len(classes), 64, 64, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as handle:
        handle.create_dataset("images", data=images, compression="gzip")
        handle.create_dataset("labels", data=labels)
    return images, classes


def write_mpi3d(path: Path, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """An MPI3D `.npz`: `images` uint8 (N, 64, 64, 3) in grid order, no labels."""
    classes = _grid(MPI3D_SIZES)
    images = np.random.default_rng(seed).integers(0, 256, (len(classes), 64, 64, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, images=images)
    return images, classes


def norb_matrix(array: np.ndarray) -> bytes:
    """NORB's binary matrix: magic, rank, max(3, rank) dimensions (int32, little-endian), then the data."""
    magic = {np.dtype(np.uint8): 0x1E3D4C55, np.dtype(np.int32): 0x1E3D4C54}[array.dtype]
    dims = list(array.shape) + [1] * max(0, 3 - array.ndim)
    return (
        struct.pack(f"<ii{len(dims)}i", magic, array.ndim, *dims)
        + array.astype(array.dtype.newbyteorder("<")).tobytes()
    )


def write_smallnorb(folder: Path, seed: int = 0, gzip_testing: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """SmallNORB's six files: 2 categories × 1 instance per chunk × 2 elevations × 3 azimuths (0, 2, 4) × 2
    lightings, in a shuffled order; the testing chunk gzipped as NYU serves it. Returns (left 96×96 images,
    (N, 5) category, instance, elevation, azimuth / 2, lighting classes), training chunk first."""
    from vae.datasets.smallnorb import CHUNKS

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    lefts, features = [], []
    for chunk, instance in zip(CHUNKS, (1, 0)):
        grid = _grid((2, 2, 3, 2))  # category, elevation, azimuth, lighting
        grid = grid[rng.permutation(len(grid))]
        n = len(grid)
        info = np.column_stack([np.full(n, instance), grid[:, 1], grid[:, 2] * 2, grid[:, 3]]).astype(np.int32)
        pairs = rng.integers(0, 256, (n, 2, 96, 96), dtype=np.uint8)
        for part, array in (("dat", pairs), ("cat", grid[:, 0].astype(np.int32)), ("info", info)):
            raw = norb_matrix(array)
            name = folder / f"{chunk}-{part}.mat"
            if gzip_testing and "testing" in chunk:
                (folder / f"{name.name}.gz").write_bytes(gzip.compress(raw))
            else:
                name.write_bytes(raw)
        lefts.append(pairs[:, 0])
        features.append(np.column_stack([grid[:, 0], np.full(n, instance), grid[:, 1], grid[:, 2], grid[:, 3]]))
    return np.concatenate(lefts), np.concatenate(features).astype(np.int64)


def write_cars3d(folder: Path, n_cars: int = 3, n_azimuths: int = 3, n_elevations: int = 2, seed: int = 0):
    """Cars3D's MATLAB files: one `car_NNN_mesh.mat` per car with `im` uint8 (128, 128, 3, azimuths,
    elevations). Returns the (cars, azimuths, elevations, 128, 128, 3) images."""
    from scipy.io import savemat

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    views = rng.integers(0, 256, (n_cars, n_azimuths, n_elevations, 128, 128, 3), dtype=np.uint8)
    for car in range(n_cars):
        savemat(folder / f"car_{car + 1:03d}_mesh.mat", {"im": np.einsum("aehwc->hwcae", views[car])})
    return views
