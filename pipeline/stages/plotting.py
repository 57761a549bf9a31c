"""Figures of one model, as matplotlib figures; the plot stage decides where they go."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from pipeline.core.figures import save

__all__ = ["save"]  # the plot stage saves its figures through this module


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


KL_PARTS = ("kl", "capacity", "mi", "tc", "dim_kl")  # nats, drawn on one panel
TERM_LABELS = {
    "loss": "loss (the objective)",
    "recon": "reconstruction (NLL)",
    "kl": "KL",
    "capacity": "capacity C(t)",
    "mi": "index-code MI",
    "tc": "total correlation",
    "dim_kl": "dimension-wise KL",
    "disc_loss": "discriminator loss",
    "disc_acc": "discriminator accuracy",
}


def training_curves(steps: np.ndarray, terms: Mapping[str, np.ndarray], title: str) -> Figure:
    """Every logged term: loss and reconstruction; the KL with its parts (and C(t)); a discriminator's
    loss and accuracy when the objective has one."""
    panels = [
        ([t for t in ("loss", "recon") if t in terms], "nats per image"),
        ([t for t in KL_PARTS if t in terms], "nats per image"),
        ([t for t in terms if t not in ("loss", "recon", *KL_PARTS)], "discriminator"),
    ]
    panels = [(names, unit) for names, unit in panels if names]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.4), squeeze=False)
    for ax, (names, unit) in zip(axes[0], panels):
        for name in names:
            ax.plot(steps, terms[name], label=TERM_LABELS.get(name, name))
        ax.set_xlabel("optimizer step")
        ax.set_ylabel(unit)
        ax.legend(fontsize=8)
    fig.suptitle(f"Training curves, {title}")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------ latent introspection


def latent_table(
    strips: np.ndarray,
    dims: Sequence[int],
    kl: Sequence[float],
    active: Sequence[bool],
    carries: Sequence[str],
    values: np.ndarray,
    beta: float,
) -> Figure:
    """One row per latent (by KL, high to low): its KL, whether it is active, the factor it carries most
    (normalised MI) and its traversal strip. strips: (n_dims, steps, h, w[, 3])."""
    n_dims, steps, h, w = strips.shape[:4]
    mosaic = _tile(strips.reshape(n_dims * steps, *strips.shape[2:]), columns=steps)
    fig, ax = _mosaic_figure(mosaic, f"Latents by KL, β = {beta:g}: KL · active · factor carried most (I/H)")
    ax.set_yticks([1 + i * (h + 1) + h / 2 for i in range(n_dims)])
    labels = [
        f"z{d}  KL {k:5.2f}  {'active  ' if a else 'inactive'}  {c}" for d, k, a, c in zip(dims, kl, active, carries)
    ]
    ax.set_yticklabels(labels, fontsize=8, family="monospace")
    ax.set_xticks([1 + i * (w + 1) + w / 2 for i in range(steps)])
    ax.set_xticklabels([f"{v:+.1f}" for v in values], fontsize=7)
    ax.set_xlabel("traversal: offset from a held-out image's posterior mean", fontsize=8)
    fig.tight_layout()
    return fig


def interpolations(rows: np.ndarray, beta: float) -> Figure:
    """rows: (pairs, steps, h, w[, 3]), each row decoded along the straight line between two held-out codes."""
    pairs, steps, h, w = rows.shape[:4]
    fig, ax = _mosaic_figure(
        _tile(rows.reshape(pairs * steps, *rows.shape[2:]), columns=steps),
        f"Interpolation between held-out pairs in latent space (posterior means), β = {beta:g}",
    )
    ax.set_xticks([1 + i * (w + 1) + w / 2 for i in range(steps)])
    ax.set_xticklabels([f"{t:.2f}" for t in np.linspace(0, 1, steps)], fontsize=7)
    ax.set_xlabel("t: code = (1 − t)·μ(first) + t·μ(second)", fontsize=8)
    fig.tight_layout()
    return fig


def latent_vs_factor(
    curves: np.ndarray, spread: np.ndarray, dims: Sequence[int], factor_names: Sequence[str], beta: float
) -> Figure:
    """Mean code of each latent (rows) against each factor's class (columns), ± its std over the other
    factors (Chen et al. 2018, Fig. 5). curves, spread: (n_dims, n_factors) lists of per-class arrays."""
    n_dims, n_factors = len(dims), len(factor_names)
    fig, axes = plt.subplots(
        n_dims, n_factors, figsize=(1.9 * n_factors + 0.8, 1.3 * n_dims + 0.9), squeeze=False, sharey="row"
    )
    for i, dim in enumerate(dims):
        for j, name in enumerate(factor_names):
            ax = axes[i][j]
            mean, std = np.asarray(curves[i][j]), np.asarray(spread[i][j])
            x = np.arange(len(mean))
            ax.plot(x, mean, color="tab:blue", lw=1.2)
            ax.fill_between(x, mean - std, mean + std, color="tab:blue", alpha=0.2, lw=0)
            ax.tick_params(labelsize=6)
            if i == 0:
                ax.set_title(name, fontsize=8)
            if j == 0:
                ax.set_ylabel(f"z{dim}", fontsize=8)
            if i == n_dims - 1:
                ax.set_xlabel("class", fontsize=7)
    fig.suptitle(f"Mean code of each active latent against each factor (± std), β = {beta:g}", fontsize=9)
    fig.tight_layout()
    return fig


def latent_scatter(
    codes: np.ndarray,
    pair: Sequence[int],
    factors: np.ndarray,
    factor_names: Sequence[str],
    beta: float,
    cmap: str = "viridis",
    axis_labels: tuple[str, str] | None = None,
    title: str | None = None,
) -> Figure:
    """Two coordinates of held-out codes (by default the two highest-KL latents `pair`), one panel per factor
    (or the class label), points coloured by its class; `axis_labels` and `title` name other coordinates."""
    n = len(factor_names)
    x_label, y_label = axis_labels or (f"z{pair[0]}", f"z{pair[1]}")
    fig, axes = plt.subplots(1, n, figsize=(2.7 * n + 0.6, 3.0), squeeze=False)
    for j, (ax, name) in enumerate(zip(axes[0], factor_names)):
        ax.scatter(codes[:, 0], codes[:, 1], c=factors[:, j], s=3, cmap=cmap, alpha=0.7, linewidths=0)
        ax.set_title(f"colour: {name}", fontsize=8)
        ax.set_xlabel(x_label, fontsize=8)
        ax.tick_params(labelsize=6)
    axes[0][0].set_ylabel(y_label, fontsize=8)
    fig.suptitle(title or f"The two highest-KL latents of held-out images, β = {beta:g}", fontsize=9)
    fig.tight_layout()
    return fig
