"""Latent introspection for the plot stage: what each latent carries, interpolations, latent-vs-factor curves,
the two highest-KL latents and the first two principal components of all latents against the factors (or
the class label, pipeline/stages/introspection.py), and traversals from the prior.

The arithmetic (which factor a latent carries, per-class means) is in small pure functions; the figures
come from pipeline.stages.plotting.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure as MplFigure

from pipeline.core.params import Params
from pipeline.core.paths import Figure
from pipeline.core.streams import numpy_stream
from pipeline.stages import plotting
from pipeline.stages.introspection import LABEL
from vae.batches import iterate
from vae.model import VAE

MAX_POINTS = 3000  # held-out codes behind the latent-vs-factor curves and the scatter
N_PAIRS = 4  # interpolated pairs


def carried_factor(mutual_info: np.ndarray, entropy: np.ndarray, names: Sequence[str]) -> list[str]:
    """Per latent, "<factor> <I/H>" of the varying factor with the largest normalised mutual information."""
    mutual_info, entropy = np.asarray(mutual_info, dtype=float), np.asarray(entropy, dtype=float)
    keep = entropy > 0
    if not keep.any():
        return ["–"] * mutual_info.shape[0]
    normalised = mutual_info[:, keep] / entropy[keep]
    kept = [name for name, k in zip(names, keep) if k]
    best = normalised.argmax(axis=1)
    return [f"{kept[b]} {normalised[i, b]:.2f}" for i, b in enumerate(best)]


def class_curves(codes: np.ndarray, classes: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) of `codes` (n,) per class 0..size-1 of `classes` (n,); NaN where a class is absent."""
    mean, std = np.full(size, np.nan), np.full(size, np.nan)
    for c in range(size):
        members = codes[classes == c]
        if len(members):
            mean[c], std[c] = members.mean(), members.std()
    return mean, std


def principal_components(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, 2) coordinates of `codes` (n, d) on their first two principal components (scikit-learn's PCA,
    centred, not whitened) and the fraction of the codes' variance each explains; a second component that
    does not exist (d = 1) is 0."""
    from sklearn.decomposition import PCA

    codes = np.asarray(codes, dtype=np.float64)
    k = min(2, codes.shape[1], codes.shape[0])
    pca = PCA(n_components=k, svd_solver="full").fit(codes)
    coords, ratio = np.zeros((len(codes), 2)), np.zeros(2)
    coords[:, :k], ratio[:k] = pca.transform(codes), pca.explained_variance_ratio_
    return coords, ratio


def pixels(x: torch.Tensor) -> np.ndarray:
    """(B, C, H, W) in [0, 1] → (B, H, W) grey or (B, H, W, C) colour, as matplotlib shows them."""
    x = x.float().cpu()
    return (x.squeeze(1) if x.shape[1] == 1 else x.permute(0, 2, 3, 1)).numpy()


def decoded(model: VAE, z: torch.Tensor) -> np.ndarray:
    """The images the decoder's output stands for under the model's likelihood."""
    return pixels(model.likelihood.mean(model.decode(z)))


def traversal_strips(model: VAE, base: torch.Tensor, dims: Sequence[int], values: np.ndarray) -> np.ndarray:
    """(len(dims), steps, h, w[, 3]): code `base` (1, latent_dim) decoded with latent `dims[i]` moved by each
    of `values` in row i, every other latent kept."""
    offsets = torch.as_tensor(values, dtype=base.dtype, device=base.device)
    rows = []
    for dim in dims:
        z = base.repeat(len(values), 1)
        z[:, dim] += offsets
        rows.append(decoded(model, z))
    return np.stack(rows)


def interpolation_strip(model: VAE, za: torch.Tensor, zb: torch.Tensor, steps: int) -> np.ndarray:
    """(steps, h, w[, 3]): codes (1 − t)·za + t·zb for t evenly from 0 to 1, decoded."""
    t = torch.linspace(0, 1, steps, device=za.device)[:, None]
    return decoded(model, (1 - t) * za + t * zb)


@torch.inference_mode()
def latent_figures(
    model: VAE,
    held_out: torch.Tensor,
    factors: np.ndarray,
    details: dict[str, Any],
    params: Params,
    device: torch.device,
) -> Iterator[tuple[str, MplFigure]]:
    """The introspection figures of one model from packed held-out images and their factor classes."""
    p = params.plot
    rng = numpy_stream("held_out_rows", params.data.split_seed)
    rows = np.sort(rng.choice(held_out.shape[0], min(MAX_POINTS, held_out.shape[0]), replace=False))
    picked = held_out[torch.from_numpy(rows).to(held_out.device)]
    codes = (
        torch.cat(
            [
                model.encode(x)[0].float()
                for x in iterate(picked, params.eval.batch_size, shape=model.config.image_shape)
            ]
        )
        .cpu()
        .numpy()
    )
    factors = np.asarray(factors)[rows]
    kl = np.asarray(details["kl_per_dim"], dtype=float)
    active = np.asarray(details["active"], dtype=bool)
    order = np.argsort(kl)[::-1]
    values = np.linspace(-p.traversal_range, p.traversal_range, p.traversal_steps)

    def strips(base: torch.Tensor) -> np.ndarray:
        return traversal_strips(model, base, order, values)

    first = torch.as_tensor(codes[:1], device=device)
    carries = carried_factor(details["mutual_info"], details["factor_entropy"], details["factor_names"])
    yield (
        Figure.LATENT_TABLE,
        plotting.latent_table(
            strips(first), order.tolist(), kl[order], active[order], [carries[d] for d in order], values, params.beta
        ),
    )
    prior = torch.zeros(1, model.config.latent_dim, device=device)
    fig = plotting.traversals(strips(prior), order.tolist(), kl[order].tolist(), values, params.beta)
    fig.axes[0].set_title(f"Traversals from the prior mean z = 0, β = {params.beta:g} (rows by KL)", fontsize=9)
    fig.axes[0].set_xlabel("value of the latent, all others 0", fontsize=8)
    yield Figure.PRIOR_TRAVERSALS, fig

    pairs = rng.choice(len(codes), size=(min(N_PAIRS, len(codes) // 2), 2), replace=False)
    lines = []
    for a, b in pairs:
        za, zb = (torch.as_tensor(codes[i], device=device) for i in (a, b))
        lines.append(interpolation_strip(model, za, zb, p.traversal_steps))
    yield Figure.INTERPOLATIONS, plotting.interpolations(np.stack(lines), params.beta)

    names, sizes = details["factor_names"], [int(factors[:, j].max()) + 1 for j in range(factors.shape[1])]
    varying = [j for j in range(factors.shape[1]) if len(np.unique(factors[:, j])) > 1]
    shown = [int(d) for d in order if active[d]] or [int(order[0])]
    curves = [[class_curves(codes[:, d], factors[:, j], sizes[j]) for j in varying] for d in shown]
    yield (
        Figure.LATENT_VS_FACTOR,
        plotting.latent_vs_factor(
            [[c[0] for c in row] for row in curves],
            [[c[1] for c in row] for row in curves],
            shown,
            [names[j] for j in varying],
            params.beta,
        ),
    )
    pair = [int(d) for d in order[:2]] if len(order) > 1 else [int(order[0])] * 2
    coloured_by, cmap = [names[j] for j in varying], "tab10" if names == [LABEL] else "viridis"
    yield (
        Figure.LATENT_SCATTER,
        plotting.latent_scatter(codes[:, pair], pair, factors[:, varying], coloured_by, params.beta, cmap=cmap),
    )
    coords, ratio = principal_components(codes)
    yield (
        Figure.LATENT_PCA,
        plotting.latent_scatter(
            coords,
            pair,
            factors[:, varying],
            coloured_by,
            params.beta,
            cmap=cmap,
            axis_labels=(f"PC1 ({ratio[0]:.0%} of variance)", f"PC2 ({ratio[1]:.0%})"),
            title=f"All {codes.shape[1]} latents of held-out images, first two principal components, β = {params.beta:g}",
        ),
    )
