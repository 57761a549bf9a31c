"""dSprites in DeepMind's original file format, rendered locally.

The original ``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz`` cannot be downloaded here, so we draw
the same factor grid ourselves and write it in the same layout. One job per module: ``factors`` (the
grid, flat index ↔ factor classes and values), ``render`` (the pixels), ``npz`` (the file format:
streaming write, read, validation, copy). The names below are the public API, re-exported so callers
import from ``vae.dsprites`` and need not know the split.
"""

from vae.dsprites.factors import (
    FACTOR_NAMES,
    FACTOR_SIZES,
    IMAGE_SIZE,
    N_IMAGES,
    SPACE,
    FactorSpace,
    factor_values,
    latents_for,
    subsample_indices,
)
from vae.dsprites.npz import (
    KEYS,
    DatasetError,
    copy_dsprites,
    load_dsprites_packed,
    validate_dsprites,
    write_dsprites,
)
from vae.dsprites.render import render_images

__all__ = [
    "FACTOR_NAMES",
    "FACTOR_SIZES",
    "IMAGE_SIZE",
    "KEYS",
    "N_IMAGES",
    "SPACE",
    "DatasetError",
    "FactorSpace",
    "copy_dsprites",
    "factor_values",
    "latents_for",
    "load_dsprites_packed",
    "render_images",
    "subsample_indices",
    "validate_dsprites",
    "write_dsprites",
]
