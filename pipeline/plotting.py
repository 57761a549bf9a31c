"""Figures of one model, as matplotlib figures; the plot stage decides where they go."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from pipeline.paths import atomic_path


def _tile(images: np.ndarray, columns: int) -> np.ndarray:
    """(n, h, w) grey or (n, h, w, 3) colour → one (rows·h, columns·w[, 3]) mosaic with grey separators."""
    n, h, w = images.shape[:3]
    rows = -(-n // columns)
    canvas = np.full((rows * (h + 1) + 1, columns * (w + 1) + 1, *images.shape[3:]), 0.5)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        canvas[1 + r * (h + 1) : 1 + r * (h + 1) + h, 1 + c * (w + 1) : 1 + c * (w + 1) + w] = image
    return canvas


def _mosaic_figure(mosaic: np.ndarray, title: str, scale: float = 0.016) -> tuple[Figure, plt.Axes]:
    """One inch per ~60 image pixels, plus room for the title and labels."""
    fig, ax = plt.subplots(figsize=(max(mosaic.shape[1] * scale, 4) + 1.2, mosaic.shape[0] * scale + 1.0))
    ax.imshow(mosaic, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    return fig, ax


def reconstructions(originals: np.ndarray, recon: np.ndarray, beta: float) -> Figure:
    """Top row held-out images, bottom row the decoder's mean p(x|z=μ)."""
    mosaic = _tile(np.concatenate([originals, recon]), columns=len(originals))
    fig, ax = _mosaic_figure(mosaic, f"Held-out images (top) and reconstructions (bottom), β = {beta:g}")
    return fig


def samples(images: np.ndarray, beta: float) -> Figure:
    columns = int(np.ceil(np.sqrt(len(images))))
    fig, _ = _mosaic_figure(_tile(images, columns), f"Decoded samples z ~ N(0, I), β = {beta:g}")
    return fig


def traversals(rows: np.ndarray, dims: Sequence[int], kl: Sequence[float], values: np.ndarray, beta: float) -> Figure:
    """rows: (n_dims, steps, h, w[, 3]), one row per latent dimension, ordered as `dims` (by KL)."""
    n_dims, steps, h, w = rows.shape[:4]
    mosaic = _tile(rows.reshape(n_dims * steps, *rows.shape[2:]), columns=steps)
    fig, ax = _mosaic_figure(mosaic, f"Latent traversals, β = {beta:g} (rows by KL, high to low)")
    ax.set_yticks([1 + i * (h + 1) + h / 2 for i in range(n_dims)])
    ax.set_yticklabels([f"z{d}  KL {k:.2f}" for d, k in zip(dims, kl)], fontsize=8)
    ax.set_xticks([1 + i * (w + 1) + w / 2 for i in range(steps)])
    ax.set_xticklabels([f"{v:+.1f}" for v in values], fontsize=7)
    ax.set_xlabel("offset from the image's posterior mean, per dimension", fontsize=8)
    fig.tight_layout()
    return fig


def kl_per_dimension(kl: Sequence[float], beta: float, threshold_active: Sequence[bool]) -> Figure:
    fig, ax = plt.subplots(figsize=(6, 3.2))
    colors = ["tab:blue" if active else "tab:gray" for active in threshold_active]
    ax.bar([f"z{i}" for i in range(len(kl))], kl, color=colors)
    ax.set_xlabel("latent dimension (grey: inactive)")
    ax.set_ylabel("KL(q(z_i|x) ‖ p(z_i)) [nats]")
    ax.set_title(f"KL per latent dimension on held-out data, β = {beta:g}")
    fig.tight_layout()
    return fig


def training_curves(steps: np.ndarray, recon: np.ndarray, kl: np.ndarray, loss: np.ndarray, beta: float) -> Figure:
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
    left.plot(steps, recon, label="reconstruction (NLL)")
    left.plot(steps, loss, label=f"loss = recon + {beta:g}·KL")
    left.set_xlabel("optimizer step")
    left.set_ylabel("nats per image")
    left.legend()
    right.plot(steps, kl, color="tab:green")
    right.set_xlabel("optimizer step")
    right.set_ylabel("KL [nats per image]")
    fig.suptitle(f"Training curves, β = {beta:g}")
    fig.tight_layout()
    return fig


def save(fig: Figure, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
