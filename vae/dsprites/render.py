"""Drawing dSprites as DeepMind drew them: polygons at sub-pixel centres, no anti-aliasing.

DeepMind drew the sprites with LÖVE (Love2D, OpenGL), shapes as vectors rasterised straight onto the
64 x 64 canvas (their dsprites-dataset issue #2): a pixel is on iff its centre lies inside the rotated,
scaled polygon, so positions move in DeepMind's even ~1.03 px steps rather than whole pixels. Every shape
here is a polygon fitted to DeepMind's own frames (tests/data/dsprites_reference.tsv: 320 frames cut from
the real file). Against them: 230 of 320 frames identical, 162 pixels differ in all (0.51 a frame, at
most 4): square 62/64 frames (8 px), ellipse 62/64 (4 px), heart 106/192 (150 px). What is left is
sub-pixel: OpenGL snaps vertices to 1/256 px before rasterising (with that, a side of 19.2 draws all 64
square frames exactly), which these tables, built without the sprite's x position, leave out.
715,756 of the 737,280 images are distinct.

Geometry at scale 1 and orientation 0, in pixels, centred on the sprite's position:
- square: side 19.2 (0.3 of the canvas), so axis-aligned it covers 19 or 20 columns by the centre's
  sub-pixel phase (20 x 20 at posX = posY = 0);
- ellipse: a 64-gon with its vertices on the ellipse of semi-axes 12.78 x 7.22 (horizontal): LÖVE draws an
  ellipse as a polygon, and 64 vertices fit DeepMind's frames best of the counts tried (8 to 80);
- heart: a mirror-symmetric polygon of HEART_HALF's vertices, fitted to the reference frames: round
  lobes with a notch on top, 45° sides, and a thin tip that thins to a point ~9.8 px below the centre.
Scales multiply this geometry by linspace(0.5, 1, 6); orientation turns it counter-clockwise on screen by
the factor's angle. Coordinates are pixel indices (pixel j's centre at j), so the centre runs
15.5 → 47.5, symmetric about the image centre 31.5. Every change here changes every image.

Rendering is two steps, both vectorised: (1) once, for every (shape, scale, orientation, posY, row),
where the row crosses the polygon's edges, as x relative to the sprite's centre, paired into
intervals [lo, hi) (even-odd: a row can meet the heart in up to three); (2) per image, shift the
intervals by the centre's x, round them to pixel columns, and copy each row from a table of all 65 x 65
possible runs of ones, OR-ing a row's further intervals, if any, onto its first. The tables take about
3 s to build; the full 737,280 images then render in about 5 s.
"""

from __future__ import annotations

import functools

import numpy as np

from vae.dsprites.factors import FACTOR_SIZES, IMAGE_SIZE, factor_values, latents_for

CENTRE_FIRST = 15.5
"""Sprite centre (row or column, pixel-index coordinates) at posX/posY = 0."""
CENTRE_LAST = 47.5
"""Sprite centre at posX/posY = 1; the 32 positions are evenly spaced in between (32/31 px apart)."""

SQUARE_HALF_SIDE = 9.6  # px at scale 1: side 19.2 = 0.3 of the 64 px canvas
ELLIPSE_SEMI_AXES = (12.78, 7.22)  # px at scale 1 (along u, along v): horizontal at orientation 0
ELLIPSE_VERTICES = 64  # LÖVE draws an ellipse as a polygon; its vertices at angles 2πk/64 lie on the ellipse
HEART_HALF = (  # (u right, v up) px at scale 1: the heart's right half, from the notch to the tip
    (0.0000, 5.1700),
    (0.2372, 5.7929),
    (0.4743, 6.4158),
    (1.4086, 7.8919),
    (2.8528, 8.9887),
    (5.0152, 9.4397),
    (6.8228, 8.8064),
    (7.9430, 8.0852),
    (9.1752, 6.3100),
    (9.6414, 4.5476),
    (9.5946, 3.2695),
    (9.4149, 2.8964),
    (8.9519, 1.2024),
    (7.7638, -0.5173),
    (5.9629, -2.5167),
    (3.8519, -4.4761),
    (1.9600, -6.4000),
    (1.4648, -7.0000),
    (1.0202, -7.5800),
    (0.6327, -8.2800),
    (0.3126, -8.6500),
    (0.1105, -9.3000),
    (0.0000, -9.7200),
)
"""The heart's right half; the left half mirrors it (u → -u). Fitted to DeepMind's frames by minimising
the pixels that differ over all 168 distinct reference frames of the heart."""

_N_POS = FACTOR_SIZES[4]


def sprite_centres() -> np.ndarray:
    """(32,) sprite centre in pixels for each posX (column) or posY (row) class."""
    return np.linspace(CENTRE_FIRST, CENTRE_LAST, _N_POS)


def orientation_angles() -> np.ndarray:
    """(40,) counter-clockwise angles of the orientation classes; the last (2π) is drawn as 0, exactly."""
    angles = factor_values()[3]
    angles[-1] = 0.0
    return angles


def shape_outline(shape: int) -> tuple[np.ndarray, np.ndarray]:
    """(u, v) vertices of a shape's polygon at scale 1 and orientation 0 (u right, v up, px about the
    sprite's centre), in order around the outline: 0 square, 1 ellipse, 2 heart."""
    if shape == 0:
        h = SQUARE_HALF_SIDE
        return np.array([h, -h, -h, h]), np.array([h, h, -h, -h])
    if shape == 1:
        phi = 2.0 * np.pi * np.arange(ELLIPSE_VERTICES) / ELLIPSE_VERTICES
        return ELLIPSE_SEMI_AXES[0] * np.cos(phi), ELLIPSE_SEMI_AXES[1] * np.sin(phi)
    if shape == 2:
        right = np.array(HEART_HALF)
        left = right[-2:0:-1] * np.array([-1.0, 1.0])  # the mirror image, without the notch and tip again
        both = np.concatenate([right, left])
        return both[:, 0], both[:, 1]
    raise ValueError(f"shape must be 0, 1 or 2, got {shape}")


# --- step 1: where each row crosses the polygon, in x about the sprite's centre --------------------


def _crossings(
    u: np.ndarray, v: np.ndarray, scale: float, cos: np.ndarray, sin: np.ndarray, rows: np.ndarray
) -> np.ndarray:
    """(edges, *grid) x (relative to the centre) where each edge crosses each row's line of pixel
    centres, +inf where it does not; rows are image rows relative to the centre (down)."""
    x = cos * u * scale - sin * v * scale  # vertices turned counter-clockwise on screen (y up)
    y = -(sin * u * scale + cos * v * scale)  # and in rows (down)
    out = []
    for k in range(len(u)):
        x0, y0 = x[..., k], y[..., k]
        x1, y1 = x[..., (k + 1) % len(u)], y[..., (k + 1) % len(u)]
        crosses = (y0 > rows) != (y1 > rows)  # half-open in y: a vertex on the line counts once
        with np.errstate(divide="ignore", invalid="ignore"):
            at = x0 + (rows - y0) * (x1 - x0) / (y1 - y0)
        out.append(np.where(crosses, at, np.inf))
    return np.stack(out)


@functools.lru_cache(maxsize=1)
def _row_intervals() -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Per shape: (lo, hi) of x relative to the sprite centre, each (intervals, 6 scales, 40 orientations,
    32 posY, 64 rows); a pixel j of the row is on iff lo <= j - centre < hi for some interval (empty
    intervals are (inf, inf)). Drawn once."""
    angles = orientation_angles()[:, None, None, None]  # (40, 1, 1, 1): orientation, posY, row, vertex
    cos, sin = np.cos(angles), np.sin(angles)
    rows = (np.arange(IMAGE_SIZE)[None, :] - sprite_centres()[:, None])[None]  # (1, 32 posY, 64 rows)
    out = []
    for shape in range(3):
        u, v = shape_outline(shape)
        per_scale = []
        for scale in factor_values()[2]:
            xs = _crossings(u, v, scale, cos, sin, rows)
            per_scale.append(np.sort(xs, axis=0))
        xs = np.stack(per_scale, axis=1)  # (edges, 6, 40, 32, 64), each row's crossings in increasing x
        pairs = int(np.isfinite(xs).sum(axis=0).max()) // 2
        lo, hi = xs[0 : 2 * pairs : 2], xs[1 : 2 * pairs : 2]
        lo, hi = np.ascontiguousarray(lo), np.ascontiguousarray(hi)
        lo.flags.writeable = hi.flags.writeable = False
        out.append((lo, hi))
    return tuple(out)


# --- step 2: place the intervals and copy the rows -------------------------------------------------


@functools.lru_cache(maxsize=1)
def _runs() -> np.ndarray:
    """(65 * 65, 64) uint8: row a * 65 + b has ones at columns a..b-1 (empty when a >= b)."""
    cols = np.arange(IMAGE_SIZE)
    a = np.arange(IMAGE_SIZE + 1)[:, None, None]
    b = np.arange(IMAGE_SIZE + 1)[None, :, None]
    table = ((cols >= a) & (cols < b)).astype(np.uint8).reshape(-1, IMAGE_SIZE)
    table.flags.writeable = False
    return table


def _run_index(cx: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Row of _runs() holding the on pixels j of each row: cx + lo <= j < cx + hi (centres inside)."""
    first = np.clip(np.ceil(cx + lo), 0, IMAGE_SIZE)  # empty intervals, (inf, inf), land on 64, 64
    stop = np.clip(np.ceil(cx + hi), 0, IMAGE_SIZE)
    stop = np.maximum(stop, first)  # empty rows: first == stop
    return (first * (IMAGE_SIZE + 1) + stop).astype(np.intp)


def _draw_shape(into: np.ndarray, classes: np.ndarray, lo_all: np.ndarray, hi_all: np.ndarray) -> None:
    """Draw images of one shape (their factor `classes`) into the zeroed (n, 64, 64) `into`."""
    cx = sprite_centres()[classes[:, 4]][:, None]  # posX moves the sprite right along the columns
    at = (classes[:, 2], classes[:, 3], classes[:, 5])  # scale, orientation, posY (which set the rows' y)
    rows = into.reshape(-1, IMAGE_SIZE)
    for piece in range(lo_all.shape[0]):
        index = _run_index(cx, lo_all[piece][at], hi_all[piece][at]).reshape(-1)
        if piece == 0:
            np.take(_runs(), index, axis=0, out=rows)
        else:  # a row's further intervals (the heart's)
            rows |= _runs()[index]


def render_images(indices: np.ndarray) -> np.ndarray:
    """(n, 64, 64) uint8 images in {0, 1} of flat grid indices, in the order given."""
    classes, _ = latents_for(indices)
    out = np.empty((len(classes), IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    for shape, (lo_all, hi_all) in enumerate(_row_intervals()):
        at = np.flatnonzero(classes[:, 1] == shape)
        if len(at) == 0:
            continue
        if at[-1] - at[0] + 1 == len(at):  # one run of rows, as in any C-ordered chunk: draw in place
            _draw_shape(out[at[0] : at[-1] + 1], classes[at], lo_all, hi_all)
        else:
            block = np.empty((len(at), IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
            _draw_shape(block, classes[at], lo_all, hi_all)
            out[at] = block
    return out
