"""MNIST and Fashion-MNIST through torchvision, from a local folder: nothing is fetched unless asked.

torchvision reads its own on-disk layout, `<root>/MNIST/raw/train-images-idx3-ubyte` and friends
(`<root>/FashionMNIST/raw/…` for Fashion-MNIST). The official train (60,000) and test (10,000) images are
concatenated in that order; the pipeline's own seeded split then holds images out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vae.errors import DatasetError

FOLDERS = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}
"""Dataset name → torchvision's class and folder name under the root."""


def _class(name: str):
    from torchvision import datasets

    return {"mnist": datasets.MNIST, "fashion_mnist": datasets.FashionMNIST}[name]


def missing_files_message(name: str, root: Path) -> str:
    """One line: where the files must be and how to get them on a machine with a network."""
    folder = Path(root) / FOLDERS[name] / "raw"
    cls = FOLDERS[name]
    return (
        f"{name}: torchvision's files are not under {folder} (train-images-idx3-ubyte, train-labels-idx1-ubyte, "
        f"t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte); on a connected machine run "
        f"`python -c \"from torchvision.datasets import {cls}; {cls}('{root}', download=True)\"` and copy "
        f"{Path(root) / FOLDERS[name]} here, or set data.download: true where the network allows"
    )


def load_torchvision(name: str, root: Path, download: bool) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 (N, 1, 28, 28) images, int64 labels): the official train images, then the test images."""
    cls = _class(name)
    parts = []
    for train in (True, False):
        try:
            data = cls(str(root), train=train, download=download)
        except RuntimeError as exc:
            if "not found" in str(exc).lower():
                raise DatasetError(Path(root), missing_files_message(name, root)) from None
            raise DatasetError(Path(root), f"{name}: {exc}") from None
        parts.append((data.data.numpy().astype(np.uint8)[:, None], data.targets.numpy().astype(np.int64)))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
