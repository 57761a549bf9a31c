"""models/curves.csv, the training curves: written by the train stage, read by the plot stage and by the record
of a run. A file cut short (a full disk, a copy that stopped) would plot and log silently wrong curves, so a
reader gets the whole file or one line naming it and how to restore it."""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from pipeline.core.errors import OutputError
from vae.files import atomic_path

RESTORE = "run `dvc checkout models/curves.csv` or `dvc repro -f train` to restore it"


def write_curves(path: Path, rows: Sequence[Mapping[str, float]]) -> None:
    """One row per logged step, `step` first; every line ends with a line break, which `read_curves` checks."""
    with atomic_path(path) as tmp, tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def read_curves(path: Path) -> list[dict[str, float]]:
    """The rows as numbers, or OutputError when the file is missing, cut short or not a curves file."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise OutputError(f"{path}: missing; {RESTORE}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise OutputError(f"{path}: damaged ({type(error).__name__}); {RESTORE}") from None
    lines = list(csv.reader(text.splitlines()))
    header = lines[0] if lines else []
    if not text.endswith("\n") or len(lines) < 2 or header[:1] != ["step"]:
        raise OutputError(f"{path}: cut short or not a training-curves file; {RESTORE}")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        try:
            row = dict(zip(header, map(float, line), strict=True))
        except ValueError:
            raise OutputError(f"{path}: line {number} is damaged; {RESTORE}") from None
        # NaN can be a real value (a FactorVAE discriminator term); a cut file shows as a short line or a step.
        if not math.isfinite(row["step"]) or (rows and row["step"] <= rows[-1]["step"]):
            raise OutputError(f"{path}: line {number} is damaged; {RESTORE}")
        rows.append(row)
    return rows
