"""Latent introspection: which factor a latent carries, per-class curves, and the plot stage's new figures
from a small untrained model."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pipeline.configs import model_config
from pipeline.latents import carried_factor, class_curves, latent_figures
from pipeline.params import Params
from pipeline.paths import Figure
from testkit.project import TINY_PARAMS
from vae.batches import to_device
from vae.dsprites import FACTOR_NAMES, SPACE, render_images
from vae.model import VAE


def test_carried_factor_by_normalised_mutual_information():
    # latent 0 carries half of scale's entropy (log 6) but more nats of posX (log 32); normalised, scale wins.
    entropy = np.array([0.0, math.log(6), math.log(32)])
    mi = np.array([[0.0, 0.5 * math.log(6), 0.3 * math.log(32)], [0.0, 0.01, 0.9 * math.log(32)]])
    assert carried_factor(mi, entropy, ["color", "scale", "posX"]) == ["scale 0.50", "posX 0.90"]
    assert carried_factor(np.zeros((2, 1)), np.zeros(1), ["color"]) == ["–", "–"]


def test_class_curves_hand_values():
    codes = np.array([1.0, 3.0, 10.0, 10.0])
    classes = np.array([0, 0, 2, 2])
    mean, std = class_curves(codes, classes, 3)
    np.testing.assert_allclose(mean[[0, 2]], [2.0, 10.0])
    np.testing.assert_allclose(std[[0, 2]], [1.0, 0.0])
    assert math.isnan(mean[1]) and math.isnan(std[1])


def test_latent_figures_of_a_tiny_model():
    params = Params.model_validate({"model": TINY_PARAMS["model"], "plot": TINY_PARAMS["plot"]})
    torch.manual_seed(0)
    model = VAE(model_config(params)).eval()
    indices = np.random.default_rng(0).choice(SPACE.n, 60, replace=False)
    images = render_images(indices)
    packed = to_device(np.packbits(images.reshape(len(images), -1), axis=1), torch.device("cpu"))
    d = params.model.latent_dim
    details = {
        "kl_per_dim": list(np.linspace(2.0, 0.0, d)),
        "active": [True, True] + [False] * (d - 2),
        "mutual_info": np.full((d, 6), 0.1).tolist(),
        "factor_entropy": [0.0, 1.0, 1.5, 3.0, 3.0, 3.0],
        "factor_names": list(FACTOR_NAMES),
    }
    figures = dict(latent_figures(model, packed, SPACE.classes_of(indices), details, params, torch.device("cpu")))
    assert set(figures) == {
        Figure.LATENT_TABLE,
        Figure.PRIOR_TRAVERSALS,
        Figure.INTERPOLATIONS,
        Figure.LATENT_VS_FACTOR,
        Figure.LATENT_SCATTER,
    }
    # Two active latents × five varying factors of curves; the scatter has one panel per varying factor.
    assert len(figures[Figure.LATENT_VS_FACTOR].axes) == 2 * 5
    assert len(figures[Figure.LATENT_SCATTER].axes) == 5
    labels = [t.get_text() for t in figures[Figure.LATENT_TABLE].axes[0].get_yticklabels()]
    assert labels[0].startswith("z0  KL  2.00  active") and labels[0].endswith("shape 0.10")  # 0.1 nats of 1 nat


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
