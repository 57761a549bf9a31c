"""Stage `evaluate`: held-out ELBO terms, KL per latent dimension, active units, the KL's parts and (with
factors) MIG; the IWAE bound and the other disentanglement scores come from pipeline/stages/scores.py. It
also saves the codes of a fixed held-out sample (eval/codes.npz) that the report compares across seeds."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import torch

from metrics import active_dims, compute_mig, elbo_summary, gaussian_kl_per_dim, posterior_mean_variance
from metrics.tc import held_out_kl_decomposition
from pipeline.core import timings
from pipeline.core.catalogue import unknown_keys
from pipeline.core.codes import Codes, write_codes
from pipeline.core.configs import objective
from pipeline.core.details import write_details
from pipeline.core.params import Params
from pipeline.core.paths import Outputs, write_text_atomic
from pipeline.core.streams import numpy_stream, torch_stream
from pipeline.core.workspace import check_params_unchanged
from pipeline.stages.artifacts import load_held_out, load_objective_state, load_trained
from pipeline.stages.introspection import label_information
from pipeline.stages.scores import add_scores, scores_line, unsupervised_scores
from pipeline.tracking.record import record_stage
from vae.batches import iterate, to_device
from vae.datasets import dataset_info
from vae.model import VAE
from vae.objectives import Objective
from vae.seeding import pick_device, seed_everything

ESTIMATORS = {  # how the held-out terms in eval/metrics.json are estimated (details.json says so too)
    "mi, tc, dim_kl": "sampled: one code from each of eval.tc_points held-out posteriors, against the exact "
    "mixture of all held-out posteriors (Chen et al. 2018), for every objective",
    "disc_tc": "factor_vae only: mean logit of the trained discriminator (saved with the model) on "
    "eval.tc_points held-out codes; FactorVAE's loss uses it, as in training",
}


@torch.inference_mode()
def encode_held_out(
    model: VAE, images: torch.Tensor, batch_size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per image: reconstruction NLL under the model's likelihood (one posterior sample), KL per dimension,
    posterior mean and log σ²."""
    recon, kl, means, logvars = [], [], [], []
    for x in iterate(images, batch_size, shape=model.config.image_shape):
        mu, logvar = model.encode(x)
        recon.append(model.likelihood.nll(model.decode(model.sample_posterior(mu, logvar)), x))
        kl.append(gaussian_kl_per_dim(mu, logvar))
        means.append(mu.float())
        logvars.append(logvar.float())
    return tuple(torch.cat(parts).cpu().numpy().astype(np.float64) for parts in (recon, kl, means, logvars))


def sample_codes(mu: torch.Tensor, logvar: torch.Tensor, n_points: int, generator: torch.Generator) -> torch.Tensor:
    """One code z ~ q(z|x) from each of `n_points` random held-out posteriors."""
    rows = torch.randperm(len(mu), generator=generator)[:n_points]
    noise = torch.randn(mu[rows].shape, generator=generator, dtype=mu.dtype)
    return mu[rows] + noise * torch.exp(0.5 * logvar[rows])


def _seeds(params: Params) -> dict[str, int]:
    return {"seed": params.seed, "data.split_seed": params.data.split_seed}


def objective_terms(
    params: Params, elbo: dict[str, Any], means: np.ndarray, logvars: np.ndarray, own: Objective | None = None
) -> dict[str, float]:
    """Held out: the KL's parts sampled against the mixture of all held-out posteriors (MI, TC,
    dimension-wise KL; for every objective), the terms of the objective's own trained parts on held-out codes
    (FactorVAE: the discriminator's `disc_tc`), and the objective's value from them. `own`: the objective
    with its trained parts loaded (by default a fresh one, for objectives that own none)."""
    n_points = min(params.eval.tc_points, len(means))
    mu, logvar = (torch.from_numpy(a).float() for a in (means, logvars))
    parts = held_out_kl_decomposition(mu, logvar, n_points, torch_stream("kl_parts", _seeds(params)))
    own = own if own is not None else objective(params, dataset_size=len(means))
    codes = sample_codes(mu, logvar, n_points, torch_stream("held_out_codes", _seeds(params)))
    trained = own.held_out_codes(codes)
    value = own.held_out({"recon": elbo["recon"], "kl": elbo["kl"], **parts, **trained}, params.train.steps)
    return {"loss": float(value.pop("loss")), **parts, **trained, **value}


def _mig(params: Params, means: np.ndarray, factors: np.ndarray) -> tuple[dict[str, Any], dict[str, Any]]:
    """MIG's metrics and details on a random subset of the held-out codes."""
    n_mig = min(params.eval.mig_points, len(means))
    # Held-out rows are in dataset order (shape varies slowest), so take a random subset, not the first rows.
    rows = np.sort(numpy_stream("held_out_rows", params.data.split_seed).choice(len(means), n_mig, replace=False))
    mig = compute_mig(means[rows], factors[rows], params.eval.mig_bins)
    names = dataset_info(params.data.dataset).factor_names or ()
    varying = [name for name, keep in zip(names, mig.factor_mask) if keep]
    metrics = {"mig": mig.score, "mig_gap": {name: float(gap) for name, gap in zip(varying, mig.gaps)}}
    details = {
        "n_mig_points": n_mig,
        "factor_names": list(names),
        "factor_entropy": mig.entropies.tolist(),
        "mutual_info": mig.mutual_info.tolist(),  # latent dims × factors, nats
    }
    return metrics, details


def udr_sample(params: Params, means: np.ndarray, logvars: np.ndarray) -> Codes:
    """The posteriors of `eval.udr_points` held-out images drawn from `data.split_seed` alone: every seed of a
    setting encodes the same images, which UDR needs (the report computes it across seeds)."""
    n = min(params.eval.udr_points, len(means))
    rows = np.sort(numpy_stream("udr_rows", params.data.split_seed).choice(len(means), n, replace=False))
    return Codes(rows, means[rows], logvars[rows])


ELBO_TERMS = ("elbo", "recon", "kl")


def held_out_figures(
    params: Params, recon: np.ndarray, kl_dims: np.ndarray, means: np.ndarray, factors: np.ndarray | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """ELBO terms, active units, KL per dimension and (with factors) MIG from the encoded held-out set: the
    figures every objective gets, also read along training by benchmarks/steps.py. Without ground-truth
    factors (digits) there is no MIG: details say so, and the metrics leave it out rather than report a number."""
    elbo = elbo_summary(recon, kl_dims)
    kl_per_dim = elbo["kl_per_dim"]
    variance = posterior_mean_variance(means)
    active = active_dims(variance, params.eval.active_threshold)
    if factors is not None:
        mig_metrics, mig_details = _mig(params, means, factors)
    else:
        reason = f"{params.data.dataset} has no ground-truth factors (class labels only)"
        mig_metrics, mig_details = {}, {"mig_skipped": reason}
    metrics: dict[str, Any] = {
        **{term: elbo[term] for term in ELBO_TERMS},
        "active_units": int(active.sum()),
        "kl_dim": {f"z{i}": float(v) for i, v in enumerate(kl_per_dim)},
        **mig_metrics,
    }
    details = {
        "n_held_out": len(recon),
        "kl_per_dim": kl_per_dim.tolist(),
        "posterior_mean_variance": variance.tolist(),
        "active": active.tolist(),  # by eval.active_threshold, so plots need not re-derive it
        **mig_details,
    }
    return metrics, details


def summarise(
    params: Params,
    recon: np.ndarray,
    kl_dims: np.ndarray,
    means: np.ndarray,
    factors: np.ndarray | None,
    logvars: np.ndarray,
    own: Objective | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metrics for DVC/MLflow, arrays behind them for plots and reports): the held-out figures with the
    objective's terms after the ELBO's, then the unsupervised scores of the means (every dataset)."""
    figures, details = held_out_figures(params, recon, kl_dims, means, factors)
    terms = objective_terms(params, figures, means, logvars, own)
    codes_metrics, codes_details = unsupervised_scores(params, means)
    metrics = {term: figures.pop(term) for term in ELBO_TERMS} | terms | figures | codes_metrics
    return metrics, details | codes_details | {"estimators": ESTIMATORS}


def run(params: Params, out: Outputs) -> dict[str, Any]:
    seed_everything(params.seed)
    device = pick_device(params.train.device)
    held_out = load_held_out(out)
    model = load_trained(out, device)
    own = objective(params, dataset_size=len(held_out.images))
    load_objective_state(out, own)
    images = to_device(held_out.images, device, held_out.texture)
    with timings.phase("encode held-out"):
        recon, kl_dims, means, logvars = encode_held_out(model, images, params.eval.batch_size)
    with timings.phase("ELBO, KL parts, MIG, unsupervised scores"):
        metrics, details = summarise(params, recon, kl_dims, means, held_out.factors, logvars, own)
    metrics, details = add_scores(params, model, device, images, metrics, details, out.dataset)
    if held_out.factors is None and held_out.labels is not None:  # the latent figures use the class label
        e = params.eval
        details |= label_information(means, held_out.labels, e.mig_bins, e.mig_points, params.data.split_seed)
    details["likelihood"] = model.config.likelihood  # the ELBO's likelihood: never compared across likelihoods
    if unknown := unknown_keys(metrics):  # a new score needs its catalogue entry: labels, direction, units
        raise ValueError(f"evaluate: metrics {unknown} are not in pipeline/core/catalogue.py")
    check_params_unchanged()
    write_details(out.details, details)
    write_codes(out.codes, udr_sample(params, means, logvars))
    write_text_atomic(out.metrics, json.dumps(metrics, indent=2) + "\n")
    record_stage(params, out, "evaluate")
    return metrics


def main(params: Params, out: Outputs) -> list[str]:
    m = run(params, out)
    mig = f"MIG {m['mig']:.3f}" if "mig" in m else f"no MIG ({params.data.dataset} has no ground-truth factors)"
    return [
        f"evaluate: ELBO {m['elbo']:.2f} nats, recon {m['recon']:.2f}, KL {m['kl']:.2f}, "
        f"active units {m['active_units']}, {mig}",
        scores_line(m),
    ]
