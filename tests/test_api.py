"""pipeline.api finds a model by run id, DVC experiment name or registered alias, and lists a sweep's runs as a
DataFrame (numbers as numbers); a reference that names nothing is one line."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pipeline.api import interpolation, load_model, runs, traversal
from pipeline.core.errors import TrackingError
from pipeline.tracking.mlmodel import LoggedVAE
from testkit.runs import SMALL_MODEL, finished_run

pytestmark = pytest.mark.e2e  # MLflow models written and unpickled: seconds, not milliseconds


def test_models_by_run_id_and_experiment_and_a_sweeps_runs(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    first = finished_run(tmp_path, "exp-one", {**SMALL_MODEL, "beta": 2.0}, {"mig": 0.2}, "s", seed=1)
    second = finished_run(tmp_path, "exp-two", {**SMALL_MODEL, "beta": 8.0}, {"mig": 0.4}, "s", seed=2)
    finished_run(tmp_path, "exp-other", SMALL_MODEL, {"mig": 0.9}, "other")

    table = runs("s", root=tmp_path)
    assert list(table["run_id"]) == [first, second] and list(table["experiment"]) == ["exp-one", "exp-two"]
    assert list(table["params.beta"]) == [2.0, 8.0] and list(table["metrics.mig"]) == [0.2, 0.4]
    assert len(runs(root=tmp_path)) == 3

    by_id, by_name = load_model(first, root=tmp_path), load_model("exp-two", root=tmp_path)
    assert isinstance(by_id, LoggedVAE) and isinstance(by_name, LoggedVAE)
    image = torch.rand(1, 64, 64)
    with torch.inference_mode():
        assert not torch.equal(by_id(image[None]), by_name(image[None]))  # two runs, two sets of weights
    with pytest.raises(TrackingError, match="'exp-none': not a run id, a DVC experiment"):
        load_model("exp-none", root=tmp_path)

    figure = traversal(by_id, image.numpy())
    assert len(figure.axes[0].get_yticklabels()) == 4  # one row per latent
    assert (
        interpolation(by_id, image, np.zeros((1, 64, 64)), steps=5).axes[0].get_xticklabels()[-1].get_text() == "1.00"
    )
    with pytest.raises(ValueError, match=r"image of shape \(28, 28\): this model takes \(1, 64, 64\)"):
        traversal(by_id, np.zeros((28, 28)))
