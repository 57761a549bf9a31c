"""Objectives side by side: runs grouped by (objective with its other settings, weight), one line per group
on shared axes with the weight on x, never pooled across objectives. Pure grouping plus one figure; the
per-β figures of the report show one objective's runs (`pipeline.report.sections`)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from pipeline.core.objectives import DEFAULT_OBJECTIVE, WEIGHT_KEYS, symbol
from pipeline.core.objectives import TITLES as OBJECTIVE_TITLES
from pipeline.report.data import BetaRow, RunRecord, aggregate, kl_rank_matrix
from pipeline.report.figures import LABELS, TITLES, kl_rank_heatmap

OBJECTIVE_METRICS = ("elbo", "recon", "kl", "mi", "tc", "dim_kl", "mig", "active_units")


def objective_groups(runs: Iterable[RunRecord]) -> dict[str, list[BetaRow]]:
    """Legend label → rows by the objective's weight (the row's `beta` holds the weight), with mean/std/n
    of OBJECTIVE_METRICS over seeds. Runs whose weight is unknown are left out."""
    groups: dict[str, list[RunRecord]] = defaultdict(list)
    for run in runs:
        if math.isfinite(run.weight):
            groups[run.objective_label or run.objective].append(replace(run, beta=run.weight))
    return {label: aggregate(members, OBJECTIVE_METRICS) for label, members in sorted(groups.items())}


def relabel_weight_axis(fig: Figure, weight: str) -> None:
    """Name `weight` (C_max, γ) where a per-β figure says β, for a page whose rows are keyed by another
    objective's weight: axis labels, legend entries and row labels."""
    for ax in fig.axes:
        ax.set_xlabel(ax.get_xlabel().replace("β (KL weight", f"{weight} (the objective's weight"))
        ax.set_ylabel(ax.get_ylabel().replace("β", weight))
        rows = [t.get_text() for t in ax.get_yticklabels()]
        if any("β" in row for row in rows):  # the heatmap's rows, set as fixed labels
            ax.set_yticks(ax.get_yticks(), [row.replace("β", weight) for row in rows])
        if (legend := ax.get_legend()) is not None:
            for text in legend.get_texts():
                text.set_text(text.get_text().replace("β", weight))
        ax.set_title(ax.get_title().replace("β", weight))
    if fig._suptitle is not None:
        fig._suptitle.set_text(fig._suptitle.get_text().replace("β", weight))


def objectives_figure(groups: Mapping[str, Sequence[BetaRow]]) -> Figure:
    """One panel per metric that any group has; per group a line of means ± std against its weight."""
    metrics = [m for m in OBJECTIVE_METRICS if any(row.stats[m].n for rows in groups.values() for row in rows)]
    columns = min(4, len(metrics))
    n_rows = -(-len(metrics) // columns)
    fig, axes = plt.subplots(n_rows, columns, figsize=(4.3 * columns, 3.5 * n_rows + 0.8), squeeze=False)
    weights = sorted({row.beta for rows in groups.values() for row in rows})
    for ax, metric in zip(axes.flat, metrics):
        for index, (label, rows) in enumerate(groups.items()):
            points = [(row.beta, row.stats[metric]) for row in rows if row.stats[metric].n]
            if points:
                xs = [x for x, _ in points]
                ys = [s.mean for _, s in points]
                err = [0.0 if math.isnan(s.std) else s.std for _, s in points]
                ax.errorbar(xs, ys, yerr=err, fmt="o-", capsize=3, ms=4, lw=1.3, label=f"[{index + 1}] {label}")
        title, ylabel = TITLES.get(metric, metric), LABELS.get(metric, metric)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.set_xscale("symlog", linthresh=1.0, linscale=0.6)
        ax.set_xticks(weights)
        ax.set_xticklabels([f"{w:g}" for w in weights], fontsize=7)
        ax.minorticks_off()
        ax.set_xlabel("the objective's weight (see legend; symlog)", fontsize=8)
        ax.grid(True, alpha=0.3)
    for ax in list(axes.flat)[len(metrics) :]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncols=min(2, len(labels)), fontsize=8)
    fig.tight_layout(rect=(0, 0.04 + 0.03 * math.ceil(len(labels) / 2), 1, 1))
    return fig


def objectives_kl_heatmap(groups: Mapping[str, Sequence[BetaRow]]) -> Figure | None:
    """KL per latent dimension, sorted, one row per (objective and settings, weight); None without kl_dim.*."""
    weights, tables, counts, labels = [], [], [], []
    for index, rows in enumerate(groups.values()):
        row_weights, matrix, row_counts = kl_rank_matrix(rows)
        name = rows[0].runs[0].objective if rows else DEFAULT_OBJECTIVE
        for weight, values, n in zip(row_weights, matrix, row_counts):
            short = f"{OBJECTIVE_TITLES.get(name, name)} [{index + 1}]"
            labels.append(f"{short} {symbol(WEIGHT_KEYS.get(name, 'beta'))} = {weight:g}")
            weights.append(weight)
            tables.append(values)
            counts.append(n)
    if not tables:
        return None
    width = max(len(values) for values in tables)
    matrix = np.full((len(tables), width), np.nan)
    for i, values in enumerate(tables):
        matrix[i, : len(values)] = values
    title = "KL per latent dimension, sorted, per objective and weight ([n]: the legend's entry)"
    return kl_rank_heatmap(weights, matrix, counts, row_labels=labels, title=title)
