"""Drawing dSprites: each of the 3 x 6 x 40 base sprites once, then placing them by slicing.

Vectorised so the full dataset renders in seconds; the geometry constants below fix the pixels, which
must match DeepMind's (see DESIGN.md, Data), so any change here changes every image.
"""

from __future__ import annotations

import functools

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from vae.dsprites.factors import FACTOR_SIZES, IMAGE_SIZE, factor_values, latents_for

# Each base sprite lives on a _CANVAS x _CANVAS patch centred on pixel (_CENTRE, _CENTRE). Position
# classes map to integer top-left offsets 1.._CANVAS_MAX_OFFSET, so the patch always covers rows/cols
# 1..62 at most and the image border stays empty; placement is then pure slicing.
_CANVAS = 25
_CENTRE = _CANVAS // 2
_RADIUS_AT_SCALE_1 = 11.0  # farthest shape pixel from the centre at scale 1, any rotation (< _CENTRE)
_SUPERSAMPLE = 5  # sub-samples per pixel side (odd: no ties); a pixel is on when most of them are inside
_POS_OFFSETS = 1 + np.round(np.linspace(0.0, IMAGE_SIZE - 2 - _CANVAS, FACTOR_SIZES[4])).astype(np.intp)
_PAD = int(_POS_OFFSETS.max())

# Shape outlines in their own unit frame (y up). Each is scaled so that its farthest point from the
# rotation centre sits at _RADIUS_AT_SCALE_1 pixels at scale 1, which keeps every rotation inside
# the canvas and makes the three shapes comparable in size.
_ELLIPSE_MINOR = 0.5  # semi-minor axis relative to the semi-major axis (1)
# Heart: (x^2 + y^2 - 1)^3 - x^2 y^3 <= 0, with x in [-1.139, 1.139] and y in [-1, 1.236]; we rotate
# about the bounding-box centre (0, 0.118), from which the farthest point is at 1.3366.
_HEART_CENTRE_Y = 0.118
_SHAPE_RADIUS = (np.sqrt(2.0), 1.0, 1.3367)  # square, ellipse, heart: max distance from the centre


def _inside(shape: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Whether unit-frame points (u right, v up) lie inside shape 0/1/2 (square/ellipse/heart)."""
    if shape == 0:
        return np.maximum(np.abs(u), np.abs(v)) <= 1.0
    if shape == 1:
        return u * u + (v / _ELLIPSE_MINOR) ** 2 <= 1.0
    y = v + _HEART_CENTRE_Y
    return (u * u + y * y - 1.0) ** 3 - u * u * y**3 <= 0.0


@functools.lru_cache(maxsize=1)
def _base_sprites() -> np.ndarray:
    """All 3 x 6 x 40 sprites on their centred canvas, (720, 25, 25) uint8, drawn once.

    Sampling a rotated coordinate grid (super-sampled, then thresholded at half coverage) keeps the
    outline clean at every angle and makes the area grow smoothly with scale.
    """
    margin = 1  # draw one extra ring and require it empty: proof that nothing was clipped
    size = _CANVAS + 2 * margin
    ss = _SUPERSAMPLE
    sub = (np.arange(size * ss) + 0.5) / ss - 0.5 - (_CENTRE + margin)  # pixel units about the centre
    x = sub[None, :]  # columns, right
    y = -sub[:, None]  # rows go down, the shape frame goes up
    scales = factor_values()[2]
    angles = factor_values()[3]
    cos = np.cos(angles)[None, :, None, None]
    sin = np.sin(angles)[None, :, None, None]
    sprites = np.empty((FACTOR_SIZES[1], len(scales), len(angles), size, size), dtype=np.uint8)
    for shape in range(FACTOR_SIZES[1]):
        unit = (scales * _RADIUS_AT_SCALE_1 / _SHAPE_RADIUS[shape])[:, None, None, None]
        # Rotating the shape by +angle (counter-clockwise) = sampling it on the grid rotated by -angle.
        u = (x * cos + y * sin) / unit
        v = (-x * sin + y * cos) / unit
        cover = _inside(shape, u, v).reshape(len(scales), len(angles), size, ss, size, ss).mean(axis=(3, 5))
        sprites[shape] = cover >= 0.5
    ring = sprites.copy()
    ring[..., margin:-margin, margin:-margin] = 0
    if ring.any():  # pragma: no cover - guards the geometry constants above
        raise AssertionError("a sprite does not fit its canvas; shrink _RADIUS_AT_SCALE_1")
    out = np.ascontiguousarray(sprites[..., margin:-margin, margin:-margin]).reshape(-1, _CANVAS, _CANVAS)
    out.flags.writeable = False
    return out


@functools.lru_cache(maxsize=1)
def _sprite_windows() -> np.ndarray:
    """A (720, P, P, 64, 64) read-only view: window [b, _PAD - oy, _PAD - ox] is the image of base
    sprite b with its canvas at top-left (oy, ox). Rendering any batch is then one gather."""
    sprites = _base_sprites()
    side = _PAD + IMAGE_SIZE
    padded = np.zeros((sprites.shape[0], side, side), dtype=np.uint8)
    padded[:, _PAD : _PAD + _CANVAS, _PAD : _PAD + _CANVAS] = sprites
    return sliding_window_view(padded, (IMAGE_SIZE, IMAGE_SIZE), axis=(1, 2))  # read-only view


def render_images(indices: np.ndarray) -> np.ndarray:
    """(n, 64, 64) uint8 images in {0, 1} of flat grid indices, in the order given."""
    classes, _ = latents_for(indices)
    base = (classes[:, 1] * FACTOR_SIZES[2] + classes[:, 2]) * FACTOR_SIZES[3] + classes[:, 3]
    rows = _PAD - _POS_OFFSETS[classes[:, 5]]  # posY moves the sprite down the rows
    cols = _PAD - _POS_OFFSETS[classes[:, 4]]  # posX moves it right along the columns
    return np.ascontiguousarray(_sprite_windows()[base, rows, cols])
