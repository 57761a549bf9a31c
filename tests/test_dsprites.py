"""dSprites: the factor grid, the renderer, and the original-format npz reader/writer."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from vae import dsprites as ds
from vae.dsprites import (
    FACTOR_NAMES,
    FACTOR_SIZES,
    IMAGE_SIZE,
    N_IMAGES,
    DatasetError,
    copy_dsprites,
    factor_values,
    latents_for,
    load_dsprites_packed,
    render_images,
    subsample_indices,
    validate_dsprites,
    write_dsprites,
)


def flat(color: int = 0, shape: int = 0, scale: int = 0, orient: int = 0, x: int = 0, y: int = 0) -> int:
    return int(np.ravel_multi_index((color, shape, scale, orient, x, y), FACTOR_SIZES))


def grid_indices(**fixed: object) -> np.ndarray:
    """Flat indices of every combination of the given class lists (ints or ranges) per factor."""
    axes = [np.atleast_1d(np.asarray(fixed.get(name, range(size)))) for name, size in
            zip(("color", "shape", "scale", "orient", "x", "y"), FACTOR_SIZES)]
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.ravel_multi_index(tuple(m.ravel() for m in mesh), FACTOR_SIZES).astype(np.int64)


def centroid(imgs: np.ndarray) -> np.ndarray:
    """(n, 2) mean (row, col) of the on pixels."""
    rows, cols = np.indices((IMAGE_SIZE, IMAGE_SIZE))
    area = imgs.sum(axis=(1, 2)).astype(float)
    return np.stack([(imgs * rows).sum(axis=(1, 2)) / area, (imgs * cols).sum(axis=(1, 2)) / area], axis=1)


def assert_one_line_about(exc: pytest.ExceptionInfo, path: Path, *fragments: str) -> None:
    msg = str(exc.value)
    assert "\n" not in msg, msg
    assert msg.startswith(f"{path}: "), msg
    for fragment in fragments:
        assert fragment in msg, msg


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- factor grid ------------------------------------------------------------------------------------


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
    strides = np.array([int(np.prod(FACTOR_SIZES[f + 1:])) for f in range(len(FACTOR_SIZES))])
    assert (np.bincount(classes @ strides, minlength=N_IMAGES) == 1).all()  # each combination once
    assert ((classes >= 0) & (classes < np.array(FACTOR_SIZES))).all()
    for f, grid in enumerate(factor_values()):
        np.testing.assert_array_equal(values[:, f], grid[classes[:, f]])


@pytest.mark.parametrize("bad", [np.array([-1]), np.array([N_IMAGES]), np.array([[1, 2]]), np.array([0.5])])
def test_latents_for_rejects_bad_indices(bad: np.ndarray) -> None:
    with pytest.raises(ValueError):
        latents_for(bad)


# --- rendering --------------------------------------------------------------------------------------


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


# --- writing and reading ----------------------------------------------------------------------------


def test_write_then_np_load_and_packed_roundtrip(tmp_path: Path) -> None:
    idx = subsample_indices(N_IMAGES, 3000, seed=0)
    path = tmp_path / "data" / "sub.npz"
    assert write_dsprites(path, idx, chunk=1024) == 3000
    expected = render_images(idx)
    classes, values = latents_for(idx)
    with np.load(path) as z:
        assert sorted(z.files) == ["imgs", "latents_classes", "latents_values"]
        np.testing.assert_array_equal(z["imgs"], expected)
        assert z["imgs"].dtype == np.uint8
        np.testing.assert_array_equal(z["latents_classes"], classes)
        np.testing.assert_array_equal(z["latents_values"], values)
        assert z["latents_classes"].dtype == np.int64 and z["latents_values"].dtype == np.float64
    packed, loaded_classes = load_dsprites_packed(path)
    assert packed.shape == (3000, 512) and packed.dtype == np.uint8
    np.testing.assert_array_equal(packed, np.packbits(expected.reshape(3000, -1), axis=1))
    np.testing.assert_array_equal(np.unpackbits(packed, axis=1).reshape(-1, 64, 64), expected)
    np.testing.assert_array_equal(loaded_classes, classes)
    assert validate_dsprites(path) == 3000
    assert leftovers(path.parent) == ["sub.npz"]  # no temp files left behind


def test_write_is_deterministic_and_chunking_invariant(tmp_path: Path) -> None:
    idx = subsample_indices(N_IMAGES, 700, seed=5)
    write_dsprites(tmp_path / "a.npz", idx, chunk=100)
    write_dsprites(tmp_path / "b.npz", idx, chunk=700)
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()


def test_write_rejects_bad_indices_and_writes_nothing(tmp_path: Path) -> None:
    for bad in (np.array([5, 3]), np.array([3, 3]), np.array([N_IMAGES])):
        with pytest.raises(ValueError):
            write_dsprites(tmp_path / "x.npz", bad)
    with pytest.raises(ValueError):
        write_dsprites(tmp_path / "x.npz", np.arange(3), chunk=0)
    assert leftovers(tmp_path) == []


def test_write_failure_midway_leaves_old_file_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "d.npz"
    path.write_bytes(b"previous")
    real = ds.render_images
    calls = []

    def flaky(indices: np.ndarray) -> np.ndarray:
        calls.append(len(indices))
        if len(calls) == 3:
            raise RuntimeError("boom")
        return real(indices)

    monkeypatch.setattr(ds, "render_images", flaky)
    with pytest.raises(RuntimeError, match="boom"):
        write_dsprites(path, np.arange(1000), chunk=100)
    assert path.read_bytes() == b"previous"
    assert leftovers(tmp_path) == ["d.npz"]


def test_empty_subset(tmp_path: Path) -> None:
    path = tmp_path / "empty.npz"
    assert write_dsprites(path, np.array([], dtype=np.int64)) == 0
    assert validate_dsprites(path) == 0
    packed, classes = load_dsprites_packed(path)
    assert packed.shape == (0, 512) and classes.shape == (0, 6)


def fake_original(path: Path, idx: np.ndarray, **override: np.ndarray) -> None:
    """An npz laid out like DeepMind's file (np.savez_compressed, plus a pickled metadata member)."""
    classes, values = latents_for(idx)
    arrays = {"imgs": render_images(idx), "latents_classes": classes, "latents_values": values,
              "metadata": np.array({"description": "pickled; must never be loaded"}, dtype=object)}
    arrays.update(override)
    np.savez_compressed(path, **{k: v for k, v in arrays.items() if v is not None})


def test_copy_from_original_layout_with_rows(tmp_path: Path) -> None:
    idx = subsample_indices(N_IMAGES, 2000, seed=1)
    source = tmp_path / "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
    fake_original(source, idx)
    assert validate_dsprites(source) == 2000
    rows = np.array([0, 1, 17, 999, 1000, 1999])
    dest = tmp_path / "out" / "copy.npz"
    assert copy_dsprites(source, dest, rows) == len(rows)
    with np.load(dest) as z:
        assert sorted(z.files) == ["imgs", "latents_classes", "latents_values"]  # metadata dropped
        np.testing.assert_array_equal(z["imgs"], render_images(idx[rows]))
        np.testing.assert_array_equal(z["latents_classes"], latents_for(idx[rows])[0])
        np.testing.assert_array_equal(z["latents_values"], latents_for(idx[rows])[1])
    assert copy_dsprites(source, tmp_path / "all.npz") == 2000
    packed, classes = load_dsprites_packed(tmp_path / "all.npz")
    np.testing.assert_array_equal(np.unpackbits(packed, axis=1).reshape(-1, 64, 64), render_images(idx))
    np.testing.assert_array_equal(classes, latents_for(idx)[0])
    with pytest.raises(ValueError):
        copy_dsprites(source, tmp_path / "bad.npz", np.array([3, 2]))
    with pytest.raises(ValueError):
        copy_dsprites(source, tmp_path / "bad.npz", np.array([2000]))
    assert not (tmp_path / "bad.npz").exists()


# --- rejecting bad files ----------------------------------------------------------------------------

IDX = np.arange(100, 160)


def bad_imgs_nonbinary() -> np.ndarray:
    imgs = render_images(IDX)
    imgs[37, 10, 10] = 255
    return imgs


BAD_FILES = {
    "bad dtype": ({"imgs": render_images(IDX).astype(np.float32)}, ["key 'imgs' has dtype float32, expected uint8"]),
    "missing key": ({"latents_values": None}, ["missing key 'latents_values'"]),
    "non-binary": ({"imgs": bad_imgs_nonbinary}, ["key 'imgs' row 37", "255"]),
    "bad shape": ({"imgs": render_images(IDX)[:, :32]}, ["key 'imgs' has shape (60, 32, 64)"]),
    "row mismatch": ({"imgs": render_images(IDX[:50])}, ["key 'imgs' has 50 rows", "60"]),
    "classes dtype": ({"latents_classes": latents_for(IDX)[0].astype(np.int32)},
                      ["key 'latents_classes' has dtype int32, expected int64"]),
    "class out of range": ({"latents_classes": latents_for(IDX)[0] + np.array([0, 0, 0, 0, 0, 32])},
                           ["latents_classes", "posY class"]),
    "values inconsistent": ({"latents_values": latents_for(IDX)[1] * np.array([1, 1, 1.5, 1, 1, 1])},
                            ["latents_values", "scale"]),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_files_are_rejected_with_one_line_and_nothing_written(tmp_path: Path, case: str) -> None:
    override, fragments = BAD_FILES[case]
    override = {k: v() if callable(v) else v for k, v in override.items()}
    src = tmp_path / "x.npz"
    fake_original(src, IDX, **override)
    for fn in (validate_dsprites, load_dsprites_packed):
        with pytest.raises(DatasetError) as exc:
            fn(src)
        assert_one_line_about(exc, src, *fragments)
    dest_dir = tmp_path / "dest"
    dest_dir.mkdir()
    keep = dest_dir / "keep.npz"
    keep.write_bytes(b"old")
    for dest in (dest_dir / "new.npz", keep):
        with pytest.raises(DatasetError) as exc:
            copy_dsprites(src, dest)
        assert_one_line_about(exc, src, *fragments)
    assert leftovers(dest_dir) == ["keep.npz"] and keep.read_bytes() == b"old"


def test_exact_message_for_bad_dtype(tmp_path: Path) -> None:
    src = tmp_path / "x.npz"
    fake_original(src, IDX, imgs=render_images(IDX).astype(np.float32))
    with pytest.raises(DatasetError) as exc:
        validate_dsprites(src)
    assert str(exc.value) == f"{src}: key 'imgs' has dtype float32, expected uint8"


def test_missing_and_non_npz_files(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as exc:
        validate_dsprites(tmp_path / "nope.npz")
    assert_one_line_about(exc, tmp_path / "nope.npz", "not found")
    text = tmp_path / "text.npz"
    text.write_text("hello\nworld\n")
    for fn in (validate_dsprites, load_dsprites_packed):
        with pytest.raises(DatasetError) as exc:
            fn(text)
        assert_one_line_about(exc, text, "not an npz")
    npy = tmp_path / "plain.npy"
    np.save(npy, np.zeros(3))
    with pytest.raises(DatasetError) as exc:
        validate_dsprites(npy)
    assert_one_line_about(exc, npy, "not an npz")


def test_corrupt_member_is_caught(tmp_path: Path) -> None:
    src = tmp_path / "stored.npz"
    classes, values = latents_for(IDX)
    np.savez(src, imgs=render_images(IDX), latents_classes=classes, latents_values=values)  # uncompressed
    data = bytearray(src.read_bytes())
    with zipfile.ZipFile(src) as zf:
        info = zf.getinfo("imgs.npy")
    # Flip a 0 to a 1 deep inside the imgs data: still binary, so only the CRC can notice.
    name_len = int.from_bytes(data[info.header_offset + 26:info.header_offset + 28], "little")
    extra_len = int.from_bytes(data[info.header_offset + 28:info.header_offset + 30], "little")
    start = info.header_offset + 30 + name_len + extra_len + 128 + 4096 * 30
    assert data[start] == 0
    data[start] = 1
    src.write_bytes(bytes(data))
    with pytest.raises(DatasetError) as exc:
        validate_dsprites(src)
    assert_one_line_about(exc, src, "imgs")
    with pytest.raises(DatasetError):
        copy_dsprites(src, tmp_path / "out.npz", np.array([0]))
    assert not (tmp_path / "out.npz").exists()


# --- subsampling ------------------------------------------------------------------------------------


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


# --- the full dataset (the one slow test: ~7 s) -----------------------------------------------------


def test_full_dataset_write_and_packed_load(tmp_path: Path) -> None:
    path = tmp_path / "dsprites.npz"
    assert write_dsprites(path) == N_IMAGES  # speed is measured by the benchmark, not asserted here
    assert os.path.getsize(path) <= 30e6
    with zipfile.ZipFile(path) as zf:
        assert [i.filename for i in zf.infolist()] == ["imgs.npy", "latents_classes.npy", "latents_values.npy"]
        assert zf.getinfo("imgs.npy").file_size == 4096 * N_IMAGES + 128
    packed, classes = load_dsprites_packed(path)  # validates every image and the CRCs on the way
    assert packed.shape == (N_IMAGES, 512)
    np.testing.assert_array_equal(classes, np.indices(FACTOR_SIZES).reshape(6, -1).T)
    probe = subsample_indices(N_IMAGES, 2000, seed=11)
    np.testing.assert_array_equal(np.unpackbits(packed[probe], axis=1).reshape(-1, 64, 64), render_images(probe))
