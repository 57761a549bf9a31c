"""Fresh observations of any dSprites factor combination, drawn as each dataset of the dSprites family draws
its own images, for the scores that sample (DCI, SAP, FactorVAE, BetaVAE).

A score must see the images the model was trained on: plain dSprites is the binary sprite; color-dSprites
the sprite in its image's fixed colour (vae.datasets' colour table, as vae.batches.as_images applies it);
noisy-dSprites the white sprite over uniform [0, 1) noise per channel, drawn from the score's own seeded
generator (disentanglement_lib's `np.minimum(sprite + noise, 1)`).
"""

from __future__ import annotations

import numpy as np

from metrics.sampling import GroundTruth
from vae.datasets.registry import DSPRITES_FAMILY, sprite_colours
from vae.dsprites import FACTOR_NAMES, FACTOR_SIZES, SPACE, render_images

VARYING = [i for i, size in enumerate(FACTOR_SIZES) if size > 1]
SCORED_FACTORS: tuple[str, ...] = tuple(FACTOR_NAMES[i] for i in VARYING)


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


_OBSERVATIONS = {"dsprites": _binary, "color_dsprites": _coloured, "noisy_dsprites": _noisy}
assert set(_OBSERVATIONS) == set(DSPRITES_FAMILY), "every dSprites variant needs its sampler"


def ground_truth(dataset: str) -> GroundTruth:
    """`dataset` as disentanglement_lib samples it: the five varying dSprites factors, uniform and
    independent, each combination rendered on demand (no dataset file is read)."""
    if dataset not in _OBSERVATIONS:
        raise ValueError(
            f"{dataset} has no ground-truth factors to sample; scores need one of {', '.join(_OBSERVATIONS)}"
        )
    return GroundTruth(tuple(FACTOR_SIZES[i] for i in VARYING), _OBSERVATIONS[dataset])
