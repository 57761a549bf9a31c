"""An experiment's identity (its MLflow run, its checkpoint) is its full inputs as DVC sees them."""

from __future__ import annotations

import yaml

from pipeline.core.identity import inputs_description, inputs_key
from pipeline.core.params import parse_params


def test_key_follows_every_declared_input_and_nothing_else(make_project):
    project = make_project()
    root = project.root
    raw = yaml.safe_load((root / "params.yaml").read_text())
    params = parse_params(raw)
    key = inputs_key(root, params)

    described = inputs_description(root, params)
    assert set(described["params"]) == {"beta", "seed", "data", "model", "objective", "train", "eval", "plot"} | {
        "data.dataset",
        "data.split_seed",
        "eval.batch_size",
        "model.objective",
        "train.steps",
    }  # every params entry a stage declares in dvc.yaml
    assert {"vae", "vae/model.py", "metrics/mig.py", "pipeline/stages/evaluate.py"} <= set(described["deps"])
    assert not {"data/dataset.npz", "models/model.pt", "eval/details.json"} & set(described["deps"])

    # Committed, the experiment's commit gives the key its stages computed in the working tree.
    assert inputs_key(root, params, rev="HEAD") == key
    assert inputs_key(root, parse_params(raw | {"eval": raw["eval"] | {"mig_bins": 10}})) != key
    assert inputs_key(root, parse_params(raw | {"beta": 8})) != key
    # The sweep block is not a stage's param: the same experiment.
    assert inputs_key(root, parse_params(raw | {"sweep": {"beta": [1]}})) == key
    # Writing out a default is the same experiment.
    assert inputs_key(root, parse_params(raw | {"train": raw["train"] | {"lr": 0.0005}})) == key
    with (root / "vae" / "model.py").open("a") as handle:
        handle.write("# a code change\n")
    assert inputs_key(root, params) != key


def test_outside_a_dvc_project_the_params_decide(tmp_path):
    assert inputs_key(tmp_path, parse_params({})) == inputs_key(tmp_path, parse_params({"beta": 4.0}))
    assert inputs_key(tmp_path, parse_params({})) != inputs_key(tmp_path, parse_params({"eval": {"mig_bins": 5}}))
