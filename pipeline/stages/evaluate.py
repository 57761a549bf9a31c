"""Stage `evaluate`: held-out ELBO terms, KL per latent dimension, active units and MIG; the IWAE bound and
the other disentanglement scores come from pipeline/scores.py."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import torch

from metrics import active_dims, bernoulli_nll, compute_mig, elbo_summary, gaussian_kl_per_dim, posterior_mean_variance
from pipeline.artifacts import load_held_out, load_trained
from pipeline.configs import objective
from pipeline.params import Params
from pipeline.paths import Outputs, write_text_atomic
from pipeline.record import record_stage
from pipeline.scores import add_scores
from vae.batches import iterate, to_device
from vae.dsprites import FACTOR_NAMES
from vae.model import VAE
from vae.seeding import pick_device, seed_everything


@torch.inference_mode()
def encode_held_out(model: VAE, images: torch.Tensor, batch_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per image: reconstruction NLL (one posterior sample), KL per dimension, posterior mean."""
    recon, kl, means = [], [], []
    for x in iterate(images, batch_size):
        mu, logvar = model.encode(x)
        recon.append(bernoulli_nll(model.decode(model.sample_posterior(mu, logvar)), x))
        kl.append(gaussian_kl_per_dim(mu, logvar))
        means.append(mu.float())
    return tuple(torch.cat(parts).cpu().numpy().astype(np.float64) for parts in (recon, kl, means))


def summarise(params: Params, recon: np.ndarray, kl_dims: np.ndarray, means: np.ndarray, factors: np.ndarray):
    """(metrics for DVC/MLflow, arrays behind them for plots and reports)."""
    elbo = elbo_summary(recon, kl_dims)
    kl_per_dim = elbo["kl_per_dim"]
    variance = posterior_mean_variance(means)
    active = active_dims(variance, params.eval.active_threshold)
    n_mig = min(params.eval.mig_points, len(means))
    # Held-out rows are in dataset order (shape varies slowest), so take a random subset, not the first rows.
    rows = np.sort(np.random.default_rng(params.data.split_seed).choice(len(means), n_mig, replace=False))
    mig = compute_mig(means[rows], factors[rows], params.eval.mig_bins)
    varying = [name for name, keep in zip(FACTOR_NAMES, mig.factor_mask) if keep]
    metrics: dict[str, Any] = {
        "elbo": elbo["elbo"],
        "recon": elbo["recon"],
        "kl": elbo["kl"],
        "loss": float(objective(params).loss(elbo["recon"], elbo["kl"])),
        "active_units": int(active.sum()),
        "mig": mig.score,
        "kl_dim": {f"z{i}": float(v) for i, v in enumerate(kl_per_dim)},
        "mig_gap": {name: float(gap) for name, gap in zip(varying, mig.gaps)},
    }
    details = {
        "n_held_out": len(recon),
        "n_mig_points": n_mig,
        "kl_per_dim": kl_per_dim.tolist(),
        "posterior_mean_variance": variance.tolist(),
        "active": active.tolist(),  # by eval.active_threshold, so plots need not re-derive it
        "factor_names": list(FACTOR_NAMES),
        "factor_entropy": mig.entropies.tolist(),
        "mutual_info": mig.mutual_info.tolist(),  # latent dims × factors, nats
    }
    return metrics, details


def run(params: Params, out: Outputs) -> dict[str, Any]:
    seed_everything(params.seed)
    device = pick_device(params.train.device)
    held_out = load_held_out(out)
    model = load_trained(out, device)
    recon, kl_dims, means = encode_held_out(model, to_device(held_out.images, device), params.eval.batch_size)
    metrics, details = summarise(params, recon, kl_dims, means, held_out.factors)
    metrics, details = add_scores(params, model, device, to_device(held_out.images, device), metrics, details)
    write_text_atomic(out.details, json.dumps(details, indent=1) + "\n")
    write_text_atomic(out.metrics, json.dumps(metrics, indent=2) + "\n")
    record_stage(params, out, "evaluate")
    return metrics
