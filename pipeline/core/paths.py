"""Where everything lives. Stage outputs are relative to the working directory DVC runs the stage in
(the workspace, or a queued experiment's temporary copy); the MLflow store is at the repository root."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from vae.files import atomic_path, write_text_atomic

__all__ = ["Figure", "Outputs", "atomic_path", "repo_root", "write_text_atomic"]


class Figure:
    """File names of the plot stage's figures under `plots/` (dvc.yaml's plots section lists them too)."""

    RECONSTRUCTIONS = "reconstructions.png"
    SAMPLES = "samples.png"
    TRAVERSALS = "traversals.png"
    KL_PER_DIM = "kl_per_dim.png"
    TRAINING_CURVES = "training_curves.png"
    LATENT_TABLE = "latents.png"
    INTERPOLATIONS = "interpolations.png"
    LATENT_VS_FACTOR = "latent_vs_factor.png"
    LATENT_SCATTER = "latent_scatter.png"
    LATENT_PCA = "latent_pca.png"
    PRIOR_TRAVERSALS = "prior_traversals.png"


@dataclass(frozen=True)
class Outputs:
    """Every stage's outputs, relative to one working directory. dvc.yaml names the same paths."""

    root: Path

    @property
    def params_valid(self) -> Path:
        """The validate stage's mark that params.yaml passed validation: constant, a dep of every other stage."""
        return self.root / "data" / "params.valid"

    @property
    def dataset(self) -> Path:
        """The prepared dataset: DeepMind's npz layout for dSprites, images + labels for the others."""
        return self.root / "data" / "dataset.npz"

    @property
    def split(self) -> Path:
        return self.root / "data" / "split.npz"

    @property
    def model(self) -> Path:
        return self.root / "models" / "model.pt"

    @property
    def model_card(self) -> Path:
        """The model's config and the params it was trained with (JSON)."""
        return self.root / "models" / "model.json"

    @property
    def objective_state(self) -> Path:
        """The objective's trained parts that evaluation needs (FactorVAE's discriminator; empty for the
        objectives that own none), tensors only, loaded with weights_only=True."""
        return self.root / "models" / "objective.pt"

    @property
    def curves(self) -> Path:
        return self.root / "models" / "curves.csv"

    @property
    def metrics(self) -> Path:
        return self.root / "eval" / "metrics.json"

    @property
    def details(self) -> Path:
        """Arrays behind the metrics (KL per dimension, MI matrix) for plots and reports."""
        return self.root / "eval" / "details.json"

    @property
    def codes(self) -> Path:
        """Posterior means and log-variances of a fixed sample of held-out images (pipeline/core/codes.py)."""
        return self.root / "eval" / "codes.npz"

    @property
    def plots(self) -> Path:
        return self.root / "plots"


def repo_root(start: Path | None = None) -> Path:
    """The repository whose MLflow store runs log into.

    DVC sets DVC_ROOT for every stage; for a queued experiment it is the parent repo, not the temporary
    copy the stage runs in, which is exactly where the shared store must be.
    """
    if os.environ.get("DVC_ROOT"):
        return Path(os.environ["DVC_ROOT"]).resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / ".dvc").is_dir() or (folder / ".git").exists():
            return folder
    return here
