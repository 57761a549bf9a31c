"""The dataset table and the two calls every stage uses: write (prepare) and load (the others)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vae import dsprites
from vae.datasets import cars3d, factored, labelled, mpi3d, scream, shapes3d, smallnorb, torchvision_sets


@dataclass(frozen=True)
class DatasetInfo:
    """What a model and the metrics need to know about a dataset before reading it."""

    name: str
    image_shape: tuple[int, int, int]  # (channels, height, width)
    binary: bool  # pixels in {0, 1}: stored bit-packed, Bernoulli likelihood
    factor_names: tuple[str, ...] | None  # ground-truth factors; None = class labels only
    how_to_get: str  # one line for the README and errors


@dataclass(frozen=True)
class ImageData:
    """A loaded dataset: `images` bit-packed (N, bytes) uint8 when binary, else uint8 (N, C, H, W)."""

    info: DatasetInfo
    images: np.ndarray
    factors: np.ndarray | None  # int64 (N, F) factor classes, or None
    labels: np.ndarray | None  # int64 (N,) class labels, or None
    texture: np.ndarray | None = None  # uint8 (H, W, 3) scream-dSprites' background image, or None


DATASETS: dict[str, DatasetInfo] = {
    "dsprites": DatasetInfo(
        "dsprites",
        (1, 64, 64),
        True,
        dsprites.FACTOR_NAMES,
        "rendered by `prepare` (or DeepMind's file via data.source)",
    ),
    "digits": DatasetInfo(
        "digits", (1, 8, 8), False, None, "scikit-learn's bundled digits (1,797 images), offline everywhere"
    ),
    "color_dsprites": DatasetInfo(
        "color_dsprites",
        (3, 64, 64),
        False,
        dsprites.FACTOR_NAMES,
        "dSprites rendered by `prepare`, each sprite in a random colour (Locatello et al. 2019)",
    ),
    "noisy_dsprites": DatasetInfo(
        "noisy_dsprites",
        (3, 64, 64),
        False,
        dsprites.FACTOR_NAMES,
        "dSprites rendered by `prepare`, the white sprite over uniform noise (Locatello et al. 2019)",
    ),
    "scream_dsprites": DatasetInfo(
        "scream_dsprites",
        (3, 64, 64),
        False,
        dsprites.FACTOR_NAMES,
        "dSprites rendered by `prepare` over patches of your image of The Scream (data.source or its default)",
    ),
    "mnist": DatasetInfo("mnist", (1, 28, 28), False, None, "torchvision's MNIST files under data.root"),
    "fashion_mnist": DatasetInfo(
        "fashion_mnist", (1, 28, 28), False, None, "torchvision's FashionMNIST files under data.root"
    ),
    "shapes3d": DatasetInfo(
        "shapes3d", (3, 64, 64), False, shapes3d.FACTOR_NAMES, "DeepMind's 3dshapes.h5 (data.source or its default)"
    ),
    **{
        name: DatasetInfo(
            name, (3, 64, 64), False, mpi3d.FACTOR_NAMES, f"the file {name}.npz (data.source or its default)"
        )
        for name in ("mpi3d_toy", "mpi3d_realistic", "mpi3d_real")
    },
    "smallnorb": DatasetInfo(
        "smallnorb", (1, 64, 64), False, smallnorb.FACTOR_NAMES, "NYU's six files (data.source or its default)"
    ),
    "cars3d": DatasetInfo(
        "cars3d", (3, 64, 64), False, cars3d.FACTOR_NAMES, "Reed et al.'s .mat files (data.source or its default)"
    ),
}

LOCAL_FILES: dict[str, factored.LocalFiles] = {
    "shapes3d": shapes3d.SHAPES3D,
    **{name: mpi3d.variant(name) for name in ("mpi3d_toy", "mpi3d_realistic", "mpi3d_real")},
    "smallnorb": smallnorb.SMALLNORB,
    "cars3d": cars3d.CARS3D,
}
"""Datasets read from the user's own copy (disentanglement_lib's suite): where it goes and how it is read."""


DSPRITES_FAMILY = ("dsprites", "color_dsprites", "noisy_dsprites", "scream_dsprites")
"""Datasets stored as the dSprites file; the variants are coloured per batch (vae.batches.as_images)."""
COLOUR_SEED = 0  # fixes each color-dSprites image's colour, whatever the subsample or split


def sprite_colours(classes: np.ndarray) -> np.ndarray:
    """(n, 3) uint8 RGB of each image (by its factor classes): uniform in [0.5, 1] per channel, as in
    disentanglement_lib's color-dSprites, but fixed per image so training and evaluation agree."""
    table = np.random.default_rng(COLOUR_SEED).uniform(0.5, 1.0, size=(dsprites.N_IMAGES, 3))
    return np.round(table[dsprites.SPACE.index_of(classes)] * 255).astype(np.uint8)


def dataset_info(name: str) -> DatasetInfo:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return DATASETS[name]


def takes_source(name: str) -> bool:
    """Whether data.source means something for `name`: DeepMind's dSprites file, a local dataset's copy, or
    scream-dSprites' image."""
    return name in DSPRITES_FAMILY or name in LOCAL_FILES


def default_source(name: str) -> Path | None:
    """Where a local file goes when data.source is not set (relative to the repository root): a local dataset's
    copy, or scream-dSprites' image (its sprites are rendered, never DeepMind's file)."""
    if name == "scream_dsprites":
        return scream.DEFAULT
    return LOCAL_FILES[name].default if name in LOCAL_FILES else None


def _labelled_source(name: str, root: Path | None, download: bool) -> tuple[np.ndarray, np.ndarray]:
    if name in torchvision_sets.FOLDERS:
        if root is None:
            raise ValueError(f"{name} needs data.root, the folder holding torchvision's files")
        return torchvision_sets.load_torchvision(name, root, download)
    return labelled.SOURCES[name]()


def write_dataset(
    name: str,
    path: Path,
    rows: Callable[[int], np.ndarray],
    source: Path | None = None,
    root: Path | None = None,
    download: bool = False,
) -> int:
    """Write dataset `name` to `path` (atomically), keeping `rows(n_total)` (sorted row indices) of it.
    `source` is a user-supplied original file (dSprites, the local datasets' copy or scream-dSprites' image,
    which default to `default_source`); `root` the folder of torchvision's files (MNIST, Fashion-MNIST), which
    torchvision may fill if `download`. Returns the number of images written."""
    info = dataset_info(name)
    if source is not None and not takes_source(name):
        raise ValueError(f"data.source is for DeepMind's dSprites file; {name} comes from {info.how_to_get}")
    if name in LOCAL_FILES:
        files = LOCAL_FILES[name]
        return factored.write_factored(path, files.read(Path(source or files.default), rows))
    if name == "scream_dsprites":
        texture = scream.read_texture(Path(source or scream.DEFAULT))
        return dsprites.write_dsprites(path, rows(dsprites.N_IMAGES), extra={scream.TEXTURE_KEY: texture})
    if name in DSPRITES_FAMILY:
        n_total = dsprites.validate_dsprites(source) if source is not None else dsprites.N_IMAGES
        keep = rows(n_total)
        if source is not None:
            return dsprites.copy_dsprites(source, path, None if len(keep) == n_total else keep)
        return dsprites.write_dsprites(path, keep)
    images, labels = _labelled_source(name, root, download)
    keep = rows(len(images))
    return labelled.write_labelled(path, images[keep], labels[keep])


def load_dataset(name: str, path: Path) -> ImageData:
    """The dataset `prepare` wrote to `path`, validated (DatasetError names the file)."""
    info = dataset_info(name)
    if name in DSPRITES_FAMILY:
        packed, classes = dsprites.load_dsprites_packed(path)
        if name == "color_dsprites":
            packed = np.concatenate([packed, sprite_colours(classes)], axis=1)
        texture = scream.load_texture(path) if name == "scream_dsprites" else None
        return ImageData(info, packed, classes, None, texture)
    if name in LOCAL_FILES:
        data = factored.load_factored(path, info.image_shape, len(info.factor_names or ()))
        return ImageData(info, data.images, data.factors, None)
    images, labels = labelled.load_labelled(path, info.image_shape)
    return ImageData(info, images, None, labels)
