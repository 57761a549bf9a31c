"""Drawing dSprites as DeepMind drew them: exact shapes at sub-pixel centres, no anti-aliasing.

A pixel is on iff its centre lies inside the rotated, scaled shape placed at the image's centre, so
positions move in DeepMind's even ~1.03 px steps rather than whole pixels. Every shape is a union of at
most two convex pieces, and a convex piece meets a pixel row in one interval of x. So rendering is two
steps, both vectorised: (1) once, for every (shape, scale, orientation, posY, row), the interval of x
(relative to the sprite's centre) that each piece covers, in closed form; (2) per image, shift the
intervals by the centre's x, round them to pixel columns, and copy each row from a table of all 65 x 65
possible runs of ones. The full 737,280 images render in a few seconds.

Geometry measured on DeepMind's file (see DESIGN.md, Data); at scale 1 and orientation 0:
square 20 x 20 px, ellipse 26 x 14 px (semi-axes 13 and 7, horizontal), heart 20 x 17 px (two disc lobes
with a notch on top, each joined by its tangent lines to a point at the bottom, ≈222 px). Coordinates
are pixel indices (pixel j's centre at j), so the centre runs 15.5 → 47.5, symmetric about the image
centre 31.5. Every change here changes every image.
"""

from __future__ import annotations

import functools

import numpy as np

from vae.dsprites.factors import FACTOR_SIZES, IMAGE_SIZE, factor_values, latents_for

CENTRE_FIRST = 15.5
"""Sprite centre (row or column, pixel-index coordinates) at posX/posY = 0."""
CENTRE_LAST = 47.5
"""Sprite centre at posX/posY = 1; the 32 positions are evenly spaced in between (32/31 px apart)."""

SQUARE_HALF_SIDE = 10.0  # px at scale 1: 20 x 20
ELLIPSE_SEMI_AXES = (13.0, 7.0)  # px at scale 1 (along u, along v): 26 x 14, horizontal at orientation 0
# Heart at scale 1 (u right, v up, centred on its bounding box): two lobes, discs of radius LOBE_RADIUS
# centred at (±LOBE_X, HEART_HALF_HEIGHT - LOBE_RADIUS), each with the triangle its two tangent lines make
# with the point (0, -HEART_HALF_HEIGHT). LOBE_RADIUS + LOBE_X = 10 gives the 20 px width; the lobes
# overlap, leaving a notch of LOBE_RADIUS - sqrt(LOBE_RADIUS² - LOBE_X²) = 3.2 px on top; the radius sets
# the area (≈222 px²).
LOBE_RADIUS = 5.2
LOBE_X = 10.0 - LOBE_RADIUS
HEART_HALF_HEIGHT = 8.45  # 16.9 px: 17 rows, and no pixel centre ever exactly on the tip or a lobe top

_N_POS = FACTOR_SIZES[4]


def sprite_centres() -> np.ndarray:
    """(32,) sprite centre in pixels for each posX (column) or posY (row) class."""
    return np.linspace(CENTRE_FIRST, CENTRE_LAST, _N_POS)


def orientation_angles() -> np.ndarray:
    """(40,) counter-clockwise angles of the orientation classes; the last (2π) is drawn as 0, exactly."""
    angles = factor_values()[3]
    angles[-1] = 0.0
    return angles


# --- step 1: row intervals of convex pieces, in the screen frame (x right, y up, about the centre) ----


def _rotate(u: np.ndarray, v: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shape-frame points turned counter-clockwise on screen (y up) by the angle of (cos, sin)."""
    return cos * u - sin * v, sin * u + cos * v


def _polygon_rows(xs: list[np.ndarray], ys: list[np.ndarray], y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[lo, hi] of x inside a convex polygon (vertices counter-clockwise) on the horizontal line at y."""
    lo, hi = np.full(y.shape, -np.inf), np.full(y.shape, np.inf)
    for k in range(len(xs)):
        px, py, qx, qy = xs[k], ys[k], xs[(k + 1) % len(xs)], ys[(k + 1) % len(ys)]
        ex, ey = qx - px, qy - py
        # inside = left of the edge: ex·(y - py) - ey·(x - px) >= 0, i.e. ey·x <= ex·(y - py) + ey·px
        rhs = ex * (y - py) + ey * px
        with np.errstate(divide="ignore", invalid="ignore"):
            bound = rhs / ey
        lo = np.where(ey < 0, np.maximum(lo, bound), lo)
        hi = np.where(ey > 0, np.minimum(hi, bound), hi)
        outside = (ey == 0) & (rhs < 0)  # a horizontal edge with the line on its outer side
        lo, hi = np.where(outside, np.inf, lo), np.where(outside, -np.inf, hi)
    empty = lo > hi  # as (inf, -inf), so a hull with another piece ignores it
    return np.where(empty, np.inf, lo), np.where(empty, -np.inf, hi)


def _disc_rows(cx: np.ndarray, cy: np.ndarray, radius: float, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    half = np.sqrt(np.maximum(radius**2 - (y - cy) ** 2, 0.0))
    inside = np.abs(y - cy) <= radius
    return np.where(inside, cx - half, np.inf), np.where(inside, cx + half, -np.inf)


def _hull(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Row interval of the union of two pieces whose union is convex (empty = lo > hi)."""
    return np.minimum(a[0], b[0]), np.maximum(a[1], b[1])


def _square_rows(scale, cos, sin, y):
    h = SQUARE_HALF_SIDE * scale
    corners = [(h, h), (-h, h), (-h, -h), (h, -h)]  # counter-clockwise
    turned = [_rotate(u, v, cos, sin) for u, v in corners]
    return [_polygon_rows([t[0] for t in turned], [t[1] for t in turned], y)]


def _ellipse_rows(scale, cos, sin, y):
    a, b = ELLIPSE_SEMI_AXES[0] * scale, ELLIPSE_SEMI_AXES[1] * scale
    # (u/a)² + (v/b)² <= 1 with u = cos·x + sin·y, v = -sin·x + cos·y: A x² + B x + C <= 0
    qa = cos**2 / a**2 + sin**2 / b**2
    qb = 2.0 * cos * sin * y * (1.0 / a**2 - 1.0 / b**2)
    qc = (sin * y / a) ** 2 + (cos * y / b) ** 2 - 1.0
    disc = qb**2 - 4.0 * qa * qc
    root = np.sqrt(np.maximum(disc, 0.0))
    inside = disc >= 0
    return [(np.where(inside, (-qb - root) / (2 * qa), np.inf), np.where(inside, (-qb + root) / (2 * qa), -np.inf))]


def _lobe_geometry(side: float) -> tuple[tuple[float, float], list[tuple[float, float]]]:
    """Scale-1 shape-frame disc centre and tangent triangle (apex, tangent points; counter-clockwise)."""
    centre = np.array([side * LOBE_X, HEART_HALF_HEIGHT - LOBE_RADIUS])
    apex = np.array([0.0, -HEART_HALF_HEIGHT])
    axis = centre - apex
    length = float(np.hypot(*axis))
    half_angle = np.arcsin(LOBE_RADIUS / length)
    tangent = np.sqrt(length**2 - LOBE_RADIUS**2)
    points = []
    for turn in (-half_angle, half_angle):  # clockwise of the axis first: counter-clockwise order
        c, s = np.cos(turn), np.sin(turn)
        direction = np.array([c * axis[0] - s * axis[1], s * axis[0] + c * axis[1]]) / length
        points.append(tuple(apex + tangent * direction))
    return (float(centre[0]), float(centre[1])), [tuple(apex), *points]


def _heart_rows(scale, cos, sin, y):
    lobes = []
    for side in (-1.0, 1.0):
        (cu, cv), triangle = _lobe_geometry(side)
        dx, dy = _rotate(cu * scale, cv * scale, cos, sin)
        turned = [_rotate(u * scale, v * scale, cos, sin) for u, v in triangle]
        tri = _polygon_rows([t[0] for t in turned], [t[1] for t in turned], y)
        lobes.append(_hull(_disc_rows(dx, dy, LOBE_RADIUS * scale, y), tri))
    return lobes


_SHAPE_ROWS = (_square_rows, _ellipse_rows, _heart_rows)


@functools.lru_cache(maxsize=1)
def _row_intervals() -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Per shape: (lo, hi) of x relative to the sprite centre, each (pieces, 6 scales, 40 orientations,
    32 posY, 64 rows); a pixel in that row is on iff lo <= x <= hi for some piece. Drawn once."""
    scales = factor_values()[2][:, None, None, None]
    angles = orientation_angles()[None, :, None, None]
    y = sprite_centres()[None, None, :, None] - np.arange(IMAGE_SIZE)[None, None, None, :]  # rows go down
    cos, sin = np.cos(angles), np.sin(angles)
    full = (len(factor_values()[2]), len(orientation_angles()), _N_POS, IMAGE_SIZE)
    out = []
    for rows in _SHAPE_ROWS:
        pieces = rows(scales, cos, sin, y)
        lo = np.stack([np.broadcast_to(p[0], full) for p in pieces])
        hi = np.stack([np.broadcast_to(p[1], full) for p in pieces])
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
    """Row of _runs() holding the on pixels j of each row: cx + lo <= j <= cx + hi (centres inside)."""
    first = np.clip(np.ceil(cx + lo), 0, IMAGE_SIZE)
    stop = np.clip(np.floor(cx + hi) + 1, 0, IMAGE_SIZE)
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
        else:  # the heart's second lobe
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
