"""The evaluate stage's disentanglement scores beyond MIG (DCI, SAP, FactorVAE, BetaVAE, modularity and
explicitness, IRS), the unsupervised scores of the codes alone, and the IWAE bound.

Kept out of pipeline/stages/evaluate.py so the stage stays a list of steps: this module binds the pure
estimators of metrics/ to a trained model (its posterior means are the representation, as in
disentanglement_lib) and to a data set that can draw fresh samples of any factor combination.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from metrics.beta_vae import compute_beta_vae
from metrics.dci import compute_dci
from metrics.factor_vae import compute_factor_vae
from metrics.irs import compute_irs
from metrics.likelihood import importance_log_terms, iwae_bound
from metrics.modularity import compute_modularity_explicitness
from metrics.sampling import GroundTruth, Represent, sample_codes
from metrics.sap import compute_sap
from metrics.unsupervised import compute_unsupervised
from pipeline.core import timings
from pipeline.core.catalogue import CODE_SCORES, FACTOR_SCORES, label
from pipeline.core.params import EvalParams, Params
from pipeline.core.streams import numpy_stream, torch_stream
from pipeline.stages.ground_truth import IncompleteGrid, ground_truth, scored_factors
from vae.batches import iterate
from vae.datasets import dataset_info
from vae.model import VAE


def dsprites_ground_truth() -> GroundTruth:
    """Plain dSprites as disentanglement_lib samples it (pipeline.stages.ground_truth has the variants too)."""
    return ground_truth("dsprites")


def encoder_means(model: VAE, device: torch.device):
    """The representation the scores read: posterior means of (n, 64, 64) binary or (n, C, 64, 64) images."""

    @torch.inference_mode()
    def represent(images: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(images)).to(device=device, dtype=torch.float32)
        x = x.unsqueeze(1) if x.ndim == 3 else x
        mu, _ = model.encode(x)
        return mu.float().cpu().numpy().astype(np.float64)

    return represent


Scored = tuple[dict[str, float], dict[str, Any]]


def _dci(e: EvalParams, data: GroundTruth, represent: Represent, rng: np.random.Generator) -> Scored:
    r, chunk = rng, e.batch_size
    dci = compute_dci(
        *sample_codes(data, represent, e.dci.num_train, r, chunk),
        *sample_codes(data, represent, e.dci.num_test, r, chunk),
    )
    metrics = {
        "dci_disentanglement": dci.disentanglement,
        "dci_completeness": dci.completeness,
        "dci_informativeness": dci.informativeness_test,
    }
    return metrics, {"dci_importance": dci.importance.tolist(), "dci_informativeness_train": dci.informativeness_train}


def _sap(e: EvalParams, data: GroundTruth, represent: Represent, rng: np.random.Generator) -> Scored:
    sap = compute_sap(
        *sample_codes(data, represent, e.sap.num_train, rng, e.batch_size),
        *sample_codes(data, represent, e.sap.num_test, rng, e.batch_size),
    )
    return {"sap": sap.score}, {"sap_score_matrix": sap.score_matrix.tolist()}


def _factor_vae(e: EvalParams, data: GroundTruth, represent: Represent, rng: np.random.Generator) -> Scored:
    fv = e.factor_vae
    sizes = (fv.batch_size, fv.num_train, fv.num_eval, fv.num_variance_estimate, fv.prune_threshold)
    result = compute_factor_vae(data, represent, rng, *sizes, chunk=e.batch_size)
    return {"factor_vae": result.eval_accuracy}, {
        "factor_vae_train_accuracy": result.train_accuracy,
        "factor_vae_active_dims": result.num_active_dims,
        "factor_vae_votes": result.votes.tolist(),
    }


def _beta_vae(e: EvalParams, data: GroundTruth, represent: Represent, rng: np.random.Generator) -> Scored:
    bv = e.beta_vae
    result = compute_beta_vae(data, represent, rng, bv.batch_size, bv.num_train, bv.num_eval, e.batch_size)
    return {"beta_vae": result.eval_accuracy}, {"beta_vae_train_accuracy": result.train_accuracy}


def _modularity(e: EvalParams, data: GroundTruth, represent: Represent, rng: np.random.Generator) -> Scored:
    result = compute_modularity_explicitness(
        *sample_codes(data, represent, e.modularity.num_train, rng, e.batch_size),
        *sample_codes(data, represent, e.modularity.num_test, rng, e.batch_size),
        num_bins=e.mig_bins,
    )
    return {"modularity": result.modularity, "explicitness": result.explicitness_test}, {
        "explicitness_train": result.explicitness_train
    }


def _irs(e: EvalParams, data: GroundTruth, represent: Represent, rng: np.random.Generator) -> Scored:
    codes, factors = sample_codes(data, represent, e.irs.num_train, rng, e.batch_size)
    result = compute_irs(codes, factors, e.irs.diff_quantile, e.mig_bins)
    return {"irs": result.score}, {"irs_active_dims": result.num_active_dims, "irs_matrix": result.matrix.tolist()}


SCORERS = {
    "dci": _dci,
    "sap": _sap,
    "factor_vae": _factor_vae,
    "beta_vae": _beta_vae,
    "modularity": _modularity,
    "irs": _irs,
}
"""Each score draws from its own named stream (pipeline/core/streams.py), so changing one score's sizes leaves the others."""


def disentanglement_scores(
    params: Params,
    model: VAE,
    device: torch.device,
    only: tuple[str, ...] = tuple(SCORERS),
    prepared: Path | None = None,
) -> Scored:
    """(metrics, details): the scores named in `only` at the sample sizes of `params.eval`, each timed.
    `prepared` is the prepared dataset file, which the datasets read from the user's files are drawn from."""
    dataset = params.data.dataset
    data, represent = ground_truth(dataset, prepared), encoder_means(model, device)
    metrics: dict[str, float] = {}
    details: dict[str, Any] = {"scored_factors": list(scored_factors(dataset)), "score_seconds": {}}
    for name, scorer in SCORERS.items():
        if name not in only:
            continue
        start = time.perf_counter()
        rng = numpy_stream(name, params.data.split_seed)
        more_metrics, more_details = scorer(params.eval, data, represent, rng)
        metrics |= more_metrics
        details |= more_details
        details["score_seconds"][name] = time.perf_counter() - start
        timings.record(f"score {name}", time.time() - details["score_seconds"][name], details["score_seconds"][name])
    return metrics, details


@torch.inference_mode()
def iwae_nats(model: VAE, images: torch.Tensor, k: int, batch_size: int, seed: int) -> float:
    """Mean IWAE bound (nats per image) of packed held-out `images` with `k` importance samples each."""
    generator = torch_stream("iwae_samples", {"seed": seed}, images.device)
    bounds = []
    for x in iterate(images, batch_size, shape=model.config.image_shape):
        mu, logvar = model.encode(x)
        terms = importance_log_terms(x, mu, logvar, model.decode, k, generator, nll=model.likelihood.nll)
        bounds.append(iwae_bound(*terms))
    return float(torch.cat(bounds).double().mean())


def iwae_metrics(params: Params, model: VAE, images: torch.Tensor) -> tuple[dict[str, float], dict[str, Any]]:
    """(metrics, details) of the IWAE bound on the first `eval.iwae_points` held-out images (a seeded
    random subset: held-out rows are in dataset order)."""
    n = min(params.eval.iwae_points, images.shape[0])
    rows = np.sort(numpy_stream("iwae_rows", params.data.split_seed).choice(images.shape[0], n, replace=False))
    start = time.perf_counter()
    value = iwae_nats(
        model, images[torch.from_numpy(rows).to(images.device)], params.eval.iwae_k, params.eval.batch_size, params.seed
    )
    timings.record("score iwae", time.time() - (time.perf_counter() - start), time.perf_counter() - start)
    return {"iwae": value}, {
        "iwae_points": n,
        "iwae_k": params.eval.iwae_k,
        "iwae_seconds": time.perf_counter() - start,
    }


def unsupervised_scores(params: Params, means: np.ndarray) -> Scored:
    """(metrics, details) of the unsupervised scores on a seeded random subset of `eval.unsupervised_points`
    held-out posterior means (held-out rows are in dataset order). disentanglement_lib draws fresh samples of
    the dataset; held-out images are a uniform sample of it too, so the scores run on every dataset alike."""
    if means.shape[1] < 2:
        return {}, {"unsupervised_skipped": "one latent: the unsupervised scores measure dependence between latents"}
    n = min(params.eval.unsupervised_points, len(means))
    rows = np.sort(numpy_stream("unsupervised_rows", params.data.split_seed).choice(len(means), n, replace=False))
    result = compute_unsupervised(means[rows], params.eval.mig_bins)
    metrics = {
        "gaussian_total_correlation": result.gaussian_total_correlation,
        "gaussian_wasserstein_correlation": result.gaussian_wasserstein_correlation,
        "gaussian_wasserstein_correlation_norm": result.gaussian_wasserstein_correlation_norm,
        "mutual_info_score": result.mutual_info_score,
    }
    return metrics, {"unsupervised_points": n}


TIMING_KEYS = ("score_seconds", "iwae_seconds")


def has_factors(params: Params) -> bool:
    """Whether the data set has ground-truth factors to score a representation against (the dSprites
    family; pipeline.stages.ground_truth draws each variant's colour or noise as its dataset does)."""
    return dataset_info(params.data.dataset).factor_names is not None


def add_scores(
    params: Params,
    model: VAE,
    device: torch.device,
    held_out: torch.Tensor,
    metrics: dict,
    details: dict,
    prepared: Path | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """`metrics` and `details` with the IWAE bound and, where the data set has factors, the sampled scores
    (`scores_skipped` says why when a subsample of a dataset read from files leaves combinations out)."""
    extra = [iwae_metrics(params, model, held_out)]
    if has_factors(params):
        try:
            extra.append(disentanglement_scores(params, model, device, prepared=prepared))
        except IncompleteGrid as reason:
            extra.append(({}, {"scores_skipped": str(reason)}))
    for more_metrics, more_details in extra:
        # Timings stay out of eval/details.json: equal inputs give byte-equal outputs (benchmarks time them).
        kept = {key: value for key, value in more_details.items() if key not in TIMING_KEYS}
        metrics, details = metrics | more_metrics, details | kept
    return metrics, details


def scores_line(metrics: dict[str, Any]) -> str:
    """The evaluate command's second line: the IWAE bound and whichever scores were computed."""
    parts = [f"IWAE {metrics['iwae']:.2f} nats"] if "iwae" in metrics else []
    scores = (*FACTOR_SCORES[1:], *CODE_SCORES)  # MIG is on the first line
    parts += [f"{label(key)} {metrics[key]:.3f}" for key in scores if key in metrics]
    return "evaluate: " + ", ".join(parts)
