"""eval/details.json, typed: the arrays behind the metrics that evaluate writes and the plot stage and the
report read. One declaration for the writer and every reader; writing a key that is not declared here is an
error, and a missing or damaged file is one line naming it and how to restore it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypedDict

from pipeline.core.errors import OutputError
from pipeline.core.paths import write_text_atomic


class Details(TypedDict, total=False):
    likelihood: str  # the ELBO's likelihood: ELBOs under different likelihoods are never compared
    estimators: dict[str, str]  # how the held-out terms of metrics.json are estimated
    n_held_out: int
    kl_per_dim: list[float]  # nats, per latent
    posterior_mean_variance: list[float]  # per latent, over the held-out set
    active: list[bool]  # per latent, by eval.active_threshold
    # MIG (datasets with ground-truth factors), or why it was skipped
    n_mig_points: int
    factor_names: list[str]
    factor_entropy: list[float]  # nats, per factor
    mutual_info: list[list[float]]  # latents × factors, nats
    mig_skipped: str
    # the class label's information (labelled datasets), in MIG's estimator
    label_mutual_info: list[list[float]]  # latents × 1, nats
    label_entropy: list[float]
    # the scores beyond MIG (pipeline/stages/scores.py)
    scored_factors: list[str]
    scores_skipped: str  # why the sampling scores did not run (a subsample of a dataset read from files)
    dci_importance: list[list[float]]  # latents × scored factors
    dci_informativeness_train: float
    sap_score_matrix: list[list[float]]
    factor_vae_train_accuracy: float
    factor_vae_active_dims: int
    factor_vae_votes: list[list[int]]
    beta_vae_train_accuracy: float
    explicitness_train: float  # mean ROC-AUC on the training points
    irs_active_dims: int  # latents that vary over IRS's samples
    irs_matrix: list[list[float]]  # varying latents × scored factors
    unsupervised_points: int  # held-out means the unsupervised scores read
    unsupervised_skipped: str  # why they were not computed (a single latent)
    iwae_points: int
    iwae_k: int


KEYS = frozenset(Details.__annotations__)


def write_details(path: Path, details: Details) -> None:
    if unknown := sorted(set(details) - KEYS):
        raise ValueError(f"{path}: keys {unknown} are not declared in pipeline/core/details.py")
    write_text_atomic(path, json.dumps(details, indent=1) + "\n")


def read_details(path: Path, restore: str = "run `dvc checkout` or `dvc repro -f evaluate` to restore it") -> Details:
    """The file's details, or OutputError (one line) when it is missing, damaged or not a details file."""
    try:
        details = json.loads(path.read_text())
    except FileNotFoundError:
        raise OutputError(f"{path}: missing; {restore}") from None
    except (OSError, ValueError) as error:
        raise OutputError(f"{path}: damaged ({type(error).__name__}); {restore}") from None
    if not isinstance(details, dict) or not set(details) <= KEYS:
        raise OutputError(f"{path}: not an evaluate details file; {restore}")
    return details  # type: ignore[return-value]
