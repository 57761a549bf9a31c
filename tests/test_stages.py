"""Stage outputs read back: the split, the held-out copy and the in-place compaction of training images."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.artifacts import load_held_out, load_train_images
from pipeline.params import ParamsError, parse_params
from pipeline.paths import Outputs
from pipeline.stages import prepare
from vae.dsprites import load_dsprites_packed


def test_prepare_split_and_readers_agree(tmp_path):
    params = parse_params({"data": {"subsample": 3000, "test_size": 500}})
    out = Outputs(tmp_path)
    assert prepare.run(params, out) == 3000
    packed, classes = load_dsprites_packed(out.dataset)
    with np.load(out.split) as split:
        train, test = split["train"], split["test"]
    assert len(train) == 2500 and len(test) == 500
    assert not set(train) & set(test) and np.all(np.diff(train) > 0)
    np.testing.assert_array_equal(load_train_images(out, chunk=97), packed[train])
    held_out = load_held_out(out)
    np.testing.assert_array_equal(held_out.images, packed[test])
    np.testing.assert_array_equal(held_out.factors, classes[test])


def test_split_is_fixed_by_split_seed_only(tmp_path):
    a = prepare.split_indices(1000, 100, seed=3)
    b = prepare.split_indices(1000, 100, seed=3)
    c = prepare.split_indices(1000, 100, seed=4)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[1], c[1])


def test_prepare_rejects_a_split_without_training_data_before_writing(tmp_path):
    source = tmp_path / "src"
    out = Outputs(tmp_path / "work")
    prepare.run(parse_params({"data": {"subsample": 50, "test_size": 10}}), Outputs(source))
    params = parse_params({"data": {"source": str(source / "data" / "dsprites.npz"), "test_size": 50}})
    with pytest.raises(ParamsError, match="data.test_size: 50 leaves no training images out of 50"):
        prepare.run(params, out)
    assert not out.dataset.exists() and not out.split.exists()
