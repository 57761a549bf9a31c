"""Stage outputs read back: the split, the held-out copy and the in-place compaction of training images."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.core.errors import ParamsError
from pipeline.core.params import parse_params
from pipeline.core.paths import Outputs
from pipeline.stages import prepare
from pipeline.stages.artifacts import load_held_out, load_train_images
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


def test_prepare_holds_out_at_most_a_fifth_and_rejects_too_few_images(tmp_path):
    source = tmp_path / "src"
    out = Outputs(tmp_path / "work")
    prepare.run(parse_params({"data": {"subsample": 50, "test_size": 10}}), Outputs(source))
    params = parse_params({"data": {"source": str(source / "data" / "dataset.npz"), "test_size": 50}})
    assert prepare.run(params, out) == 50
    with np.load(out.split) as split:
        assert (len(split["train"]), len(split["test"])) == (40, 10)  # test_size 50 capped at 50 // 5
    tiny = Outputs(tmp_path / "tiny")
    with pytest.raises(ParamsError, match="4 images are too few"):
        prepare.run(parse_params({"data": {"subsample": 4, "test_size": 2}}), tiny)
    assert not tiny.split.exists()


def test_prepare_digits_keeps_labels_and_no_factors(tmp_path):
    out = Outputs(tmp_path)
    assert prepare.run(parse_params({"data": {"dataset": "digits"}}), out) == 1797
    with np.load(out.split) as split:
        assert split["test_images"].shape == (359, 1, 8, 8) and split["test_images"].dtype == np.uint8
        assert "test_factors" not in split and set(np.unique(split["test_labels"])) == set(range(10))
    held_out = load_held_out(out)
    assert held_out.factors is None and held_out.labels is not None
    train = load_train_images(out, "digits")
    assert train.shape == (1797 - 359, 1, 8, 8)
