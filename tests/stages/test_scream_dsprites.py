"""scream-dSprites (Locatello et al. 2019) from a tiny image the tests write: disentanglement_lib's thumbnail, and
every pixel of training batches and of the scores' observations against its published formula."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from pipeline.core.configs import model_config
from pipeline.core.params import parse_params
from pipeline.core.paths import Outputs
from pipeline.stages import prepare
from pipeline.stages.artifacts import load_held_out
from pipeline.stages.ground_truth import ground_truth
from vae.batches import as_images, to_device
from vae.datasets import load_dataset
from vae.datasets.scream import read_texture
from vae.errors import DatasetError

SIDE = 68  # a 68 × 68 image stays as it is (it fits 350 × 274): crops start at rows and columns 0..3


def _image(path, width: int = SIDE, height: int = SIDE, seed: int = 0):
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)  # PNG: lossless, so the texture is these pixels
    return pixels


def _prepared(tmp_path):
    texture = _image(tmp_path / "scream.png")
    out = Outputs(tmp_path / "work")
    data = {"dataset": "scream_dsprites", "source": str(tmp_path / "scream.png"), "subsample": 300, "test_size": 50}
    prepare.run(parse_params({"data": data}), out)
    return out, texture


def published(texture: np.ndarray, top: int, left: int, colour: np.ndarray, sprite: np.ndarray) -> np.ndarray:
    """disentanglement_lib's ScreamDSprites for one observation, (3, 64, 64)."""
    scream = texture / 255.0
    background = (scream[top : top + 64, left : left + 64] + colour) / 2.0
    mask = sprite == 1
    background[mask] = 1 - background[mask]
    return background.transpose(2, 0, 1)


def recover(x: np.ndarray, sprite: np.ndarray, texture: np.ndarray) -> tuple[int, int, np.ndarray]:
    """The crop start and colour an observation was made with: the one start (of all, the excluded last
    included) at which 2·background − crop is one colour per channel."""
    background = np.where(sprite[None] == 1, 1 - x, x).astype(np.float64)
    starts = [(top, left) for top in range(texture.shape[0] - 63) for left in range(texture.shape[1] - 63)]
    crops = np.stack([texture[top : top + 64, left : left + 64].transpose(2, 0, 1) for top, left in starts]) / 255.0
    colours = (2 * background - crops).reshape(len(starts), 3, -1)
    (fits,) = np.nonzero(np.ptp(colours, axis=2).max(axis=1) < 1e-5)
    assert len(fits) == 1, f"{len(fits)} crops fit"
    return *starts[fits[0]], colours[fits[0]].mean(axis=1)


def _check(images: np.ndarray, sprites: np.ndarray, texture: np.ndarray) -> np.ndarray:
    starts = []
    for x, sprite in zip(images, sprites, strict=True):
        top, left, colour = recover(x, sprite, texture)
        assert colour.min() >= 0 and colour.max() < 1
        np.testing.assert_allclose(x, published(texture, top, left, colour, sprite), atol=1e-6)
        starts.append((top, left))
    return np.array(starts)


def test_the_image_is_thumbnailed_to_fit_350_by_274_as_pil_does(tmp_path):
    _image(tmp_path / "portrait.png", width=400, height=500)
    assert read_texture(tmp_path / "portrait.png").shape == (274, 219, 3)  # 400 · 274 / 500 = 219.2
    _image(tmp_path / "wide.png", width=700, height=548)
    assert read_texture(tmp_path / "wide.png").shape == (274, 350, 3)
    small = _image(tmp_path / "small.png")
    np.testing.assert_array_equal(read_texture(tmp_path / "small.png"), small)  # never enlarged
    _image(tmp_path / "narrow.png", width=64, height=100)
    with pytest.raises(DatasetError, match=r"64×100 after thumbnailing; 64×64 crops need more than 64"):
        read_texture(tmp_path / "narrow.png")


def test_a_missing_image_is_one_line_saying_where_to_get_it_and_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))  # the repository root the default place is under
    with pytest.raises(DatasetError) as exc:
        prepare.run(parse_params({"data": {"dataset": "scream_dsprites"}}), Outputs(tmp_path / "work"))
    message = str(exc.value)
    assert "\n" not in message and message.startswith(str(tmp_path / "data/scream/scream.jpg"))
    assert "https://upload.wikimedia.org/wikipedia/commons/f/f4/The_Scream.jpg" in message
    assert "nothing is downloaded" in message and "data.source" in message
    assert not (tmp_path / "work" / "data").exists()


def test_batches_invert_a_fresh_random_crop_plus_colour_under_the_sprite(tmp_path):
    out, texture = _prepared(tmp_path)
    scream, plain = load_dataset("scream_dsprites", out.dataset), load_dataset("dsprites", out.dataset)
    np.testing.assert_array_equal(scream.texture, texture)
    np.testing.assert_array_equal(load_held_out(out).texture, texture)  # travels with the split to every stage
    stored = to_device(scream.images[:64], torch.device("cpu"), scream.texture)
    torch.manual_seed(0)
    x = as_images(stored, (3, 64, 64)).numpy()
    sprites = as_images(torch.from_numpy(plain.images[:64]), (1, 64, 64))[:, 0].numpy()
    starts = _check(x, sprites, texture)
    assert starts.min() == 0 and starts.max() == SIDE - 65  # the last start, SIDE − 64, is never drawn
    again = as_images(stored[:8], (3, 64, 64)).numpy()
    assert not np.allclose(again, x[:8])  # drawn afresh for each batch
    config = model_config(parse_params({"data": {"dataset": "scream_dsprites"}, "model": {"hidden_dim": 16}}))
    assert (config.arch, config.image_shape, config.likelihood) == ("conv", (3, 64, 64), "continuous_bernoulli")


def test_the_scores_observations_follow_the_published_loop_from_their_generator(tmp_path):
    out, texture = _prepared(tmp_path)
    data = ground_truth("scream_dsprites", out.dataset)
    assert data.factor_sizes == (3, 6, 40, 32, 32)
    factors = np.random.default_rng(1).integers(0, data.factor_sizes, (12, 5))
    x = data.observations(factors, np.random.default_rng(7))
    sprites = ground_truth("dsprites").observations(factors, np.random.default_rng(7))
    _check(x, sprites, texture)
    rng = np.random.default_rng(7)  # disentanglement_lib's draws per observation: crop row, crop column, colour
    for observation, sprite in zip(x, sprites, strict=True):
        top, left = rng.integers(0, SIDE - 64), rng.integers(0, SIDE - 64)
        expected = published(texture, top, left, rng.uniform(0, 1, size=3), sprite)
        np.testing.assert_allclose(observation, expected, atol=1e-6)
    with pytest.raises(ValueError, match="scream_dsprites has no ground-truth factors to sample without its"):
        ground_truth("scream_dsprites")
