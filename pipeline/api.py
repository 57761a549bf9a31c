"""vae-pipe from Python (a notebook, a script): a finished sweep's models and results, nothing trained.

    from pipeline.api import load_model, runs, traversal, interpolation

    table = runs("make-run-20261206-101500")          # one row per run: params.*, metrics.*
    model = load_model("vae-pipe-beta_vae-dsprites-bernoulli@best-mig")   # or a run id, or a DVC experiment
    traversal(model, model.sample(1, seed=0)[0])      # a matplotlib figure

Every function reads the project's store: the one at the repository root (or MLFLOW_TRACKING_URI), as
`vae-pipe report` and `vae-pipe ui` do. A model is the run's MLflow Model (pipeline/tracking/mlmodel.py), a
`LoggedVAE`: unpickled, so load models of stores you trust.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from pipeline.core.errors import TrackingError
from pipeline.core.paths import repo_root
from pipeline.stages import plotting
from pipeline.stages.latents import interpolation_strip, traversal_strips
from pipeline.tracking.mlmodel import LoggedVAE, model_uri
from pipeline.tracking.registry import Registered, registered_versions, sweep_runs
from pipeline.tracking.store import EXP_NAME_TAG, check_store, client, tracking_uri

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["interpolation", "load_model", "registered", "runs", "traversal"]

RUN_ID = re.compile(r"[0-9a-f]{32}")


def _store(root: Path | str | None) -> tuple[Path, str]:
    """(repository root, experiment id) of the project's store, checked (one line if it cannot be read)."""
    where = Path(root) if root is not None else repo_root()
    return where, check_store(where, writing=False)


def _uri(ref: str, where: Path, experiment: str) -> str:
    if "@" in ref:  # NAME@ALIAS of the Model Registry (vae-pipe register)
        return f"models:/{ref}"
    mlflow_client = client(where)
    if RUN_ID.fullmatch(ref):
        return model_uri(mlflow_client.get_run(ref).info.run_id)
    found = mlflow_client.search_runs([experiment], f"tags.`{EXP_NAME_TAG}` = '{ref}'", order_by=["start_time DESC"])
    if not found:
        raise TrackingError(
            f"{ref!r}: not a run id, a DVC experiment with a run in {tracking_uri(where)}, or NAME@ALIAS of a "
            "registered model"
        )
    return model_uri(found[0].info.run_id)


def load_model(ref: str, root: Path | str | None = None, device: str = "cpu") -> LoggedVAE:
    """The trained VAE of a run id, a DVC experiment name (`dvc exp show`), or a registered model's
    `NAME@ALIAS` (`vae-pipe register`): `encode`, `decode`, `decode_mean`, `sample`, and calling it encodes."""
    if "'" in ref:
        raise TrackingError(f"{ref!r}: quotes are not allowed in a model reference")
    import mlflow.pytorch

    where, experiment = _store(root)
    uri = _uri(ref, where, experiment)
    mlflow.set_tracking_uri(tracking_uri(where))
    model = mlflow.pytorch.load_model(uri, map_location=device)
    if not isinstance(model, LoggedVAE):
        raise TrackingError(f"{uri}: not a vae-pipe model ({type(model).__name__})")
    return model.eval()


def registered(root: Path | str | None = None) -> list[Registered]:
    """The aliased versions of vae-pipe's registered models (`vae-pipe register`); `.uri` loads one."""
    where, _ = _store(root)
    return registered_versions(client(where))


def runs(sweep: str | None = None, root: Path | str | None = None) -> pd.DataFrame:
    """The finished runs of `sweep` (every finished run when None), one row each: `run_id`, the DVC
    experiment, `params.*` and `metrics.*` as MLflow names them; numeric params are numbers."""
    import pandas as pd

    where, experiment = _store(root)
    mlflow_client = client(where)
    if sweep is not None:
        found = sweep_runs(mlflow_client, experiment, sweep)
    else:
        found = mlflow_client.search_runs([experiment], "attributes.status = 'FINISHED'")
    rows = [
        {
            "run_id": run.info.run_id,
            "experiment": run.data.tags.get(EXP_NAME_TAG),
            **{f"params.{key}": value for key, value in run.data.params.items()},
            **{f"metrics.{key}": value for key, value in run.data.metrics.items()},
        }
        for run in sorted(found, key=lambda r: (r.info.start_time, r.info.run_id))
    ]
    table = pd.DataFrame(rows)
    for column in [c for c in table.columns if c.startswith("params.")]:
        numbers = pd.to_numeric(table[column], errors="coerce")
        if numbers.notna().sum() == table[column].notna().sum():
            table[column] = numbers
    return table


def _batch(model: LoggedVAE, image: np.ndarray | torch.Tensor) -> torch.Tensor:
    """One image, (H, W) grey or (C, H, W), values in [0, 1], as the model's (1, C, H, W) input."""
    x = torch.as_tensor(np.asarray(image, dtype=np.float32))
    shape = model.config.image_shape
    if x.ndim == 2:
        x = x[None]
    if tuple(x.shape) != shape:
        raise ValueError(f"image of shape {tuple(image.shape)}: this model takes {shape} (C, H, W), values 0–1")
    return x[None].to(next(model.parameters()).device)


@torch.inference_mode()
def traversal(
    model: LoggedVAE, image: np.ndarray | torch.Tensor, span: float = 2.0, steps: int = 7, title: str = ""
) -> Figure:
    """Each latent of `image`'s posterior mean moved from −span to +span, one row per latent ordered by that
    image's KL per dimension (what its posterior keeps), as the plot stage draws traversals."""
    mu, logvar = model.encode(_batch(model, image))
    kl = (0.5 * (mu.square() + logvar.exp() - 1 - logvar))[0].cpu().numpy()
    order = np.argsort(kl)[::-1]
    values = np.linspace(-span, span, steps)
    figure = plotting.traversals(traversal_strips(model, mu, order, values), order.tolist(), kl[order], values, 0.0)
    figure.axes[0].set_title(title or "Latent traversals of the image (rows by its KL per dimension)", fontsize=9)
    return figure


@torch.inference_mode()
def interpolation(
    model: LoggedVAE, first: np.ndarray | torch.Tensor, second: np.ndarray | torch.Tensor, steps: int = 7
) -> Figure:
    """The images decoded along the straight line between two images' posterior means."""
    za, zb = (model.encode(_batch(model, image))[0][0] for image in (first, second))
    figure = plotting.interpolations(interpolation_strip(model, za, zb, steps)[None], 0.0)
    figure.axes[0].set_title("Interpolation between the two images' posterior means", fontsize=9)
    return figure
