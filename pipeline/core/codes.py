"""eval/codes.npz: each model's posterior of one fixed sample of held-out images, the inputs every seed of a
setting encodes alike, so that the report can compare seeds without labels (UDR, metrics/udr.py). The sample
comes from `data.split_seed`, never `seed`; the file holds which held-out rows it encoded, so a reader can
check that two models saw the same images. Written with fixed zip timestamps: equal codes, equal bytes."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.core.errors import OutputError
from pipeline.core.paths import atomic_path

_MEMBERS = ("rows", "means", "logvars")
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Codes:
    rows: np.ndarray  # (n,) int64: the held-out rows encoded, in the order of the codes
    means: np.ndarray  # (n, latents) float32: posterior means, the representation UDR compares
    logvars: np.ndarray  # (n, latents) float32: posterior log-variances, for the KL per latent


def write_codes(path: Path, codes: Codes) -> None:
    arrays = {
        "rows": np.asarray(codes.rows, dtype=np.int64),
        "means": np.asarray(codes.means, dtype=np.float32),
        "logvars": np.asarray(codes.logvars, dtype=np.float32),
    }
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in _MEMBERS:
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buffer.getvalue())


def read_codes(path: Path, restore: str) -> Codes:
    """The codes file at `path`, or OutputError naming it and `restore` (what to run) when it is missing or
    not a codes file."""
    try:
        with np.load(path, allow_pickle=False) as loaded:
            codes = Codes(*(loaded[name] for name in _MEMBERS))
    except FileNotFoundError:
        raise OutputError(f"{path}: missing; {restore}") from None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise OutputError(f"{path}: not a codes file ({type(error).__name__}); {restore}") from None
    n = len(codes.rows)
    if codes.means.ndim != 2 or codes.means.shape != codes.logvars.shape or codes.means.shape[0] != n:
        shapes = f"rows {codes.rows.shape}, means {codes.means.shape}, logvars {codes.logvars.shape}"
        raise OutputError(f"{path}: not a codes file (shapes {shapes}); {restore}")
    return codes
