"""color-dSprites and noisy-dSprites (Locatello et al. 2019): the dSprites factors, RGB pixels."""

from __future__ import annotations

import numpy as np
import torch

from pipeline.core.configs import model_config
from pipeline.core.params import parse_params
from pipeline.core.paths import Outputs
from pipeline.stages import prepare
from vae.batches import as_images
from vae.datasets import load_dataset
from vae.datasets.registry import sprite_colours
from vae.dsprites import SPACE
from vae.model import VAE

SHAPE = (3, 64, 64)


def _prepared(tmp_path, dataset: str, subsample: int = 300, split_seed: int = 0):
    out = Outputs(tmp_path / f"{dataset}-{subsample}-{split_seed}")
    prepare.run(
        parse_params({"data": {"dataset": dataset, "subsample": subsample, "test_size": 50, "split_seed": split_seed}}),
        out,
    )
    return load_dataset(dataset, out.dataset), load_dataset("dsprites", out.dataset)


def test_color_dsprites_paints_each_sprite_in_a_fixed_colour_on_black(tmp_path):
    coloured, plain = _prepared(tmp_path, "color_dsprites")
    assert coloured.factors is not None and coloured.info.image_shape == SHAPE
    np.testing.assert_array_equal(coloured.factors, plain.factors)
    x = as_images(torch.from_numpy(coloured.images), SHAPE)
    mask = as_images(torch.from_numpy(plain.images), (1, 64, 64))
    assert x.shape == (300, 3, 64, 64)
    assert (x * (1 - mask) == 0).all()  # black background
    on = x.permute(0, 2, 3, 1)[mask[:, 0] > 0]
    assert on.min() >= 0.5 - 1e-6 and on.max() <= 1.0
    per_image = (x.sum(dim=(2, 3)) / mask.sum(dim=(2, 3))).numpy()  # the colour of each sprite
    np.testing.assert_allclose(per_image, sprite_colours(coloured.factors) / 255.0, atol=1e-5)
    # The colour belongs to the image (its factors), not to its row in a subsample.
    np.testing.assert_array_equal(sprite_colours(coloured.factors[::-1]), sprite_colours(coloured.factors)[::-1])
    spread = sprite_colours(SPACE.classes_of(np.arange(5000))).astype(float) / 255
    assert abs(spread.mean() - 0.75) < 0.01 and spread.min() >= 0.5 and spread.max() <= 1.0


def test_noisy_dsprites_puts_the_white_sprite_over_fresh_uniform_noise(tmp_path):
    noisy, plain = _prepared(tmp_path, "noisy_dsprites")
    torch.manual_seed(0)
    x = as_images(torch.from_numpy(noisy.images), SHAPE)
    mask = as_images(torch.from_numpy(plain.images), (1, 64, 64)).expand(-1, 3, -1, -1)
    assert (x[mask > 0] == 1).all()
    background = x[mask == 0]
    assert background.min() >= 0 and background.max() < 1 and abs(background.mean().item() - 0.5) < 0.01
    assert not torch.equal(as_images(torch.from_numpy(noisy.images[:5]), SHAPE), x[:5])  # fresh noise per batch


def test_auto_model_for_colour_dsprites_is_the_three_channel_conv_net():
    config = model_config(parse_params({"data": {"dataset": "color_dsprites"}, "model": {"hidden_dim": 16}}))
    assert (config.arch, config.image_shape, config.likelihood) == ("conv", SHAPE, "continuous_bernoulli")
    out, mu, _ = VAE(config)(torch.rand(2, *SHAPE))
    assert out.shape == (2, *SHAPE) and mu.shape == (2, 10)
