"""dSprites files in DeepMind's original npz layout: streaming write, read, validation and copy.

The layout is ``imgs`` uint8 (N, 64, 64) in {0, 1}, ``latents_classes`` int64 (N, 6) and
``latents_values`` float64 (N, 6), rows in C order over the factor sizes. Everything downstream reads
only those three keys, so DeepMind's real file (via :func:`copy_dsprites`) and ours are interchangeable.

The full image array is 3 GB unpacked, so writing and reading stream row chunks through the zip
members instead of ever materialising it; training uses the bit-packed form (377 MB).
"""

from __future__ import annotations

import contextlib
import io
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from vae.dsprites.factors import (
    FACTOR_NAMES,
    FACTOR_SIZES,
    IMAGE_SIZE,
    N_IMAGES,
    checked_indices,
    factor_values,
    latents_for,
)
from vae.dsprites.render import render_images
from vae.errors import DatasetError
from vae.files import atomic_path

KEYS: tuple[str, ...] = ("imgs", "latents_classes", "latents_values")
"""The only members we ever read; the original file's pickled ``metadata`` is never touched."""

_COMPRESS_LEVEL = 3  # level 1 is no faster on these images but ~1.6x larger; 6 is 2x slower
_READ_ROWS = 16_384  # image rows decompressed per read (64 MiB unpacked)
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed member timestamps, so equal content gives equal bytes


# --- writing ----------------------------------------------------------------------------------------


def _npy_header(dtype: np.dtype, shape: tuple[int, ...]) -> bytes:
    """The .npy header numpy itself would write for a C-ordered array of this dtype/shape."""
    buf = io.BytesIO()
    header = {"descr": npy_format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": shape}
    npy_format.write_array_header_1_0(buf, header)
    return buf.getvalue()


def _zip_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    if hasattr(info, "compress_level"):  # Python >= 3.13
        info.compress_level = _COMPRESS_LEVEL
    else:
        info._compresslevel = _COMPRESS_LEVEL
    info.external_attr = 0o644 << 16
    return info


class _NpzWriter:
    """Streams arrays into a new npz, one member at a time. Compression (zlib releases the GIL) runs
    on a worker thread while the caller produces the next chunk, so rendering and deflating overlap.
    """

    def __init__(self, zf: zipfile.ZipFile, pool: ThreadPoolExecutor) -> None:
        self._zf = zf
        self._pool = pool

    def member(self, key: str, dtype: np.dtype, shape: tuple[int, ...], chunks: Iterable[np.ndarray]) -> None:
        """Write `key`.npy from C-ordered row chunks that together make exactly `shape`."""
        dtype = np.dtype(dtype)
        expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        written = 0
        pending: Future | None = None
        with self._zf.open(_zip_info(f"{key}.npy"), "w", force_zip64=True) as f:
            f.write(_npy_header(dtype, shape))
            try:
                for chunk in chunks:
                    chunk = np.ascontiguousarray(chunk, dtype=dtype)
                    if pending is not None:
                        pending.result()
                    pending = self._pool.submit(f.write, memoryview(chunk.reshape(-1)).cast("B"))
                    written += chunk.nbytes
            except BaseException:
                if pending is not None:
                    with contextlib.suppress(Exception):
                        pending.result()
                raise
            if pending is not None:
                pending.result()
        if written != expected:
            raise RuntimeError(f"{key}: wrote {written} bytes, expected {expected}")


@contextlib.contextmanager
def _atomic_npz(path: Path) -> Iterator[_NpzWriter]:
    """A writer on a temp file beside `path` that replaces `path` only if the block succeeds."""
    with (
        atomic_path(path) as tmp,
        ThreadPoolExecutor(max_workers=1) as pool,
        zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf,
    ):
        yield _NpzWriter(zf, pool)


def _row_chunks(arr: np.ndarray, chunk: int) -> Iterator[np.ndarray]:
    for start in range(0, len(arr), chunk):
        yield arr[start : start + chunk]


def write_dsprites(
    path: Path, indices: np.ndarray | None = None, chunk: int = 16384, extra: Mapping[str, np.ndarray] | None = None
) -> int:
    """Render the given flat indices (strictly increasing; None = all N) into an original-format npz,
    followed by `extra` members (scream-dSprites' texture), which readers of the three keys ignore.

    Rows are rendered and deflated `chunk` at a time, so peak memory is about two chunks of images
    (2 x 64 MiB at the default; larger chunks are no faster) rather than the 3 GB of the whole array.
    Returns the row count.
    """
    if chunk < 1:
        raise ValueError(f"chunk must be positive, got {chunk}")
    idx = (
        np.arange(N_IMAGES, dtype=np.int64) if indices is None else checked_indices(indices, N_IMAGES, increasing=True)
    )
    n = len(idx)
    with _atomic_npz(Path(path)) as npz:
        npz.member(
            "imgs", np.uint8, (n, IMAGE_SIZE, IMAGE_SIZE), (render_images(part) for part in _row_chunks(idx, chunk))
        )
        npz.member(
            "latents_classes",
            np.int64,
            (n, len(FACTOR_SIZES)),
            (latents_for(part)[0] for part in _row_chunks(idx, 1 << 18)),
        )
        npz.member(
            "latents_values",
            np.float64,
            (n, len(FACTOR_SIZES)),
            (latents_for(part)[1] for part in _row_chunks(idx, 1 << 18)),
        )
        for key, array in (extra or {}).items():
            npz.member(key, array.dtype, array.shape, [np.ascontiguousarray(array)])
    return n


# --- reading ----------------------------------------------------------------------------------------


def _open_zip(path: Path) -> zipfile.ZipFile:
    path = Path(path)
    if not path.exists():
        raise DatasetError(path, "file not found")
    if not path.is_file():
        raise DatasetError(path, "not a regular file")
    try:
        zf = zipfile.ZipFile(path, "r")
    except zipfile.BadZipFile:
        raise DatasetError(path, "not an npz file (not a zip archive)") from None
    except OSError as exc:
        raise DatasetError(path, f"cannot be read ({exc.strerror or exc})") from None
    names = set(zf.namelist())
    missing = [k for k in KEYS if f"{k}.npy" not in names]
    if missing:
        zf.close()
        raise DatasetError(path, f"missing key '{missing[0]}' (has {sorted(n.removesuffix('.npy') for n in names)})")
    return zf


_EXPECTED_DTYPES = {
    "imgs": np.dtype(np.uint8),
    "latents_classes": np.dtype(np.int64),
    "latents_values": np.dtype(np.float64),
}


def _open_member(
    path: Path, zf: zipfile.ZipFile, key: str
) -> tuple[io.BufferedIOBase, tuple[int, ...], np.dtype, bool]:
    """Open `key`.npy and parse its header: (stream at the data, shape, dtype, fortran_order)."""
    f = zf.open(f"{key}.npy")
    try:
        version = npy_format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(f)
        elif version in ((2, 0), (3, 0)):  # 3.0 only differs in header text encoding (ASCII here)
            shape, fortran, dtype = npy_format.read_array_header_2_0(f)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except (ValueError, EOFError, OSError, zipfile.BadZipFile, zlib.error) as exc:
        f.close()
        raise DatasetError(path, f"key '{key}' is not a valid .npy array ({exc})") from None
    expected = _EXPECTED_DTYPES[key]
    if (
        dtype.hasobject
        or dtype.kind != expected.kind
        or dtype.itemsize != expected.itemsize
        or dtype.fields is not None
        or dtype.shape != ()
    ):
        f.close()
        raise DatasetError(path, f"key '{key}' has dtype {dtype}, expected {expected}")
    return f, tuple(int(s) for s in shape), dtype, bool(fortran)


def _read_exact(path: Path, key: str, f: io.BufferedIOBase, nbytes: int) -> bytes:
    try:
        data = f.read(nbytes)
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise DatasetError(path, f"key '{key}' is corrupt ({exc})") from None
    if len(data) != nbytes:
        raise DatasetError(path, f"key '{key}' is truncated ({len(data)} of {nbytes} bytes)")
    return data


def _finish(path: Path, key: str, f: io.BufferedIOBase) -> None:
    """Read to the end of a member, so zipfile checks its CRC and trailing junk is caught."""
    try:
        extra = f.read(1)
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise DatasetError(path, f"key '{key}' is corrupt ({exc})") from None
    finally:
        f.close()
    if extra:
        raise DatasetError(path, f"key '{key}' has more data than its header declares")


def _read_latents(path: Path, zf: zipfile.ZipFile, key: str) -> np.ndarray:
    f, shape, dtype, fortran = _open_member(path, zf, key)
    try:
        if len(shape) != 2 or shape[1] != len(FACTOR_SIZES):
            raise DatasetError(path, f"key '{key}' has shape {shape}, expected (N, {len(FACTOR_SIZES)})")
        data = _read_exact(path, key, f, shape[0] * shape[1] * dtype.itemsize)
    except BaseException:
        f.close()
        raise
    _finish(path, key, f)
    arr = np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    return np.ascontiguousarray(arr, dtype=_EXPECTED_DTYPES[key])


def _check_latents(path: Path, classes: np.ndarray, values: np.ndarray) -> None:
    """Classes within FACTOR_SIZES and values equal to the factor grid at those classes."""
    if len(values) != len(classes):
        raise DatasetError(
            path, f"key 'latents_values' has {len(values)} rows but 'latents_classes' has {len(classes)}"
        )
    grids = factor_values()
    for f, (name, size) in enumerate(zip(FACTOR_NAMES, FACTOR_SIZES)):
        col = classes[:, f]
        bad = np.flatnonzero((col < 0) | (col >= size))
        if bad.size:
            r = int(bad[0])
            raise DatasetError(
                path, f"key 'latents_classes' row {r} has {name} class {int(col[r])}, expected 0..{size - 1}"
            )
        expect = grids[f][col]
        bad = np.flatnonzero(~(np.abs(values[:, f] - expect) <= 1e-6))
        if bad.size:
            r = int(bad[0])
            raise DatasetError(
                path,
                f"key 'latents_values' row {r} has {name} {float(values[r, f])!r}, "
                f"expected {float(expect[r])!r} for class {int(col[r])}",
            )


class _Source:
    """An open original-format npz: checked latents plus a chunked reader over its images."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.zf = _open_zip(self.path)
        try:
            self.classes = _read_latents(self.path, self.zf, "latents_classes")
            self.values = _read_latents(self.path, self.zf, "latents_values")
            _check_latents(self.path, self.classes, self.values)
            self.n = len(self.classes)
            f, shape, _, fortran = _open_member(self.path, self.zf, "imgs")
            f.close()
            if shape[1:] != (IMAGE_SIZE, IMAGE_SIZE) or len(shape) != 3:
                raise DatasetError(self.path, f"key 'imgs' has shape {shape}, expected (N, {IMAGE_SIZE}, {IMAGE_SIZE})")
            if shape[0] != self.n:
                raise DatasetError(self.path, f"key 'imgs' has {shape[0]} rows but 'latents_classes' has {self.n}")
            if fortran and self.n > 0:
                raise DatasetError(self.path, "key 'imgs' is stored in Fortran order, expected C order")
        except BaseException:
            self.zf.close()
            raise

    def __enter__(self) -> _Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.zf.close()

    def image_chunks(self, rows: int = _READ_ROWS) -> Iterator[tuple[int, np.ndarray]]:
        """(start row, read-only (k, 64, 64) uint8) over all images, each chunk checked binary."""
        f, _, _, _ = _open_member(self.path, self.zf, "imgs")
        try:
            row_bytes = IMAGE_SIZE * IMAGE_SIZE
            for start in range(0, self.n, rows):
                k = min(rows, self.n - start)
                data = _read_exact(self.path, "imgs", f, k * row_bytes)
                chunk = np.frombuffer(data, dtype=np.uint8).reshape(k, IMAGE_SIZE, IMAGE_SIZE)
                if chunk.max() > 1:
                    r = int(np.flatnonzero(chunk.reshape(k, -1).max(axis=1) > 1)[0])
                    raise DatasetError(
                        self.path, f"key 'imgs' row {start + r} has value {int(chunk[r].max())}, expected only 0 and 1"
                    )
                yield start, chunk
        except BaseException:
            f.close()
            raise
        _finish(self.path, "imgs", f)


def validate_dsprites(path: Path) -> int:
    """Check an original-format npz (keys, dtypes, shapes, latent ranges and values, binary images,
    member CRCs) without holding its images in memory; raise DatasetError, else return N."""
    with _Source(Path(path)) as src:
        for _ in src.image_chunks():
            pass
        return src.n


def load_dsprites_packed(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(images bit-packed to uint8 (N, 512) as np.packbits(img.reshape(N, 4096), axis=1), latents_classes
    int64 (N, 6)), validated like validate_dsprites. Images are packed chunk by chunk, so memory peaks
    near the 377 MB packed array instead of the 3 GB unpacked one."""
    with _Source(Path(path)) as src:
        packed = np.empty((src.n, IMAGE_SIZE * IMAGE_SIZE // 8), dtype=np.uint8)
        for start, chunk in src.image_chunks():
            packed[start : start + len(chunk)] = np.packbits(chunk.reshape(len(chunk), -1), axis=1)
        return packed, src.classes


def copy_dsprites(source: Path, path: Path, rows: np.ndarray | None = None) -> int:
    """Validate a user-supplied original-format npz (e.g. DeepMind's real file) and write the selected
    rows (strictly increasing; None = all) to `path` in the same format, without its pickled metadata.
    The whole source is checked while streaming; on any error nothing is left at `path`. Returns n."""
    source, path = Path(source), Path(path)
    with _Source(source) as src:
        sel = (
            np.arange(src.n, dtype=np.int64)
            if rows is None
            else checked_indices(rows, src.n, increasing=True, name="rows")
        )
        n = len(sel)

        def selected() -> Iterator[np.ndarray]:
            for start, chunk in src.image_chunks():
                lo, hi = np.searchsorted(sel, [start, start + len(chunk)])
                if hi > lo:
                    yield chunk[sel[lo:hi] - start]

        with _atomic_npz(path) as npz:
            npz.member("imgs", np.uint8, (n, IMAGE_SIZE, IMAGE_SIZE), selected())
            npz.member("latents_classes", np.int64, (n, len(FACTOR_SIZES)), [src.classes[sel]])
            npz.member("latents_values", np.float64, (n, len(FACTOR_SIZES)), [src.values[sel]])
    return n
