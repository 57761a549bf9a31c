"""3D Shapes (Burgess & Kim 2018) from DeepMind's `3dshapes.h5`, read with h5py.

The file holds `images` uint8 (480,000, 64, 64, 3) and `labels` float64 (480,000, 6), the factor values
of each image: floor hue 10, wall hue 10, object hue 10, scale 8, shape 4, orientation 15 (disentanglement_lib's
sizes). Classes come from the label values, so a file with fewer values per factor is read the same way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vae.datasets.factored import Factored, LocalFiles, Rows, classes_of_values, not_found
from vae.errors import DatasetError

FACTOR_NAMES = ("floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation")
URL = "https://storage.googleapis.com/3d-shapes/3dshapes.h5"
CHUNK = 20_000  # rows read at a time: the whole file is 5.9 GB once decompressed


def read_shapes3d(path: Path, rows: Rows) -> Factored:
    """The kept rows as uint8 (n, 3, 64, 64) images with their six factor classes."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise not_found(path, "shapes3d", "DeepMind's 3dshapes.h5", URL)
    try:
        with h5py.File(path, "r") as handle:
            images, labels = handle["images"], handle["labels"][()]
            if images.dtype != np.uint8 or images.shape[1:] != (64, 64, 3) or labels.shape != (len(images), 6):
                raise DatasetError(
                    path,
                    f"images {images.dtype} {images.shape} and labels {labels.shape}; expected uint8 "
                    "(N, 64, 64, 3) and (N, 6) as in DeepMind's 3dshapes.h5",
                )
            keep = rows(len(images))
            out = np.empty((len(keep), 3, 64, 64), dtype=np.uint8)
            done = 0
            for start in range(0, len(images), CHUNK):
                picked = keep[(keep >= start) & (keep < start + CHUNK)] - start
                if len(picked):
                    block = images[start : start + CHUNK]
                    out[done : done + len(picked)] = block[picked].transpose(0, 3, 1, 2)
                    done += len(picked)
    except (OSError, KeyError) as exc:
        raise DatasetError(path, f"not DeepMind's 3dshapes.h5 ({type(exc).__name__}: {exc})") from None
    classes = classes_of_values(labels)[keep]
    return Factored(out, classes, np.zeros((len(keep), 0), dtype=np.int64))


SHAPES3D = LocalFiles(Path("data/3dshapes/3dshapes.h5"), URL, read_shapes3d)
