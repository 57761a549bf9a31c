"""dSprites factor grid: constants, value grids, flat index ↔ classes, subsampling."""

from __future__ import annotations

import numpy as np
import pytest

from vae.dsprites import (
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


def test_constants() -> None:
    assert FACTOR_NAMES == ("color", "shape", "scale", "orientation", "posX", "posY")
    assert FACTOR_SIZES == (1, 3, 6, 40, 32, 32)
    assert N_IMAGES == int(np.prod(FACTOR_SIZES)) == 737_280
    assert IMAGE_SIZE == 64


def test_factor_values_match_the_original_file() -> None:
    vals = factor_values()
    assert [len(v) for v in vals] == list(FACTOR_SIZES)
    np.testing.assert_array_equal(vals[0], [1.0])
    np.testing.assert_array_equal(vals[1], [1.0, 2.0, 3.0])
    np.testing.assert_allclose(vals[2], [0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    assert vals[3][0] == 0.0 and vals[3][-1] == pytest.approx(2 * np.pi) and len(vals[3]) == 40
    for v in vals[4:]:
        assert v[0] == 0.0 and v[-1] == 1.0 and np.all(np.diff(v) > 0)
    vals[2][:] = -1  # callers get copies
    assert factor_values()[2][0] == 0.5


def test_full_grid_is_every_combination_once_in_c_order() -> None:
    classes, values = latents_for(np.arange(N_IMAGES))
    assert classes.dtype == np.int64 and values.dtype == np.float64
    assert classes.shape == values.shape == (N_IMAGES, 6)
    expected = np.indices(FACTOR_SIZES).reshape(len(FACTOR_SIZES), -1).T
    np.testing.assert_array_equal(classes, expected)  # C order: posY fastest
    assert classes[1].tolist() == [0, 0, 0, 0, 0, 1] and classes[32].tolist() == [0, 0, 0, 0, 1, 0]
    strides = np.array([int(np.prod(FACTOR_SIZES[f + 1 :])) for f in range(len(FACTOR_SIZES))])
    assert (np.bincount(classes @ strides, minlength=N_IMAGES) == 1).all()  # each combination once
    assert ((classes >= 0) & (classes < np.array(FACTOR_SIZES))).all()
    for f, grid in enumerate(factor_values()):
        np.testing.assert_array_equal(values[:, f], grid[classes[:, f]])


@pytest.mark.parametrize("bad", [np.array([-1]), np.array([N_IMAGES]), np.array([[1, 2]]), np.array([0.5])])
def test_latents_for_rejects_bad_indices(bad: np.ndarray) -> None:
    with pytest.raises(ValueError):
        latents_for(bad)


def test_factor_space_index_is_the_inverse_of_classes() -> None:
    idx = subsample_indices(N_IMAGES, 1000, seed=2)
    classes = SPACE.classes_of(idx)
    np.testing.assert_array_equal(SPACE.index_of(classes), idx)
    np.testing.assert_array_equal(SPACE.index_of(classes[0]), idx[:1])
    np.testing.assert_array_equal(SPACE.values_of(classes), latents_for(idx)[1])
    small = FactorSpace(("a", "b"), [np.arange(2.0), np.arange(3.0)])
    assert small.sizes == (2, 3) and small.n == 6
    np.testing.assert_array_equal(small.classes_of(np.arange(6)), [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2]])
    with pytest.raises(ValueError):
        FactorSpace(("a",), [np.arange(2.0), np.arange(3.0)])


def test_subsample_indices() -> None:
    a = subsample_indices(N_IMAGES, 1000, seed=7)
    assert a.dtype == np.int64 and a.shape == (1000,)
    assert (np.diff(a) > 0).all() and a.min() >= 0 and a.max() < N_IMAGES
    np.testing.assert_array_equal(a, subsample_indices(N_IMAGES, 1000, seed=7))
    assert not np.array_equal(a, subsample_indices(N_IMAGES, 1000, seed=8))
    assert a.max() > N_IMAGES // 2  # spread over the grid, not a prefix
    np.testing.assert_array_equal(subsample_indices(10, None, seed=0), np.arange(10))
    np.testing.assert_array_equal(subsample_indices(10, 10, seed=0), np.arange(10))
    assert subsample_indices(10, 0, seed=0).shape == (0,)
    for bad in (-1, 11):
        with pytest.raises(ValueError):
            subsample_indices(10, bad, seed=0)
