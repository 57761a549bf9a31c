"""The params schema: the repo's params.yaml is valid, and every bad value is one line naming key and file."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core.errors import ParamsError
from pipeline.core.params import Params, load_params, parse_params

REPO_PARAMS = Path(__file__).resolve().parents[2] / "params.yaml"


def test_repo_params_are_valid_and_carry_the_contract_names():
    params = load_params(REPO_PARAMS)
    flat = params.flat()
    for key in ("beta", "seed", "model.latent_dim", "train.steps", "sweep.beta", "sweep.seed"):
        assert key in flat
    assert params == Params.model_validate(params.model_dump())


def test_schema_defaults_are_the_checked_in_params():
    """One config source: a missing key means exactly what params.yaml says."""
    assert Params() == load_params(REPO_PARAMS)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"beta": -1}, "params.yaml: beta: Input should be greater than or equal to 0 (got -1)"),
        (
            {"model": {"latent_dim": 0}},
            "params.yaml: model.latent_dim: Input should be greater than or equal to 1 (got 0)",
        ),
        ({"trian": {"steps": 5}}, "params.yaml: trian: unknown key"),
        ({"train": {"stpes": 5}}, "params.yaml: train.stpes: unknown key"),
        ({"train": {"steps": "many"}}, "params.yaml: train.steps: Input should be a valid integer"),
        (
            {"model": {"arch": "resnet"}},
            "params.yaml: model.arch: Input should be 'auto', 'conv' or 'mlp' (got 'resnet')",
        ),
        (
            {"sweep": {"beta": [1, -2]}},
            "params.yaml: sweep.beta.1: Input should be greater than or equal to 0 (got -2)",
        ),
        (
            {"data": {"subsample": 100, "test_size": 100}},
            "params.yaml: data: test_size (100) must be smaller than subsample (100)",
        ),
        ([1, 2], "params.yaml: expected a mapping of keys, got list"),
        ({"beta": float("inf")}, "params.yaml: beta: Input should be a finite number (got inf)"),
        ({"train": {"lr": float("nan")}}, "params.yaml: train.lr: Input should be a finite number (got nan)"),
        ({"eval": {"active_threshold": float("inf")}}, "params.yaml: eval.active_threshold: Input should be a finite"),
        ({"plot": {"traversal_range": float("-inf")}}, "params.yaml: plot.traversal_range: Input should be a finite"),
        ({"sweep": {"beta": [1, float("inf")]}}, "params.yaml: sweep.beta.1: Input should be a finite number"),
        ({"train": {"checkpoint_minutes": float("nan")}}, "params.yaml: train.checkpoint_minutes: Input should be"),
    ],
)
def test_bad_values_are_one_line(raw, message):
    with pytest.raises(ParamsError) as error:
        parse_params(raw)
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


def test_file_errors_name_the_file(tmp_path):
    bad_yaml = tmp_path / "p.yaml"
    bad_yaml.write_text("beta: [1,\n")
    with pytest.raises(ParamsError, match=r"p\.yaml: not valid YAML at line"):
        load_params(bad_yaml)
    with pytest.raises(ParamsError, match=r"missing\.yaml: cannot read params file"):
        load_params(tmp_path / "missing.yaml")


def test_empty_file_means_defaults(tmp_path):
    empty = tmp_path / "params.yaml"
    empty.write_text("")
    assert load_params(empty) == Params()


@pytest.mark.parametrize(
    ("compile_", "steps", "compiled"),
    [("auto", 12_000, True), ("auto", 8_000, True), ("auto", 7_999, False), (False, 12_000, False), (True, 30, True)],
)
def test_train_compile_auto_compiles_long_runs_only(compile_, steps, compiled):
    import torch

    from pipeline.core.configs import train_config

    params = parse_params({"train": {"compile": compile_, "steps": steps}})
    assert train_config(params, torch.device("cpu")).compile is compiled


def test_train_compile_takes_auto_or_a_bool():
    assert parse_params({"train": {"compile": True}}).train.compile is True
    with pytest.raises(ParamsError, match="train.compile"):
        parse_params({"train": {"compile": "sometimes"}})
    from vae.train import resolve_compile

    with pytest.raises(ValueError, match="train.compile"):
        resolve_compile("false", 12_000)  # a string that is not auto never means "compile"
