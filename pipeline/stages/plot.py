"""Stage `plot`: reconstructions, prior samples, latent traversals, KL per dimension, training curves, and the
latent introspection figures of pipeline/stages/latents.py."""

from __future__ import annotations

import numpy as np
import torch

from pipeline.core import timings
from pipeline.core.curves import read_curves
from pipeline.core.details import read_details
from pipeline.core.objectives import describe_objective
from pipeline.core.params import Params
from pipeline.core.paths import Figure, Outputs
from pipeline.core.workspace import check_params_unchanged
from pipeline.stages import plotting
from pipeline.stages.artifacts import load_held_out, load_trained
from pipeline.stages.introspection import introspection_target
from pipeline.stages.latents import decoded, latent_figures, pixels, traversal_strips
from pipeline.tracking.record import record_stage
from vae.batches import as_images, to_device
from vae.model import VAE
from vae.seeding import pick_device, seed_everything


@torch.inference_mode()
def model_figures(model: VAE, held_out: torch.Tensor, kl_per_dim: list[float], params: Params, device: torch.device):
    p = params.plot
    x = as_images(held_out[: p.n_images], model.config.image_shape)
    mu, _ = model.encode(x)
    yield (
        Figure.RECONSTRUCTIONS,
        plotting.reconstructions(pixels(x), decoded(model, mu), params.beta),
    )

    z = torch.randn(p.n_samples, model.config.latent_dim, device=device)
    yield Figure.SAMPLES, plotting.samples(decoded(model, z), params.beta)

    order = np.argsort(kl_per_dim)[::-1]
    values = np.linspace(-p.traversal_range, p.traversal_range, p.traversal_steps)
    rows = traversal_strips(model, mu[:1], order, values)
    yield (
        Figure.TRAVERSALS,
        plotting.traversals(rows, order.tolist(), [kl_per_dim[d] for d in order], values, params.beta),
    )


def run(params: Params, out: Outputs) -> list[str]:
    check_params_unchanged()
    with timings.phase("figures"):
        written = _figures(params, out)
    record_stage(params, out, "plot")
    return written


def _figures(params: Params, out: Outputs) -> list[str]:
    seed_everything(params.seed)
    device = pick_device(params.train.device)
    model = load_trained(out, device)
    details = read_details(out.details)
    held = load_held_out(out)
    test_images = held.images
    # Evenly spaced over the held-out rows, which are in dataset order: every shape and scale shows up.
    shown = np.linspace(0, len(test_images) - 1, min(params.plot.n_images, len(test_images))).astype(int)
    held_out = to_device(test_images[shown], device, held.texture)
    out.plots.mkdir(parents=True, exist_ok=True)
    written = []
    for name, fig in model_figures(model, held_out, details["kl_per_dim"], params, device):
        plotting.save(fig, out.plots / name)
        written.append(name)

    active = np.asarray(details["active"], dtype=bool)
    plotting.save(plotting.kl_per_dimension(details["kl_per_dim"], params.beta, active), out.plots / Figure.KL_PER_DIM)
    rows = read_curves(out.curves)
    curve = {name: np.array([row[name] for row in rows]) for name in rows[0]}
    terms = {name: values for name, values in curve.items() if name not in ("step", "images_per_s")}
    plotting.save(
        plotting.training_curves(curve["step"], terms, describe_objective(params)),
        out.plots / Figure.TRAINING_CURVES,
    )
    written += [Figure.KL_PER_DIM, Figure.TRAINING_CURVES]
    target = introspection_target(held.factors, held.labels, details)  # ground-truth factors, or the label
    if target is not None:
        images = to_device(held.images, device, held.texture)
        for name, fig in latent_figures(model, images, target.classes, target.details(details), params, device):
            plotting.save(fig, out.plots / name)
            written.append(name)
    return written


def main(params: Params, out: Outputs) -> list[str]:
    names = run(params, out)
    return [f"plot: {len(names)} figures → {out.plots.relative_to(out.root)}/"]
