"""Latent introspection: which factor a latent carries, per-class curves, and the plot stage's new figures
from a small untrained model."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pipeline.core.paths import Figure
from pipeline.stages.introspection import introspection_target
from pipeline.stages.latents import carried_factor, class_curves, latent_figures, principal_components
from testkit.batches import tiny_model_and_sprites
from vae.dsprites import FACTOR_NAMES


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
    params, model, packed, classes = tiny_model_and_sprites(60)
    d = params.model.latent_dim
    details = {
        "kl_per_dim": list(np.linspace(2.0, 0.0, d)),
        "active": [True, True] + [False] * (d - 2),
        "mutual_info": np.full((d, 6), 0.1).tolist(),
        "factor_entropy": [0.0, 1.0, 1.5, 3.0, 3.0, 3.0],
        "factor_names": list(FACTOR_NAMES),
    }
    figures = dict(latent_figures(model, packed, classes, details, params, torch.device("cpu")))
    assert set(figures) == {
        Figure.LATENT_TABLE,
        Figure.PRIOR_TRAVERSALS,
        Figure.INTERPOLATIONS,
        Figure.LATENT_VS_FACTOR,
        Figure.LATENT_SCATTER,
        Figure.LATENT_PCA,
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


def test_principal_components_hand_values():
    # Sums of squares 2 along x and 0.5 along y, none along the constant z: 80% and 20% of the variance.
    codes = np.array([[1.0, 0.0, 3.0], [-1.0, 0.0, 3.0], [0.0, 0.5, 3.0], [0.0, -0.5, 3.0]])
    coords, ratio = principal_components(codes)
    np.testing.assert_allclose(ratio, [0.8, 0.2])
    np.testing.assert_allclose(np.abs(coords), [[1.0, 0.0], [1.0, 0.0], [0.0, 0.5], [0.0, 0.5]], atol=1e-12)
    coords, ratio = principal_components(codes[:, :1])  # one latent: no second component
    np.testing.assert_allclose(ratio, [1.0, 0.0])
    assert np.all(coords[:, 1] == 0)


def test_latent_figures_against_a_class_label():
    params, model, packed, _ = tiny_model_and_sprites(60)
    d = params.model.latent_dim
    labels = np.arange(60) % 10
    details = {"kl_per_dim": list(np.linspace(2.0, 0.0, d)), "active": [True] + [False] * (d - 1)}
    target = introspection_target(
        None, labels, {"label_mutual_info": np.full((d, 1), 0.46).tolist(), "label_entropy": [math.log(10)]}
    )
    assert target is not None
    figures = dict(latent_figures(model, packed, target.classes, target.details(details), params, torch.device("cpu")))
    assert Figure.LATENT_PCA in figures and Figure.LATENT_VS_FACTOR in figures
    assert [ax.get_title() for ax in figures[Figure.LATENT_SCATTER].axes] == ["colour: label"]
    assert [ax.get_title() for ax in figures[Figure.LATENT_PCA].axes] == ["colour: label"]
    assert figures[Figure.LATENT_PCA].axes[0].get_xlabel().startswith("PC1 (")
    assert len(figures[Figure.LATENT_VS_FACTOR].axes) == 1  # one active latent against the label
    labels_shown = [t.get_text() for t in figures[Figure.LATENT_TABLE].axes[0].get_yticklabels()]
    assert labels_shown[0].endswith(f"label {0.46 / math.log(10):.2f}")


@pytest.mark.parametrize("dataset", ["color_dsprites", "noisy_dsprites"])
def test_latent_figures_of_colour_images(dataset):
    params, model, stored, classes = tiny_model_and_sprites(40, override={"data": {"dataset": dataset}})
    assert model.config.image_shape == (3, 64, 64)
    d = params.model.latent_dim
    details = {
        "kl_per_dim": list(np.linspace(2.0, 0.0, d)),
        "active": [True] + [False] * (d - 1),
        "mutual_info": np.full((d, 6), 0.1).tolist(),
        "factor_entropy": [0.0, 1.0, 1.5, 3.0, 3.0, 3.0],
        "factor_names": list(FACTOR_NAMES),
    }
    figures = dict(latent_figures(model, stored, classes, details, params, torch.device("cpu")))
    assert len(figures) == 6
    table = figures[Figure.LATENT_TABLE].axes[0].get_images()[0].get_array()
    assert table.ndim == 3 and table.shape[2] == 3  # drawn in colour
