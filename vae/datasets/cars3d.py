"""Cars3D (Reed et al. 2015) from its MATLAB files, one per car model (`car_001_mesh.mat`, …), read with scipy.

Each file's `im` is uint8 (128, 128, 3, 24, 4): height, width, RGB, 24 azimuths, 4 elevations. As in
disentanglement_lib the factors are elevation 4, azimuth 24 and the car (183 files, in name order), and each
image is shrunk to 64×64 with PIL's Lanczos filter.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vae.datasets.factored import Factored, LocalFiles, Rows, not_found
from vae.errors import DatasetError

FACTOR_NAMES = ("elevation", "azimuth", "object")
URL = "http://www.scottreed.info/files/nips2015-analogy-data.tar.gz (its data/cars folder)"


def _views(path: Path) -> np.ndarray:
    """One file's images, (azimuths, elevations, H, W, 3) uint8."""
    from scipy.io import loadmat

    try:
        im = loadmat(path)["im"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DatasetError(path, f"not a Cars3D MATLAB file with `im` ({type(exc).__name__})") from None
    if im.ndim != 5 or im.shape[2] != 3 or im.dtype != np.uint8:
        raise DatasetError(path, f"im is {im.dtype} {im.shape}, expected uint8 (H, W, 3, azimuths, elevations)")
    return np.einsum("hwcae->aehwc", im)


def _shrink(image: np.ndarray) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(image).resize((64, 64), Image.Resampling.LANCZOS)).transpose(2, 0, 1)


def read_cars3d(folder: Path, rows: Rows) -> Factored:
    """The kept rows, (n, 3, 64, 64) uint8, with (elevation, azimuth, object) classes; row = (object,
    azimuth, elevation) in grid order."""
    folder = Path(folder)
    files = sorted(folder.glob("*.mat")) if folder.is_dir() else []
    if not files:
        raise not_found(folder, "cars3d", "a folder of its .mat files (car_001_mesh.mat, …)", URL)
    first = _views(files[0])
    n_az, n_el = first.shape[:2]
    grid = (len(files), n_az, n_el)
    keep = rows(int(np.prod(grid)))
    obj, az, el = np.unravel_index(keep, grid)
    out = np.empty((len(keep), 3, 64, 64), dtype=np.uint8)
    for i, path in enumerate(files):
        picked = np.flatnonzero(obj == i)
        if not len(picked):
            continue
        views = first if i == 0 else _views(path)
        if views.shape[:2] != (n_az, n_el):
            raise DatasetError(path, f"has {views.shape[:2]} azimuths × elevations, {files[0].name} has {(n_az, n_el)}")
        for j in picked:
            out[j] = _shrink(views[az[j], el[j]])
    return Factored(out, np.column_stack([el, az, obj]).astype(np.int64), np.zeros((len(keep), 0), dtype=np.int64))


CARS3D = LocalFiles(Path("data/cars3d"), URL, read_cars3d)
