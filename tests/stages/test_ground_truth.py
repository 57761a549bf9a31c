"""Fresh samples for the scores on every dSprites variant are drawn as that dataset draws its images, and the
latent figures fall back to the class label where a dataset has no factors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pipeline.core.params import Params
from pipeline.stages.ground_truth import all_classes, ground_truth
from pipeline.stages.introspection import LABEL, introspection_target, label_information
from pipeline.stages.scores import has_factors
from vae.batches import as_images
from vae.datasets.registry import sprite_colours
from vae.dsprites import SPACE, render_images


def _stored(classes: np.ndarray, colour: bool) -> torch.Tensor:
    """Rows as the dataset keeps them in memory: bit-packed sprites (+ 3 colour bytes for color-dSprites)."""
    images = render_images(SPACE.index_of(classes))
    packed = np.packbits(images.reshape(len(images), -1), axis=1)
    return torch.from_numpy(np.concatenate([packed, sprite_colours(classes)], axis=1) if colour else packed)


def test_color_dsprites_samples_equal_the_training_batches():
    data = ground_truth("color_dsprites")
    factors = data.sample_factors(40, np.random.default_rng(0))
    drawn = data.observations(factors, np.random.default_rng(1))
    expected = as_images(_stored(all_classes(factors), colour=True), (3, 64, 64)).numpy()
    assert drawn.shape == (40, 3, 64, 64)
    np.testing.assert_array_equal(drawn, expected)
    lit = drawn.max(axis=1) > 0  # the sprite, in a colour in [0.5, 1] per channel; the background black
    assert drawn.transpose(1, 0, 2, 3)[:, lit].min() >= 0.5 and drawn.max() <= 1.0


def test_noisy_dsprites_samples_are_the_white_sprite_over_fresh_uniform_noise():
    data = ground_truth("noisy_dsprites")
    factors = data.sample_factors(30, np.random.default_rng(0))
    sprite = render_images(SPACE.index_of(all_classes(factors))).astype(bool)
    first = data.observations(factors, np.random.default_rng(1))
    assert first.shape == (30, 3, 64, 64)
    assert np.all(first.transpose(1, 0, 2, 3)[:, sprite] == 1.0)  # the sprite is white in every channel
    background = first.transpose(1, 0, 2, 3)[:, ~sprite]
    assert background.min() >= 0.0 and background.max() < 1.0
    assert abs(background.mean() - 0.5) < 0.01  # uniform [0, 1)
    np.testing.assert_array_equal(first, data.observations(factors, np.random.default_rng(1)))  # seeded
    assert not np.array_equal(first, data.observations(factors, np.random.default_rng(2)))  # fresh noise


@pytest.mark.parametrize(
    ("dataset", "scored"),
    [("dsprites", True), ("color_dsprites", True), ("noisy_dsprites", True), ("digits", False), ("mnist", False)],
)
def test_scores_run_wherever_the_dataset_has_factors(dataset, scored):
    assert has_factors(Params.model_validate({"data": {"dataset": dataset}})) is scored
    if not scored:
        with pytest.raises(ValueError, match=f"{dataset} has no ground-truth factors"):
            ground_truth(dataset)


def test_label_information_hand_values():
    labels = np.repeat(np.arange(4), 50)
    rng = np.random.default_rng(0)
    codes = np.stack([labels + 0.01 * rng.standard_normal(200), rng.standard_normal(200)], axis=1)
    info = label_information(codes, labels, bins=20, points=200, seed=0)
    entropy = info["label_entropy"][0]
    assert entropy == pytest.approx(math.log(4))  # four equal classes
    carried, noise = (row[0] for row in info["label_mutual_info"])
    assert carried == pytest.approx(entropy)  # 20 bins separate four well-spaced values exactly
    assert noise < 0.15 * entropy  # plug-in MI of 200 noise points in 20 bins against 4 classes


def test_introspection_target_prefers_factors_then_the_label():
    details = {"mutual_info": [[0.1]], "factor_entropy": [1.0], "factor_names": ["shape"]}
    factors, labels = np.zeros((3, 1), dtype=np.int64), np.array([0, 1, 2])
    target = introspection_target(factors, None, details)
    assert target is not None and target.names == ["shape"]
    assert introspection_target(None, labels, details) is None  # no label MI measured: nothing to draw against
    label_details = {"label_mutual_info": [[0.5]], "label_entropy": [1.1]}
    target = introspection_target(None, labels, label_details)
    assert target is not None and target.names == [LABEL] and target.classes.shape == (3, 1)
    assert target.details({"kl_per_dim": [1.0]})["factor_entropy"] == [1.1]
    assert introspection_target(None, None, details | label_details) is None
