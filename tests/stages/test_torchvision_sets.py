"""MNIST and Fashion-MNIST from a local root in torchvision's on-disk format (tiny files written here)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from pipeline.core.configs import model_config
from pipeline.core.errors import ParamsError
from pipeline.core.params import parse_params
from pipeline.core.paths import Outputs
from pipeline.stages import prepare
from vae.datasets import load_dataset
from vae.errors import DatasetError
from vae.model import VAE, Conv28Encoder


def write_idx(folder: Path, n_train: int, n_test: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """torchvision's raw IDX files (uncompressed) with random 28×28 images; returns (images, labels)."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n_train + n_test, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n_train + n_test).astype(np.uint8)
    for prefix, rows in (("train", slice(0, n_train)), ("t10k", slice(n_train, None))):
        part = images[rows]
        (folder / f"{prefix}-images-idx3-ubyte").write_bytes(
            struct.pack(">IIII", 0x803, len(part), 28, 28) + part.tobytes()
        )
        (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(
            struct.pack(">II", 0x801, len(part)) + labels[rows].tobytes()
        )
    return images, labels.astype(np.int64)


@pytest.mark.parametrize(("dataset", "folder"), [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")])
def test_prepare_reads_torchvision_files_from_data_root(tmp_path, dataset, folder):
    root = tmp_path / "torchvision"
    images, labels = write_idx(root / folder / "raw", n_train=40, n_test=10)
    out = Outputs(tmp_path / "work")
    params = parse_params({"data": {"dataset": dataset, "root": str(root), "test_size": 10}})
    assert prepare.run(params, out) == 50
    loaded = load_dataset(dataset, out.dataset)
    np.testing.assert_array_equal(loaded.images[:, 0], images)  # train images first, then the test images
    np.testing.assert_array_equal(loaded.labels, labels)
    assert loaded.factors is None and loaded.info.image_shape == (1, 28, 28)


def test_missing_files_give_one_line_saying_where_and_how(tmp_path):
    root = tmp_path / "empty"
    params = parse_params({"data": {"dataset": "fashion_mnist", "root": str(root)}})
    with pytest.raises(DatasetError) as exc:
        prepare.run(params, Outputs(tmp_path / "work"))
    message = str(exc.value)
    assert "\n" not in message
    assert str(root / "FashionMNIST" / "raw") in message and "train-images-idx3-ubyte" in message
    assert "download=True" in message and "data.download: true" in message
    assert not (tmp_path / "work" / "data" / "dataset.npz").exists()


def test_mnist_gets_the_28x28_conv_net_and_refuses_bernoulli():
    config = model_config(parse_params({"data": {"dataset": "mnist"}, "model": {"hidden_dim": 16}}))
    assert (config.arch, config.image_shape, config.likelihood) == ("conv", (1, 28, 28), "continuous_bernoulli")
    model = VAE(config)
    out, mu, _ = model(torch.rand(3, 1, 28, 28))
    assert out.shape == (3, 1, 28, 28) and mu.shape == (3, 10)
    assert isinstance(model.encoder, Conv28Encoder)
    with pytest.raises(ParamsError, match="bernoulli is for binary images but fashion_mnist is grey"):
        parse_params({"data": {"dataset": "fashion_mnist"}, "model": {"likelihood": "bernoulli"}})
