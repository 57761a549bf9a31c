"""Make MLflow match what DVC holds for an experiment, from the experiment's own committed outputs.

Needed because DVC can finish an experiment without running any stage (run-cache), and because a run
could have been logged into another store: the experiment's outputs are the truth, the run their record.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

import yaml

from pipeline.params import PARAMS_FILE, flatten, parse_params
from pipeline.paths import Outputs
from pipeline.tracking import SWEEP_TAG, ModelRun


def record_experiment(root: Path, name: str, rev: str, sweep: str | None = None) -> str:
    """Find or create the MLflow run of experiment `name` (commit `rev`), fill in what it lacks, tag it."""
    import dvc.api

    def read(path: Path, mode: str = "r"):
        return dvc.api.read(str(path.relative_to(out.root)), repo=str(root), rev=rev, mode=mode)

    out = Outputs(root)
    params = parse_params(yaml.safe_load(read(root / PARAMS_FILE)), f"{PARAMS_FILE}@{name}")
    card = json.loads(read(out.model_card))
    tags = {"dvc.exp_name": name, "dvc.exp_rev": rev}
    if sweep:
        tags[SWEEP_TAG] = sweep
    run = ModelRun.open(root, card["digest"], params, tags)
    run.log_curves(csv.DictReader(io.StringIO(read(out.curves))))
    run.log_metrics(flatten(json.loads(read(out.metrics))))
    if not run.has_artifacts("plots"):
        with tempfile.TemporaryDirectory() as tmp:
            staged = Outputs(Path(tmp))
            groups = {
                "model": [out.model, out.model_card, out.curves],
                "eval": [out.metrics, out.details],
                "plots": [out.plots / figure for figure in _figures(root, rev)],
            }
            for artifact_path, paths in groups.items():
                local = []
                for path in paths:
                    target = staged.root / path.relative_to(out.root)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(read(path, mode="rb"))
                    local.append(target)
                run.log_artifacts(local, artifact_path)
    return run.run_id


def _figures(root: Path, rev: str) -> list[str]:
    from dvc.api import DVCFileSystem

    fs = DVCFileSystem(str(root), rev=rev)
    return sorted(Path(p).name for p in fs.find("plots") if p.endswith(".png"))
