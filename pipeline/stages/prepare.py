"""Stage `prepare`: the dataset (rendered, converted, or the user's original dSprites file) and a fixed
train/held-out split."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.core.errors import ParamsError
from pipeline.core.params import Params
from pipeline.core.paths import Outputs, atomic_path, repo_root
from vae.datasets import default_source, load_dataset, write_dataset
from vae.dsprites import subsample_indices

MAX_TEST_FRACTION = 5  # at most 1/5 of the kept images are held out, so small datasets keep most for training


def split_indices(n: int, test_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, test) row indices; fixed by `seed`, independent of the model seed."""
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[test_size:]), np.sort(order[:test_size])


def held_out_size(test_size: int, n: int) -> int:
    """data.test_size, capped at a fifth of the n kept images (digits has 1,797 in all)."""
    return min(test_size, n // MAX_TEST_FRACTION)


def source_path(params: Params) -> Path | None:
    """data.source, or a local dataset's default place; a relative path is from the repository root, so a
    queued experiment (run in a temporary copy without the user's untracked files) reads the same file."""
    source = params.data.source or default_source(params.data.dataset)
    return source if source is None or source.is_absolute() else repo_root() / source


def run(params: Params, out: Outputs) -> int:
    data = params.data

    def rows(n_total: int) -> np.ndarray:
        if data.subsample is not None and data.subsample > n_total:
            where = data.source or data.dataset
            raise ParamsError(
                f"params.yaml: data.subsample: {data.subsample:,} is more than the {n_total:,} images of {where}"
            )
        keep = None if data.subsample == n_total else data.subsample
        return subsample_indices(n_total, keep, data.split_seed)

    n = write_dataset(data.dataset, out.dataset, rows, source_path(params), data.root, data.download)
    n_test = held_out_size(data.test_size, n)
    if n_test < 1:
        raise ParamsError(f"params.yaml: data.subsample: {n} images are too few to hold any out for evaluation")
    train, test = split_indices(n, n_test, data.split_seed)
    loaded = load_dataset(data.dataset, out.dataset)
    # The held-out images travel with the split (dSprites packed: ~5 MB per 10,000), so evaluate and plot
    # never decompress the whole dataset. Factors where the dataset has them, class labels otherwise.
    extra = {}
    if loaded.factors is not None:
        extra["test_factors"] = loaded.factors[test]
    if loaded.labels is not None:
        extra["test_labels"] = loaded.labels[test]
    if loaded.texture is not None:  # scream-dSprites' background image, for every batch of every stage
        extra["texture"] = loaded.texture
    with atomic_path(out.split) as tmp, tmp.open("wb") as handle:
        np.savez(handle, train=train, test=test, test_images=loaded.images[test], **extra)
    return n


def main(params: Params, out: Outputs) -> list[str]:
    n = run(params, out)
    return [f"prepare: {n:,} images → {out.dataset.relative_to(out.root)}, split → {out.split.relative_to(out.root)}"]
