"""SmallNORB (LeCun et al. 2004) from its six files in NORB's binary matrix format (not MATLAB, despite `.mat`).

Each of the training and testing chunks has `-dat` (N, 2, 96, 96) uint8 stereo pairs, `-cat` (N,) int32
categories and `-info` (N, 4) int32 instance, elevation, azimuth (0, 2, …, 34) and lighting. As in
disentanglement_lib, both chunks are joined (48,600 images), the left image is resized to 64×64 with
PIL's Lanczos filter, and the scored factors are category 5, elevation 9, azimuth 18 and lighting 6; the
instance (10 per category) is not scored and is drawn at random when a score asks for a combination.
Gzipped files (`.mat.gz`, as NYU serves them) are read as they are.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from vae.datasets.factored import Factored, LocalFiles, Rows, classes_of_values, not_found
from vae.errors import DatasetError

FACTOR_NAMES = ("category", "elevation", "azimuth", "lighting")
URL = "https://cs.nyu.edu/~ylclab/data/norb-v1.0-small/"
CHUNKS = ("smallnorb-5x46789x9x18x6x2x96x96-training", "smallnorb-5x01235x9x18x6x2x96x96-testing")
MAGIC = {0x1E3D4C55: np.uint8, 0x1E3D4C54: np.int32, 0x1E3D4C51: np.float32, 0x1E3D4C53: np.float64}
"""The format's type codes: byte, integer, single and double matrices."""


def read_matrix(path: Path) -> np.ndarray:
    """One binary matrix: int32 magic, int32 rank, max(3, rank) int32 dimensions, then the data (little-endian)."""
    for candidate in (path, path.with_name(path.name + ".gz")):
        if candidate.is_file():
            raw = gzip.decompress(candidate.read_bytes()) if candidate.suffix == ".gz" else candidate.read_bytes()
            break
    else:
        raise not_found(path, "smallnorb", f"{path.name} (or {path.name}.gz)", URL)
    magic, rank = np.frombuffer(raw, "<i4", 2) if len(raw) >= 8 else (0, 0)
    if int(magic) not in MAGIC or not 1 <= rank <= 8:
        raise DatasetError(candidate, f"not a NORB binary matrix (magic {int(magic):#x})")
    dims = tuple(int(d) for d in np.frombuffer(raw, "<i4", max(3, int(rank)), 8)[:rank])
    dtype = np.dtype(MAGIC[int(magic)]).newbyteorder("<")
    data = np.frombuffer(raw, dtype, offset=8 + 4 * max(3, int(rank)))
    if data.size != np.prod(dims):
        raise DatasetError(candidate, f"holds {data.size} values, its header says {dims}")
    return data.reshape(dims)


def resize_64(images: np.ndarray) -> np.ndarray:
    """(n, H, W) uint8 grey → (n, 1, 64, 64) uint8, PIL's Lanczos (disentanglement_lib's ANTIALIAS)."""
    from PIL import Image

    out = np.empty((len(images), 1, 64, 64), dtype=np.uint8)
    for i, image in enumerate(images):
        out[i, 0] = np.asarray(Image.fromarray(image).resize((64, 64), Image.Resampling.LANCZOS))
    return out


def read_smallnorb(folder: Path, rows: Rows) -> Factored:
    """The kept rows of both chunks as uint8 (n, 1, 64, 64) images, scored factors and the instance."""
    folder = Path(folder)
    if not folder.is_dir():
        raise not_found(folder, "smallnorb", f"a folder with its six files ({CHUNKS[0]}-dat.mat, …)", URL)
    images, features = [], []
    for chunk in CHUNKS:
        dat, cat, info = (read_matrix(folder / f"{chunk}-{part}.mat") for part in ("dat", "cat", "info"))
        if dat.ndim != 4 or dat.shape[1] != 2 or cat.shape != (len(dat),) or info.shape != (len(dat), 4):
            raise DatasetError(folder / chunk, f"dat {dat.shape}, cat {cat.shape}, info {info.shape} do not match")
        images.append(dat[:, 0])  # the left camera
        features.append(np.column_stack([cat, info]))  # category, instance, elevation, azimuth, lighting
    values = np.concatenate(features)
    keep = rows(len(values))
    classes = classes_of_values(values)[keep]
    kept_images = np.concatenate(images)[keep]
    return Factored(resize_64(kept_images), classes[:, [0, 2, 3, 4]], classes[:, [1]])


SMALLNORB = LocalFiles(Path("data/smallnorb"), URL, read_smallnorb)
