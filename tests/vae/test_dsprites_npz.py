"""dSprites files: the original-format npz writer, reader, validator and copier."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from vae.dsprites import (
    FACTOR_SIZES,
    N_IMAGES,
    DatasetError,
    copy_dsprites,
    latents_for,
    load_dsprites_packed,
    render_images,
    subsample_indices,
    validate_dsprites,
    write_dsprites,
)
from vae.dsprites import npz as npz_module


def assert_one_line_about(exc: pytest.ExceptionInfo, path: Path, *fragments: str) -> None:
    msg = str(exc.value)
    assert "\n" not in msg, msg
    assert msg.startswith(f"{path}: "), msg
    for fragment in fragments:
        assert fragment in msg, msg


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


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
    real = npz_module.render_images  # the name write_dsprites calls
    calls = []

    def flaky(indices: np.ndarray) -> np.ndarray:
        calls.append(len(indices))
        if len(calls) == 3:
            raise RuntimeError("boom")
        return real(indices)

    monkeypatch.setattr(npz_module, "render_images", flaky)
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
    arrays = {
        "imgs": render_images(idx),
        "latents_classes": classes,
        "latents_values": values,
        "metadata": np.array({"description": "pickled; must never be loaded"}, dtype=object),
    }
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
    "classes dtype": (
        {"latents_classes": latents_for(IDX)[0].astype(np.int32)},
        ["key 'latents_classes' has dtype int32, expected int64"],
    ),
    "class out of range": (
        {"latents_classes": latents_for(IDX)[0] + np.array([0, 0, 0, 0, 0, 32])},
        ["latents_classes", "posY class"],
    ),
    "values inconsistent": (
        {"latents_values": latents_for(IDX)[1] * np.array([1, 1, 1.5, 1, 1, 1])},
        ["latents_values", "scale"],
    ),
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
    name_len = int.from_bytes(data[info.header_offset + 26 : info.header_offset + 28], "little")
    extra_len = int.from_bytes(data[info.header_offset + 28 : info.header_offset + 30], "little")
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


# --- the full dataset (the one slow test: ~7 s) -----------------------------------------------------


@pytest.mark.slow
def test_full_dataset_write_and_packed_load(tmp_path: Path) -> None:
    path = tmp_path / "dsprites.npz"
    assert write_dsprites(path) == N_IMAGES  # speed is measured by the benchmark, not asserted here
    assert os.path.getsize(path) <= 40e6  # 35 MB: sub-pixel positions compress less than whole-pixel ones
    with zipfile.ZipFile(path) as zf:
        assert [i.filename for i in zf.infolist()] == ["imgs.npy", "latents_classes.npy", "latents_values.npy"]
        assert zf.getinfo("imgs.npy").file_size == 4096 * N_IMAGES + 128
    packed, classes = load_dsprites_packed(path)  # validates every image and the CRCs on the way
    assert packed.shape == (N_IMAGES, 512)
    np.testing.assert_array_equal(classes, np.indices(FACTOR_SIZES).reshape(6, -1).T)
    probe = subsample_indices(N_IMAGES, 2000, seed=11)
    np.testing.assert_array_equal(np.unpackbits(packed[probe], axis=1).reshape(-1, 64, 64), render_images(probe))
