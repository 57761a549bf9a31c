"""examples/sweep.ipynb runs top to bottom against a tiny finished sweep's store: it trains nothing, and
every cell of the Python API it shows works (nbclient, the notebook's own kernel)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.tracking.registry import register_best
from testkit.runs import SMALL_MODEL, finished_run

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "sweep.ipynb"


@pytest.mark.e2e
def test_the_example_notebook_runs_on_a_finished_sweep(tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (tmp_path / ".dvc").mkdir()  # the notebook's working directory is a vae-pipe repository
    for beta, mig in ((1.0, 0.1), (4.0, 0.3)):
        finished_run(tmp_path, f"b{beta:g}", {**SMALL_MODEL, "beta": beta}, {"mig": mig, "elbo": -90.0}, "nb")
    (registered,) = register_best(tmp_path, "nb", "mig")
    monkeypatch.setenv("VAE_PIPE_SWEEP", "nb")
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(NOTEBOOK.parents[1]), os.environ.get("PYTHONPATH")]))
    )
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        notebook, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = [
        "".join(o.get("text", "") or str(o.get("data", {}).get("text/plain", "")) for o in c.outputs)
        for c in notebook.cells
        if c.cell_type == "code"
    ]
    assert "b1" in outputs[1] and "b4" in outputs[1]  # the runs table
    assert outputs[2].startswith(registered.uri.removeprefix("models:/"))  # loaded by its alias
    figures = [o for c in notebook.cells[-2:] for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(figures) == 2  # the traversal and the interpolation
