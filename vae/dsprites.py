"""dSprites in DeepMind's original file format, rendered locally.

The original ``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz`` cannot be downloaded here, so we draw
the same factor grid ourselves and write it in the same layout (``imgs`` uint8 (N, 64, 64) in {0, 1},
``latents_classes`` int64 (N, 6), ``latents_values`` float64 (N, 6), rows in C order over the factor
sizes). Everything downstream reads only those three keys, so DeepMind's real file (via
:func:`copy_dsprites`) and ours are interchangeable.

The full image array is 3 GB unpacked, so writing and reading stream row chunks through the zip
members instead of ever materialising it; training uses the bit-packed form (377 MB).
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import tempfile
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format
from numpy.lib.stride_tricks import sliding_window_view

FACTOR_NAMES: tuple[str, ...] = ("color", "shape", "scale", "orientation", "posX", "posY")
FACTOR_SIZES: tuple[int, ...] = (1, 3, 6, 40, 32, 32)
N_IMAGES: int = 737_280
IMAGE_SIZE = 64

KEYS: tuple[str, ...] = ("imgs", "latents_classes", "latents_values")
"""The only members we ever read; the original file's pickled ``metadata`` is never touched."""

# --- geometry ---------------------------------------------------------------------------------------
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

_COMPRESS_LEVEL = 3  # level 1 is no faster on these images but ~1.6x larger; 6 is 2x slower
_READ_ROWS = 16_384  # image rows decompressed per read (64 MiB unpacked)
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed member timestamps, so equal content gives equal bytes


class DatasetError(ValueError):
    """A dataset file is missing or malformed; the message is one line naming the file."""

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = Path(path)
        self.problem = " ".join(str(problem).split())  # keep it to one line whatever we were handed
        super().__init__(f"{path}: {self.problem}")


# --- factors ----------------------------------------------------------------------------------------


def factor_values() -> list[np.ndarray]:
    """The value grid of each factor, exactly as DeepMind's file stores them (fresh copies)."""
    return [
        np.array([1.0]),
        np.array([1.0, 2.0, 3.0]),
        np.linspace(0.5, 1.0, 6),
        np.linspace(0.0, 2.0 * np.pi, 40),
        np.linspace(0.0, 1.0, 32),
        np.linspace(0.0, 1.0, 32),
    ]


def _as_indices(indices: np.ndarray | Iterable[int], n_total: int = N_IMAGES, *, increasing: bool = False,
                name: str = "indices") -> np.ndarray:
    """Checked 1-D int64 copy of `indices`; out-of-range rows would silently alias other images."""
    arr = np.asarray(indices)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must be a 1-D integer array, got shape {arr.shape} dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0 or hi >= n_total:
        raise ValueError(f"{name} must lie in [0, {n_total}), got values from {lo} to {hi}")
    if increasing and arr.size > 1 and not bool(np.all(np.diff(arr) > 0)):
        raise ValueError(f"{name} must be strictly increasing (sorted, no repeats)")
    return arr


def latents_for(indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(classes int64 (n, 6), values float64 (n, 6)) of flat indices into the C-ordered factor grid."""
    idx = _as_indices(indices)
    classes = np.stack(np.unravel_index(idx, FACTOR_SIZES), axis=1).astype(np.int64, copy=False)
    classes = classes.reshape(-1, len(FACTOR_SIZES))
    grids = factor_values()
    values = np.empty(classes.shape, dtype=np.float64)
    for f, grid in enumerate(grids):
        values[:, f] = grid[classes[:, f]]
    return classes, values


# --- rendering --------------------------------------------------------------------------------------


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
    padded[:, _PAD:_PAD + _CANVAS, _PAD:_PAD + _CANVAS] = sprites
    return sliding_window_view(padded, (IMAGE_SIZE, IMAGE_SIZE), axis=(1, 2))  # read-only view


def render_images(indices: np.ndarray) -> np.ndarray:
    """(n, 64, 64) uint8 images in {0, 1} of flat grid indices, in the order given."""
    classes, _ = latents_for(indices)
    base = (classes[:, 1] * FACTOR_SIZES[2] + classes[:, 2]) * FACTOR_SIZES[3] + classes[:, 3]
    rows = _PAD - _POS_OFFSETS[classes[:, 5]]  # posY moves the sprite down the rows
    cols = _PAD - _POS_OFFSETS[classes[:, 4]]  # posX moves it right along the columns
    return np.ascontiguousarray(_sprite_windows()[base, rows, cols])


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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with ThreadPoolExecutor(max_workers=1) as pool, \
                zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
            yield _NpzWriter(zf, pool)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _row_chunks(arr: np.ndarray, chunk: int) -> Iterator[np.ndarray]:
    for start in range(0, len(arr), chunk):
        yield arr[start:start + chunk]


def write_dsprites(path: Path, indices: np.ndarray | None = None, chunk: int = 16384) -> int:
    """Render the given flat indices (strictly increasing; None = all N) into an original-format npz.

    Rows are rendered and deflated `chunk` at a time, so peak memory is about two chunks of images
    (2 x 64 MiB at the default; larger chunks are no faster) rather than the 3 GB of the whole array.
    Returns the row count.
    """
    if chunk < 1:
        raise ValueError(f"chunk must be positive, got {chunk}")
    idx = np.arange(N_IMAGES, dtype=np.int64) if indices is None else _as_indices(indices, increasing=True)
    n = len(idx)
    with _atomic_npz(Path(path)) as npz:
        npz.member("imgs", np.uint8, (n, IMAGE_SIZE, IMAGE_SIZE),
                   (render_images(part) for part in _row_chunks(idx, chunk)))
        npz.member("latents_classes", np.int64, (n, len(FACTOR_SIZES)),
                   (latents_for(part)[0] for part in _row_chunks(idx, 1 << 18)))
        npz.member("latents_values", np.float64, (n, len(FACTOR_SIZES)),
                   (latents_for(part)[1] for part in _row_chunks(idx, 1 << 18)))
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


_EXPECTED_DTYPES = {"imgs": np.dtype(np.uint8), "latents_classes": np.dtype(np.int64),
                    "latents_values": np.dtype(np.float64)}


def _open_member(path: Path, zf: zipfile.ZipFile, key: str
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
    if dtype.hasobject or dtype.kind != expected.kind or dtype.itemsize != expected.itemsize \
            or dtype.fields is not None or dtype.shape != ():
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
        raise DatasetError(path, f"key 'latents_values' has {len(values)} rows "
                                 f"but 'latents_classes' has {len(classes)}")
    grids = factor_values()
    for f, (name, size) in enumerate(zip(FACTOR_NAMES, FACTOR_SIZES)):
        col = classes[:, f]
        bad = np.flatnonzero((col < 0) | (col >= size))
        if bad.size:
            r = int(bad[0])
            raise DatasetError(path, f"key 'latents_classes' row {r} has {name} class {int(col[r])}, "
                                     f"expected 0..{size - 1}")
        expect = grids[f][col]
        bad = np.flatnonzero(~(np.abs(values[:, f] - expect) <= 1e-6))
        if bad.size:
            r = int(bad[0])
            raise DatasetError(path, f"key 'latents_values' row {r} has {name} {float(values[r, f])!r}, "
                                     f"expected {float(expect[r])!r} for class {int(col[r])}")


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
                    raise DatasetError(self.path, f"key 'imgs' row {start + r} has value {int(chunk[r].max())}, "
                                                  "expected only 0 and 1")
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
            packed[start:start + len(chunk)] = np.packbits(chunk.reshape(len(chunk), -1), axis=1)
        return packed, src.classes


def copy_dsprites(source: Path, path: Path, rows: np.ndarray | None = None) -> int:
    """Validate a user-supplied original-format npz (e.g. DeepMind's real file) and write the selected
    rows (strictly increasing; None = all) to `path` in the same format, without its pickled metadata.
    The whole source is checked while streaming; on any error nothing is left at `path`. Returns n."""
    source, path = Path(source), Path(path)
    with _Source(source) as src:
        sel = np.arange(src.n, dtype=np.int64) if rows is None else \
            _as_indices(rows, src.n, increasing=True, name="rows")
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


def subsample_indices(n_total: int, n: int | None, seed: int) -> np.ndarray:
    """Sorted, seed-deterministic random subset of range(n_total) of size n (None = all), so small
    runs use a fixed, reproducible slice of the dataset."""
    if n_total < 0:
        raise ValueError(f"n_total must be >= 0, got {n_total}")
    if n is None:
        return np.arange(n_total, dtype=np.int64)
    if not 0 <= n <= n_total:
        raise ValueError(f"n must lie in [0, {n_total}], got {n}")
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_total, size=n, replace=False)).astype(np.int64)
