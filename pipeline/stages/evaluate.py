"""Stage `evaluate`: held-out ELBO terms, KL per latent dimension, active units and MIG."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import torch

from metrics import bernoulli_nll, compute_mig, gaussian_kl_per_dim, posterior_mean_variance
from pipeline.artifacts import load_held_out, load_trained
from pipeline.params import Params, flatten
from pipeline.paths import Outputs, repo_root, write_text_atomic
from pipeline.tracking import ModelRun
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
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        recon.append(bernoulli_nll(model.decode(z), x))
        kl.append(gaussian_kl_per_dim(mu, logvar))
        means.append(mu.float())
    return tuple(torch.cat(parts).cpu().numpy().astype(np.float64) for parts in (recon, kl, means))


def summarise(params: Params, recon: np.ndarray, kl_dims: np.ndarray, means: np.ndarray, factors: np.ndarray):
    """(metrics for DVC/MLflow, arrays behind them for plots and reports)."""
    kl_per_dim = kl_dims.mean(axis=0)
    variance = posterior_mean_variance(means)
    n_mig = min(params.eval.mig_points, len(means))
    # Held-out rows are in dataset order (shape varies slowest), so take a random subset, not the first rows.
    rows = np.sort(np.random.default_rng(params.data.split_seed).choice(len(means), n_mig, replace=False))
    mig = compute_mig(means[rows], factors[rows], params.eval.mig_bins)
    varying = [name for name, keep in zip(FACTOR_NAMES, mig.factor_mask) if keep]
    metrics: dict[str, Any] = {
        "elbo": float(-(recon.mean() + kl_per_dim.sum())),
        "recon": float(recon.mean()),
        "kl": float(kl_per_dim.sum()),
        "loss": float(recon.mean() + params.beta * kl_per_dim.sum()),
        "active_units": int((variance > params.eval.active_threshold).sum()),
        "mig": mig.score,
        "kl_dim": {f"z{i}": float(v) for i, v in enumerate(kl_per_dim)},
        "mig_gap": {name: float(gap) for name, gap in zip(varying, mig.gaps)},
    }
    details = {
        "n_held_out": len(recon),
        "n_mig_points": n_mig,
        "kl_per_dim": kl_per_dim.tolist(),
        "posterior_mean_variance": variance.tolist(),
        "factor_names": list(FACTOR_NAMES),
        "factor_entropy": mig.entropies.tolist(),
        "mutual_info": mig.mutual_info.tolist(),  # latent dims × factors, nats
    }
    return metrics, details


def run(params: Params, out: Outputs) -> dict[str, Any]:
    seed_everything(params.seed)
    device = pick_device(params.train.device)
    held_out = load_held_out(out)
    model, digest = load_trained(out, device)
    recon, kl_dims, means = encode_held_out(model, to_device(held_out.images, device), params.eval.batch_size)
    metrics, details = summarise(params, recon, kl_dims, means, held_out.factors)
    write_text_atomic(out.details, json.dumps(details, indent=1) + "\n")
    write_text_atomic(out.metrics, json.dumps(metrics, indent=2) + "\n")

    run = ModelRun.open(repo_root(), digest, params)
    run.log_metrics(flatten(metrics))
    run.log_artifacts([out.metrics, out.details], "eval")
    return metrics
