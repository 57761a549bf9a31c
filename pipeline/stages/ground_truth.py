"""Fresh observations of any dSprites factor combination, drawn as each dataset of the dSprites family draws
its own images, for the scores that sample (DCI, SAP, FactorVAE, BetaVAE).

A score must see the images the model was trained on: plain dSprites is the binary sprite; color-dSprites
the sprite in its image's fixed colour (vae.datasets' colour table, as vae.batches.as_images applies it);
noisy-dSprites the white sprite over uniform [0, 1) noise per channel, drawn from the score's own seeded
generator (disentanglement_lib's `np.minimum(sprite + noise, 1)`); scream-dSprites the sprite inverting a random
crop of the prepared file's thumbnail of The Scream plus a random colour, halved, each drawn per observation
from that generator in disentanglement_lib's order (crop row, crop column, colour).

The datasets read from the user's files (3D Shapes, MPI3D, SmallNORB, Cars3D) are drawn from the prepared
file, as disentanglement_lib draws them from the whole dataset in memory: each asked combination is looked up
in the factor grid. That needs every combination, so a `data.subsample` of them cannot be scored.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from metrics.sampling import GroundTruth
from vae.datasets import dataset_info
from vae.datasets.factored import FactorGrid, load_factored
from vae.datasets.registry import DSPRITES_FAMILY, LOCAL_FILES, sprite_colours
from vae.datasets.scream import CROP, load_texture
from vae.dsprites import FACTOR_NAMES, FACTOR_SIZES, SPACE, render_images

VARYING = [i for i, size in enumerate(FACTOR_SIZES) if size > 1]
SCORED_FACTORS: tuple[str, ...] = tuple(FACTOR_NAMES[i] for i in VARYING)
Observations = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def all_classes(factors: np.ndarray) -> np.ndarray:
    """(n, 6) classes of (n, varying factors) classes; constant factors (colour) sit at their one class."""
    classes = np.zeros((len(factors), len(FACTOR_SIZES)), dtype=np.int64)
    classes[:, VARYING] = factors
    return classes


def _binary(factors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(n, 64, 64) uint8 {0, 1} sprites, as dSprites stores them."""
    return render_images(SPACE.index_of(all_classes(factors)))


def _coloured(factors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(n, 3, 64, 64) float32: each sprite times its image's RGB colour (uint8 / 255), black background."""
    classes = all_classes(factors)
    mask = render_images(SPACE.index_of(classes))[:, None].astype(np.float32)
    return mask * (sprite_colours(classes).astype(np.float32) / 255.0)[:, :, None, None]


def _noisy(factors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(n, 3, 64, 64) float32: the white sprite over uniform [0, 1) noise per channel, clipped at 1."""
    mask = _binary(factors, rng)[:, None].astype(np.float32)
    noise = rng.random((len(factors), 3, *mask.shape[2:]), dtype=np.float32)
    return np.minimum(mask + noise, 1.0)


def screamed(texture: np.ndarray) -> Observations:
    """The sampler of scream-dSprites over uint8 (H, W, 3) `texture`: disentanglement_lib's ScreamDSprites,
    observation by observation."""
    scream = texture.astype(np.float64) / 255.0  # as disentanglement_lib holds it

    def observations(factors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        sprites = _binary(factors, rng)
        out = np.empty((len(factors), 3, CROP, CROP), dtype=np.float32)
        for i, sprite in enumerate(sprites):
            top = rng.integers(0, scream.shape[0] - CROP)
            left = rng.integers(0, scream.shape[1] - CROP)
            background = (scream[top : top + CROP, left : left + CROP] + rng.uniform(0, 1, size=3)) / 2.0
            mask = sprite == 1
            background[mask] = 1 - background[mask]
            out[i] = background.transpose(2, 0, 1)
        return out

    return observations


_OBSERVATIONS = {"dsprites": _binary, "color_dsprites": _coloured, "noisy_dsprites": _noisy}
_TEXTURED = {"scream_dsprites": screamed}  # samplers that need the prepared file's background image
assert set(_OBSERVATIONS) | set(_TEXTURED) == set(DSPRITES_FAMILY), "every dSprites variant needs its sampler"


class IncompleteGrid(ValueError):
    """The prepared file lacks some factor combinations (a subsample), so the sampling scores cannot run."""


def scored_factors(dataset: str) -> tuple[str, ...]:
    """The factors the sampling scores score, in their order: dSprites' varying five, or the dataset's own."""
    return SCORED_FACTORS if dataset in DSPRITES_FAMILY else tuple(dataset_info(dataset).factor_names or ())


def _from_file(dataset: str, prepared: Path) -> GroundTruth:
    data = load_factored(prepared, dataset_info(dataset).image_shape, len(scored_factors(dataset)))
    grid = FactorGrid(data.factors, data.nuisance)
    if grid.missing:
        raise IncompleteGrid(
            f"the sampling scores draw any factor combination, and {grid.missing:,} of {len(grid.table):,} are not "
            f"in the prepared {dataset} (data.subsample keeps {len(data.images):,} images; set it to null to score)"
        )
    images = data.images

    def observations(factors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return images[grid.rows(factors, rng)].astype(np.float32) / 255.0

    return GroundTruth(grid.factor_sizes, observations)


def ground_truth(dataset: str, prepared: Path | None = None) -> GroundTruth:
    """`dataset` as disentanglement_lib samples it: for the dSprites family the five varying factors, uniform
    and independent, each combination rendered on demand (no dataset file is read); for the datasets read
    from the user's files, the images of the `prepared` file (IncompleteGrid when a subsample left gaps);
    scream-dSprites over the background image of its `prepared` file."""
    if dataset in LOCAL_FILES and prepared is not None:
        return _from_file(dataset, prepared)
    sizes = tuple(FACTOR_SIZES[i] for i in VARYING)
    if dataset in _TEXTURED and prepared is not None:
        return GroundTruth(sizes, _TEXTURED[dataset](load_texture(prepared)))
    if dataset not in _OBSERVATIONS:
        raise ValueError(
            f"{dataset} has no ground-truth factors to sample without its prepared file; scores need one of "
            f"{', '.join([*_OBSERVATIONS, *_TEXTURED, *LOCAL_FILES])}"
        )
    return GroundTruth(sizes, _OBSERVATIONS[dataset])
