"""Stage `prepare`: the dSprites file (rendered, or the user's original) and a fixed train/held-out split."""

from __future__ import annotations

import numpy as np

from pipeline.params import Params, ParamsError
from pipeline.paths import Outputs, atomic_path
from vae import dsprites


def split_indices(n: int, test_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, test) row indices; fixed by `seed`, independent of the model seed."""
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[test_size:]), np.sort(order[:test_size])


def run(params: Params, out: Outputs) -> int:
    data = params.data
    n_total = dsprites.validate_dsprites(data.source) if data.source is not None else dsprites.N_IMAGES
    if data.subsample is not None and data.subsample > n_total:
        where = data.source or "dSprites"
        raise ParamsError(
            f"params.yaml: data.subsample: {data.subsample:,} is more than the {n_total:,} images of {where}"
        )
    rows = dsprites.subsample_indices(n_total, data.subsample, data.split_seed)
    if data.test_size >= len(rows):
        raise ParamsError(f"params.yaml: data.test_size: {data.test_size} leaves no training images out of {len(rows)}")
    if data.source is not None:
        n = dsprites.copy_dsprites(data.source, out.dataset, None if data.subsample is None else rows)
    else:
        n = dsprites.write_dsprites(out.dataset, rows)
    train, test = split_indices(n, data.test_size, data.split_seed)
    packed, classes = dsprites.load_dsprites_packed(out.dataset)
    with atomic_path(out.split) as tmp, tmp.open("wb") as handle:
        # The held-out images travel with the split (packed, ~5 MB per 10,000), so evaluate and plot
        # never decompress the whole dataset.
        np.savez(handle, train=train, test=test, test_images=packed[test], test_factors=classes[test])
    return n
