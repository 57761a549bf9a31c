"""dSprites rendering held to DeepMind's figures, not only to itself (pixel for pixel against their own
frames: tests/vae/test_dsprites_reference.py).

Figures at orientation 0, as DeepMind's frames show them: square of side 19.2 px at scale 1 (20 x 20 = 400
pixels at posX = posY = 0, 19 or 20 columns elsewhere by the centre's sub-pixel phase) and 9.6 at scale 0.5;
ellipse 26 x 14 (288 px, horizontal); heart 19-20 x 17-19 (its thin tip, ≈224 px, upright); area order
square > ellipse > heart; centre 15.5 → 47.5 px over posX/posY 0 → 1 in 31 even steps; counter-clockwise
rotation; 0 and 2π alike; square 38 of 40 orientations distinct at scale 1.
"""

from __future__ import annotations

import numpy as np
import pytest

from vae.dsprites import FACTOR_SIZES, IMAGE_SIZE, N_IMAGES, factor_values, render_images, subsample_indices
from vae.dsprites import render as render_module

PUBLISHED = {  # shape: (rows, cols, area) at scale 1, orientation 0, averaged over positions
    0: (19.2, 19.2, 19.2**2),
    1: (2 * 7.22, 2 * 12.78, 288.0),  # 14 x 26 px at posX = posY = 0 in DeepMind's frames
    2: (18.5, 19.5, 224.0),  # DeepMind's frames: 17-19 rows (the thin tip), 19-20 columns, 224 px on average
}
SCALES = factor_values()[2]
CENTRES = 15.5 + np.arange(32) * 32.0 / 31.0  # DeepMind's sprite centres, px (pixel j's centre at j)
ANGLES = factor_values()[3]


def flat(color: int = 0, shape: int = 0, scale: int = 0, orient: int = 0, x: int = 0, y: int = 0) -> int:
    return int(np.ravel_multi_index((color, shape, scale, orient, x, y), FACTOR_SIZES))


def grid_indices(**fixed: object) -> np.ndarray:
    """Flat indices of every combination of the given class lists (ints or ranges) per factor."""
    axes = [
        np.atleast_1d(np.asarray(fixed.get(name, range(size))))
        for name, size in zip(("color", "shape", "scale", "orient", "x", "y"), FACTOR_SIZES)
    ]
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.ravel_multi_index(tuple(m.ravel() for m in mesh), FACTOR_SIZES).astype(np.int64)


def centroid(imgs: np.ndarray) -> np.ndarray:
    """(n, 2) mean (row, col) of the on pixels."""
    rows, cols = np.indices((IMAGE_SIZE, IMAGE_SIZE))
    area = imgs.sum(axis=(1, 2)).astype(float)
    return np.stack([(imgs * rows).sum(axis=(1, 2)) / area, (imgs * cols).sum(axis=(1, 2)) / area], axis=1)


def bbox_size(img: np.ndarray) -> tuple[int, int]:
    rows, cols = np.flatnonzero(img.any(axis=1)), np.flatnonzero(img.any(axis=0))
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


def test_render_shapes_dtype_binary_and_order() -> None:
    idx = subsample_indices(N_IMAGES, 500, seed=3)
    imgs = render_images(idx)
    assert imgs.shape == (500, 64, 64) and imgs.dtype == np.uint8 and imgs.flags.c_contiguous
    assert set(np.unique(imgs)) <= {0, 1}
    assert imgs.reshape(500, -1).sum(axis=1).min() > 0  # no empty images
    np.testing.assert_array_equal(render_images(idx[::-1]), imgs[::-1])
    np.testing.assert_array_equal(render_images(idx[[7, 7]]), imgs[[7, 7]])
    assert render_images(np.array([], dtype=np.int64)).shape == (0, 64, 64)


@pytest.mark.parametrize("shape", [0, 1, 2])
@pytest.mark.parametrize("scale", range(6))
def test_bounding_boxes_and_areas_match_deepmind_at_orientation_0(shape: int, scale: int) -> None:
    rows, cols, area = PUBLISHED[shape]
    s = SCALES[scale]
    imgs = render_images(grid_indices(shape=shape, scale=scale, orient=0, x=range(0, 32, 3), y=range(0, 32, 3)))
    sizes = np.array([bbox_size(img) for img in imgs])
    # The square within a pixel of its side; the ellipse's ends and the heart's thin tip reach their
    # extent only between rows or columns of pixel centres, so those within 1.5.
    slack = 1.0 if shape == 0 else 1.5
    assert np.abs(sizes[:, 0] - rows * s).max() <= slack, (shape, s, np.unique(sizes[:, 0]))
    assert np.abs(sizes[:, 1] - cols * s).max() <= slack, (shape, s, np.unique(sizes[:, 1]))
    mean_area = imgs.sum(axis=(1, 2)).mean()
    assert abs(mean_area - area * s**2) <= 0.05 * area * s**2, (shape, s, mean_area)


def test_square_is_20_and_10_pixels_wide_at_the_first_position_and_19_2_and_9_6_px_everywhere() -> None:
    # DeepMind's frames: 20 x 20 and 10 x 10 at posX = posY = 0 (centre 15.5, edges at 5.9 and 25.1)
    assert render_images(np.array([flat(shape=0, scale=5)])).sum() == 400
    assert render_images(np.array([flat(shape=0, scale=0)])).sum() == 100
    for scale, side in ((5, 19.2), (0, 9.6)):
        imgs = render_images(grid_indices(shape=0, scale=scale, orient=0))
        cols = np.ceil(CENTRES + side / 2) - np.ceil(CENTRES - side / 2)  # centres in [c - side/2, c + side/2)
        expected = (cols[:, None] * cols[None, :]).reshape(-1)  # posX, then posY
        np.testing.assert_array_equal(imgs.sum(axis=(1, 2)), expected)


def test_area_order_square_ellipse_heart_at_every_scale() -> None:
    area = render_images(grid_indices(orient=0, x=range(0, 32, 5), y=range(0, 32, 5))).sum(axis=(1, 2))
    area = area.reshape(3, 6, -1).mean(axis=2)
    assert (area[0] > area[1]).all() and (area[1] > area[2]).all()


def test_square_edges_follow_deepminds_centres_in_even_sub_pixel_steps() -> None:
    # A pixel is on iff its centre is inside: the 19.2 px square with centre c covers columns
    # ceil(c - 9.6) .. ceil(c + 9.6) - 1, which pins c to DeepMind's 15.5 + 32 i / 31 for every posX / posY.
    along_x = render_images(grid_indices(shape=0, scale=5, orient=0, y=7))
    cols = np.array([np.flatnonzero(img.any(axis=0))[[0, -1]] for img in along_x])
    np.testing.assert_array_equal(cols[:, 0], np.ceil(CENTRES - 9.6))
    np.testing.assert_array_equal(cols[:, 1], np.ceil(CENTRES + 9.6) - 1)
    along_y = render_images(grid_indices(shape=0, scale=5, orient=0, x=20))
    rows = np.array([np.flatnonzero(img.any(axis=1))[[0, -1]] for img in along_y])
    np.testing.assert_array_equal(rows[:, 0], np.ceil(CENTRES - 9.6))
    # The smaller square's edges follow the same centres, so the steps are sub-pixel, not integer slices.
    small = render_images(grid_indices(shape=0, scale=0, orient=0, y=7))
    np.testing.assert_array_equal([np.flatnonzero(img.any(axis=0))[0] for img in small], np.ceil(CENTRES - 4.8))


def test_centre_moves_evenly_from_15_5_to_47_5() -> None:
    # Averaged over all 40 orientations the ellipse's centroid is its centre, up to pixel quantisation.
    for axis, fixed in ((1, {"y": 9}), (0, {"x": 9})):
        moving = "x" if axis == 1 else "y"
        imgs = render_images(grid_indices(shape=1, scale=5, **fixed, **{moving: range(32)}))
        per_pos = centroid(imgs).reshape(40, 32, 2).mean(axis=0)[:, axis]
        np.testing.assert_allclose(per_pos, CENTRES, atol=0.1)
        steps = np.diff(per_pos)
        np.testing.assert_allclose(steps, 32 / 31, atol=0.15)


def test_every_sprite_stays_off_the_border() -> None:
    imgs = render_images(grid_indices(scale=5, x=[0, 31], y=[0, 31]))
    for border in (imgs[:, 0, :], imgs[:, -1, :], imgs[:, :, 0], imgs[:, :, -1]):
        assert not border.any()


def test_centroid_moves_with_posx_along_columns_and_posy_along_rows() -> None:
    for shape, scale, orient in [(0, 0, 0), (1, 3, 7), (2, 5, 33)]:
        along_x = centroid(render_images(grid_indices(shape=shape, scale=scale, orient=orient, y=5)))
        assert (np.diff(along_x[:, 1]) > 0).all()  # columns increase with posX
        np.testing.assert_allclose(along_x[:, 0], along_x[0, 0], atol=0.5)  # rows stay (sub-pixel phase aside)
        along_y = centroid(render_images(grid_indices(shape=shape, scale=scale, orient=orient, x=20)))
        assert (np.diff(along_y[:, 0]) > 0).all()  # rows increase with posY
        np.testing.assert_allclose(along_y[:, 1], along_y[0, 1], atol=0.5)


def test_shapes_look_like_square_ellipse_heart() -> None:
    # posX = posY = 0 puts the centre on a pixel boundary (15.5), so symmetric shapes draw symmetric.
    square, ellipse, heart = render_images(np.array([flat(shape=s, scale=5) for s in range(3)]))
    assert square.sum() == 400 and bbox_size(square) == (20, 20)
    rows, cols = bbox_size(ellipse)
    assert (rows, cols) == (14, 26)  # horizontal
    r = np.flatnonzero(heart.any(axis=1))
    c = np.flatnonzero(heart.any(axis=0))
    box = heart[r[0] : r[-1] + 1, c[0] : c[-1] + 1]
    np.testing.assert_array_equal(box, box[:, ::-1])  # mirror-symmetric
    widths = box.sum(axis=1)
    assert widths[-1] <= 2 and widths[: len(widths) // 2].max() >= box.shape[1] - 1  # point at the bottom
    top = box[0]
    assert top[box.shape[1] // 2] == 0 and top[box.shape[1] // 2 - 1] == 0 and top.sum() > 0  # notch on top


def _orientation_errors(imgs: np.ndarray, angles: np.ndarray, centre: tuple[float, float]) -> np.ndarray:
    """Degrees between each drawn ellipse's long axis (mod 180°) and `angles`, counter-clockwise on screen."""
    rows, cols = np.indices((IMAGE_SIZE, IMAGE_SIZE))
    x = cols - centre[1]
    y = centre[0] - rows  # screen up
    w = imgs.astype(float)
    sxx, syy, sxy = (w * x * x).sum(axis=(1, 2)), (w * y * y).sum(axis=(1, 2)), (w * x * y).sum(axis=(1, 2))
    axis = 0.5 * np.arctan2(2 * sxy, sxx - syy)
    diff = np.rad2deg(axis - angles) % 180.0
    return np.minimum(diff, 180.0 - diff)


def _heart_direction_errors(imgs: np.ndarray, angles: np.ndarray, centre: tuple[float, float]) -> np.ndarray:
    """Degrees between where the heart's lobes point (centroid - centre, screen up) and 90° + angles."""
    cents = centroid(imgs)
    direction = np.arctan2(centre[0] - cents[:, 0], cents[:, 1] - centre[1])
    diff = np.rad2deg(direction - (np.pi / 2 + angles)) % 360.0
    return np.minimum(diff, 360.0 - diff)


def _rotation_check(imgs_ellipse: np.ndarray, imgs_heart: np.ndarray) -> bool:
    centre = (CENTRES[16], CENTRES[16])
    return bool(
        _orientation_errors(imgs_ellipse, ANGLES, centre).max() < 3.0
        and _heart_direction_errors(imgs_heart, ANGLES, centre).max() < 20.0
    )


def _drawn(shape: int) -> np.ndarray:
    return render_images(grid_indices(shape=shape, scale=5, x=16, y=16))


def test_orientation_turns_counter_clockwise_by_the_factor_angle() -> None:
    assert _rotation_check(_drawn(1), _drawn(2))


@pytest.mark.parametrize("wrong", [lambda a: -a, lambda a: 2 * a, lambda a: a + np.pi])
def test_the_orientation_check_rejects_clockwise_doubled_and_flipped_rotation(
    monkeypatch: pytest.MonkeyPatch, wrong
) -> None:
    angles = render_module.orientation_angles()
    monkeypatch.setattr(render_module, "orientation_angles", lambda: wrong(angles))
    render_module._row_intervals.cache_clear()
    try:
        assert not _rotation_check(_drawn(1), _drawn(2))
    finally:
        monkeypatch.undo()
        render_module._row_intervals.cache_clear()


def test_orientations_0_and_39_draw_the_same_image_and_nearly_all_others_differ() -> None:
    imgs = render_images(grid_indices(scale=5, x=16, y=16)).reshape(3, 40, -1)
    for shape in range(3):
        np.testing.assert_array_equal(imgs[shape, 0], imgs[shape, 39])
    distinct = [len(np.unique(imgs[shape], axis=0)) for shape in range(3)]
    assert 33 <= distinct[0] <= 39  # the square repeats every quarter turn, up to its sub-pixel phase
    assert distinct[1:] == [39, 39]
    # DeepMind's frames of the square turning at posX = posY = 0: 38 distinct of 40
    at_origin = render_images(grid_indices(shape=0, scale=5, x=0, y=0)).reshape(40, -1)
    assert len(np.unique(at_origin, axis=0)) == 38
    every = render_images(grid_indices(x=[3, 16], y=[5, 28])).reshape(-1, IMAGE_SIZE * IMAGE_SIZE)
    assert len(np.unique(every, axis=0)) >= 0.93 * len(every)  # nearly all distinct


def _reference(index: int) -> np.ndarray:
    """One image by brute force: the even-odd inside-test of the shape's polygon at every pixel centre
    (no intervals, no tables)."""
    _, shape, scale, orient, px, py = np.unravel_index(index, FACTOR_SIZES)
    s, angle = SCALES[scale], render_module.orientation_angles()[orient]
    u, v = render_module.shape_outline(int(shape))
    x = CENTRES[px] + s * (np.cos(angle) * u - np.sin(angle) * v)  # columns
    y = CENTRES[py] - s * (np.sin(angle) * u + np.cos(angle) * v)  # rows (screen up is row down)
    rows, cols = np.indices((IMAGE_SIZE, IMAGE_SIZE)).astype(float)
    inside = np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=bool)
    for k in range(len(x)):
        x0, y0, x1, y1 = x[k], y[k], x[(k + 1) % len(x)], y[(k + 1) % len(x)]
        if y0 != y1:
            crosses = (y0 > rows) != (y1 > rows)
            inside ^= crosses & (cols < x0 + (rows - y0) * (x1 - x0) / (y1 - y0))
    return inside.astype(np.uint8)


def test_rendering_equals_the_brute_force_inside_test() -> None:
    idx = subsample_indices(N_IMAGES, 300, seed=11)
    imgs = render_images(idx)
    mismatch = [int(i) for i, img in zip(idx, imgs) if not np.array_equal(img, _reference(int(i)))]
    assert not mismatch, mismatch[:5]
