"""dSprites rendering: shapes, sizes, positions and rotation of the drawn sprites."""

from __future__ import annotations

import numpy as np

from vae.dsprites import FACTOR_SIZES, IMAGE_SIZE, N_IMAGES, render_images, subsample_indices


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


def test_render_shapes_dtype_binary_and_order() -> None:
    idx = subsample_indices(N_IMAGES, 500, seed=3)
    imgs = render_images(idx)
    assert imgs.shape == (500, 64, 64) and imgs.dtype == np.uint8 and imgs.flags.c_contiguous
    assert set(np.unique(imgs)) <= {0, 1}
    assert imgs.reshape(500, -1).sum(axis=1).min() > 0  # no empty images
    np.testing.assert_array_equal(render_images(idx[::-1]), imgs[::-1])
    np.testing.assert_array_equal(render_images(idx[[7, 7]]), imgs[[7, 7]])
    assert render_images(np.array([], dtype=np.int64)).shape == (0, 64, 64)


def test_every_sprite_fits_inside_the_image_unclipped() -> None:
    # All 720 base sprites at the four extreme corners: no pixel on the border, same area everywhere.
    idx = grid_indices(x=[0, 31], y=[0, 31])
    imgs = render_images(idx).reshape(3 * 6 * 40, 4, 64, 64)
    for border in (imgs[..., 0, :], imgs[..., -1, :], imgs[..., :, 0], imgs[..., :, -1]):
        assert not border.any()
    area = imgs.sum(axis=(2, 3))
    assert (area == area[:, :1]).all()
    centre_area = render_images(grid_indices(x=16, y=16)).sum(axis=(1, 2))
    np.testing.assert_array_equal(centre_area, area[:, 0])


def test_area_grows_with_scale_for_every_shape_and_orientation() -> None:
    area = render_images(grid_indices(x=16, y=16)).sum(axis=(1, 2)).reshape(3, 6, 40)
    assert (np.diff(area, axis=1) > 0).all()
    assert area.min() >= 30  # even the smallest sprite is clearly visible


def test_centroid_moves_with_posx_along_columns_and_posy_along_rows() -> None:
    for shape, scale, orient in [(0, 0, 0), (1, 3, 7), (2, 5, 33)]:
        along_x = centroid(render_images(grid_indices(shape=shape, scale=scale, orient=orient, y=5)))
        assert (np.diff(along_x[:, 1]) > 0).all()  # columns increase with posX
        np.testing.assert_allclose(along_x[:, 0], along_x[0, 0])  # rows stay put
        along_y = centroid(render_images(grid_indices(shape=shape, scale=scale, orient=orient, x=20)))
        assert (np.diff(along_y[:, 0]) > 0).all()  # rows increase with posY
        np.testing.assert_allclose(along_y[:, 1], along_y[0, 1])
        span = along_x[-1, 1] - along_x[0, 1]
        assert span > 30  # positions use most of the image


def test_shapes_look_like_square_ellipse_heart() -> None:
    square, ellipse, heart = render_images(np.array([flat(shape=s, scale=5, x=16, y=16) for s in range(3)]))

    def bbox(img: np.ndarray) -> tuple[int, int, int, int]:
        rows, cols = np.flatnonzero(img.any(axis=1)), np.flatnonzero(img.any(axis=0))
        return rows[0], rows[-1] + 1, cols[0], cols[-1] + 1

    r0, r1, c0, c1 = bbox(square)  # unrotated square: a filled axis-aligned square
    assert square[r0:r1, c0:c1].all() and abs((r1 - r0) - (c1 - c0)) <= 1 and square.sum() == (r1 - r0) * (c1 - c0)
    r0, r1, c0, c1 = bbox(ellipse)  # an elongated oval, not filling its box
    assert (c1 - c0) >= 1.6 * (r1 - r0) and ellipse.sum() < 0.85 * (r1 - r0) * (c1 - c0)
    r0, r1, c0, c1 = bbox(heart)  # mirror-symmetric, two lobes with a notch on top, a point at the bottom
    box = heart[r0:r1, c0:c1]
    np.testing.assert_array_equal(box, box[:, ::-1])
    widths = heart[r0:r1].sum(axis=1)
    assert widths[-1] <= 3 and widths[: (r1 - r0) // 2].max() > 0.8 * (c1 - c0)
    top = heart[r0]
    middle = (c0 + c1 - 1) / 2
    assert top[int(np.floor(middle))] == 0 and top.sum() > 0  # the notch between the lobes


def test_orientation_rotates_about_the_centre() -> None:
    idx = grid_indices(shape=[1, 2], scale=4, x=16, y=16)
    imgs = render_images(idx)
    cents = centroid(imgs).reshape(2, 40, 2)
    assert np.ptp(cents, axis=1).max() < 3.0  # rotation stays near the same spot
    area = imgs.sum(axis=(1, 2)).reshape(2, 40)
    assert (area.max(axis=1) - area.min(axis=1) < 0.15 * area.mean(axis=1)).all()
    np.testing.assert_array_equal(imgs[0], imgs[39])  # 0 and 2*pi are the same angle
    assert not np.array_equal(imgs[0], imgs[10])  # a quarter turn changes an ellipse
