"""The report's figures across runs, as matplotlib figures built from plain numbers (no MLflow, no files).

β runs from 0 (a plain autoencoder objective) over several octaves, so every β axis is `symlog` with a
linear part up to 1: β = 0 shows, and 1, 2, 4, 8, 16 are evenly spaced.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from pipeline.core.catalogue import CATALOGUE, NATS

LABELS = {name: metric.axis for name, metric in CATALOGUE.items()}  # axis labels with units
TITLES = {name: metric.title for name, metric in CATALOGUE.items()}
MEAN_COLOR = "tab:blue"
RUN_COLOR = "0.35"


def beta_label(beta: float) -> str:
    return f"{beta:g}"


def beta_colors(betas: Sequence[float]) -> dict[float, tuple]:
    """One viridis colour per β, spaced by rank so neighbouring βs stay distinguishable."""
    ordered = sorted(set(betas))
    cmap = plt.get_cmap("viridis")
    span = max(len(ordered) - 1, 1)
    return {b: cmap(0.9 * i / span) for i, b in enumerate(ordered)}


def _beta_axis(ax: plt.Axes, betas: Sequence[float]) -> None:
    ax.set_xscale("symlog", linthresh=1.0, linscale=0.6)
    ticks = sorted(set(betas))
    ax.set_xticks(ticks)
    ax.set_xticklabels([beta_label(b) for b in ticks])
    ax.minorticks_off()
    low, high = min(ticks), max(ticks)
    # Margins in symlog space: a quarter of the linear region below, a fraction of an octave above.
    ax.set_xlim(low - 0.25 if low <= 1 else low / 1.25, high * 1.25 if high >= 1 else high + 0.25)
    ax.set_xlabel("β (KL weight; symlog axis, linear below 1)")
    ax.grid(True, alpha=0.3)


def _against_beta(
    ax: plt.Axes,
    metric: str,
    betas: Sequence[float],
    means: Sequence[float],
    stds: Sequence[float],
    run_points: Sequence[tuple[float, float]],
    interval: Sequence[tuple[float, float]] | None = None,
) -> None:
    if run_points:
        xs, ys = zip(*run_points)
        # Hollow rings above the means, so a run that sits on its β's mean still shows.
        ax.scatter(
            xs,
            ys,
            s=26,
            facecolors="none",
            edgecolors=RUN_COLOR,
            alpha=0.8,
            linewidths=1.0,
            zorder=4,
            label="single runs",
        )
    means_arr = np.asarray(means, dtype=float)
    finite = np.isfinite(means_arr)
    if finite.any():
        x = np.asarray(betas, dtype=float)[finite]
        err = np.nan_to_num(np.asarray(stds, dtype=float)[finite], nan=0.0)
        label = "mean ± std over seeds"
        if interval is not None:  # asymmetric bars: the bootstrap interval of the mean (none for one seed)
            bounds = np.asarray(interval, dtype=float)[finite]
            err = np.nan_to_num(np.abs(bounds.T - means_arr[finite]), nan=0.0)
            label = "mean, 95% bootstrap CI over seeds"
        ax.errorbar(
            x,
            means_arr[finite],
            yerr=err,
            fmt="o-",
            color=MEAN_COLOR,
            capsize=3,
            lw=1.5,
            ms=5,
            zorder=3,
            label=label,
        )
    _beta_axis(ax, betas)
    ax.set_ylabel(LABELS[metric])
    ax.set_title(TITLES[metric], fontsize=10)


def metric_against_beta(
    metrics: Sequence[str],
    betas: Sequence[float],
    means: Mapping[str, Sequence[float]],
    stds: Mapping[str, Sequence[float]],
    run_points: Mapping[str, Sequence[tuple[float, float]]],
    width_per_panel: float = 4.3,
    height: float = 3.7,
    intervals: Mapping[str, Sequence[tuple[float, float]]] | None = None,
) -> Figure:
    """One panel per metric: mean ± std over seeds per β (or the mean and its interval, where `intervals`
    has the metric), every run as a faint ring."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(width_per_panel * len(metrics) + 0.4, height), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        interval = intervals.get(metric) if intervals else None
        _against_beta(ax, metric, betas, means[metric], stds[metric], run_points.get(metric, ()), interval)
    axes[0][0].legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def rate_distortion(points: Sequence[tuple[float, float, float]]) -> Figure:
    """points: (β, reconstruction, KL) per run. Per-β means joined in β order show the trade-off curve."""
    fig, ax = plt.subplots(figsize=(6.0, 4.2))
    colors = beta_colors([b for b, _, _ in points])
    for beta, color in colors.items():
        mine = [(d, r) for b, d, r in points if b == beta]
        ax.scatter(
            *zip(*mine),
            s=34,
            color=color,
            alpha=0.85,
            edgecolors="white",
            linewidths=0.5,
            label=f"β = {beta_label(beta)}",
            zorder=3,
        )
    means = [
        (np.mean([d for b2, d, _ in points if b2 == b]), np.mean([r for b2, _, r in points if b2 == b])) for b in colors
    ]
    if len(means) > 1:
        ax.plot(*zip(*means), color="0.6", lw=1, ls="--", zorder=1, label="per-β mean, β order")
    ax.set_xlabel(f"distortion: reconstruction −log p(x|z) [{NATS}]")
    ax.set_ylabel(f"rate: KL(q(z|x) ‖ p(z)) [{NATS}]")
    ax.set_title("Rate–distortion: one point per run", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="best", ncols=2 if len(colors) > 5 else 1)
    fig.tight_layout()
    return fig


def _annotate(ax: plt.Axes, matrix: np.ndarray, fmt: str, vmax: float) -> None:
    rows, cols = matrix.shape
    if rows * cols > 400:
        return
    for r in range(rows):
        for c in range(cols):
            value = matrix[r, c]
            if np.isfinite(value):
                dark = value < 0.55 * vmax  # viridis is dark at the low end
                text = format(value, fmt)
                text = text[1:] if text.startswith("-") and float(text) == 0 else text  # no "-0.00"
                ax.text(c, r, text, ha="center", va="center", fontsize=7, color="white" if dark else "black")


def kl_rank_heatmap(
    betas: Sequence[float],
    matrix: np.ndarray,
    n_runs: Sequence[int],
    row_labels: Sequence[str] | None = None,
    title: str = "KL per latent dimension, sorted (mean over runs of each β)",
) -> Figure:
    """matrix: β rows × rank columns, KL of the rank-th largest dimension (mean over the β's runs), nats.
    `row_labels` name rows that are not β values (objectives at their weights)."""
    matrix = np.asarray(matrix, dtype=float)
    n_rows, n_cols = matrix.shape
    fig, ax = plt.subplots(figsize=(max(5.0, 1.9 + 0.62 * n_cols), 1.5 + 0.42 * n_rows))
    vmax = float(np.nanmax(matrix)) if np.isfinite(matrix).any() else 1.0
    image = ax.imshow(np.ma.masked_invalid(matrix), cmap="viridis", aspect="auto", vmin=0, vmax=vmax or 1.0)
    _annotate(ax, matrix, ".2f" if vmax < 10 else ".1f", vmax or 1.0)
    ax.set_xticks(range(n_cols))
    ax.set_xticklabels([str(i + 1) for i in range(n_cols)])
    ax.set_yticks(range(n_rows))
    labels = row_labels if row_labels is not None else [f"β = {beta_label(b)}" for b in betas]
    ax.set_yticklabels([f"{label}  (n={n})" for label, n in zip(labels, n_runs)])
    ax.set_xlabel("latent dimensions ranked by KL within each row (1 = most informative)")
    ax.set_title(title, fontsize=10)
    bar = fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
    bar.set_label("KL [nats per image]")
    fig.tight_layout()
    return fig


def mutual_information(factor_names: Sequence[str], matrix: np.ndarray, title: str) -> Figure:
    """matrix: factors × latents, I(z_j; v_k) / H(v_k)."""
    matrix = np.asarray(matrix, dtype=float)
    n_rows, n_cols = matrix.shape
    fig, ax = plt.subplots(figsize=(max(4.5, 2.2 + 0.46 * n_cols), 1.7 + 0.42 * n_rows))
    image = ax.imshow(matrix, cmap="viridis", aspect="auto", vmin=0, vmax=1)
    _annotate(ax, matrix, ".2f", 1.0)
    ax.set_xticks(range(n_cols))
    ax.set_xticklabels([f"z{j}" for j in range(n_cols)])
    ax.set_yticks(range(n_rows))
    ax.set_yticklabels(list(factor_names))
    ax.set_xlabel("latent dimension (posterior mean)")
    ax.set_ylabel("ground-truth factor")
    ax.set_title(title, fontsize=9)
    bar = fig.colorbar(image, ax=ax, fraction=0.05, pad=0.02)
    bar.set_label("I(z_j; v_k) / H(v_k)")
    fig.tight_layout()
    return fig
