"""Datasets by name: what each one is (image shape, binary or grey, factors or labels) and how to get it.

`prepare` writes a dataset to one npz with `write_dataset`; `train`, `evaluate` and `plot` read it back
with `load_dataset`, so no stage needs to know which dataset it is. Binary images come back bit-packed
(the fast path of vae.batches), grey images as uint8 (N, C, H, W). Datasets with ground-truth factors
(dSprites) return them for factor-based scores; the others return class labels instead.
"""

from vae.datasets.registry import (
    DATASETS,
    LOCAL_FILES,
    DatasetInfo,
    ImageData,
    dataset_info,
    default_source,
    load_dataset,
    takes_source,
    write_dataset,
)

__all__ = [
    "DATASETS",
    "LOCAL_FILES",
    "DatasetInfo",
    "ImageData",
    "dataset_info",
    "default_source",
    "load_dataset",
    "takes_source",
    "write_dataset",
]
