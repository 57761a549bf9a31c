"""Bad inputs beyond params.yaml's schema: each is one line naming the value and where it came from, and
nothing produced earlier is touched."""

from __future__ import annotations

import errno
import json
import os
import socket
import stat
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.core.curves import read_curves, write_curves
from pipeline.core.errors import OutputError, ParamsError, user_errors
from pipeline.core.params import parse_params
from pipeline.core.paths import Outputs, atomic_path, write_text_atomic
from pipeline.stages import prepare
from pipeline.stages.artifacts import load_held_out, load_train_images, load_trained
from vae.checkpoint import save_weights
from vae.errors import DatasetError
from vae.model import VAE, ModelConfig

CONFIG = ModelConfig(
    arch="mlp", latent_dim=3, hidden_dim=8, image_shape=(1, 64, 64), likelihood="bernoulli", gaussian_std=0.1
)


def test_subsample_larger_than_the_dataset_is_one_line(tmp_path):
    out = Outputs(tmp_path)
    with pytest.raises(ParamsError) as error:
        prepare.run(parse_params({"data": {"subsample": 1_000_000}}), out)
    assert str(error.value) == "params.yaml: data.subsample: 1,000,000 is more than the 737,280 images of dsprites"
    assert not out.dataset.exists()


@pytest.fixture
def trained(tmp_path) -> Outputs:
    out = Outputs(tmp_path)
    out.model.parent.mkdir(parents=True)
    save_weights(VAE(CONFIG), out.model)
    write_text_atomic(out.model_card, json.dumps({"config": CONFIG.to_dict()}) + "\n")
    return out


def test_a_good_model_loads(trained):
    assert load_trained(trained, torch.device("cpu")).config == CONFIG


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda out: out.model_card.unlink(), r"models/model\.json: missing; run `dvc checkout`"),
        (lambda out: out.model_card.write_text("{"), r"models/model\.json: not a model card \(JSONDecodeError\)"),
        (lambda out: out.model_card.write_text('{"config": {"arch": "mlp"}}'), r"model\.json: not a model card"),
        (lambda out: out.model.unlink(), r"models/model\.pt: missing; run `dvc checkout`"),
        (
            lambda out: out.model.write_bytes(out.model.read_bytes()[:200]),
            r"models/model\.pt: cannot be read as weights for ModelConfig",
        ),
        (lambda out: out.model.write_bytes(b""), r"models/model\.pt: cannot be read as weights"),
    ],
)
def test_a_damaged_model_is_one_line(trained, damage, message):
    damage(trained)
    with pytest.raises(OutputError, match=message) as error:
        load_trained(trained, torch.device("cpu"))
    assert "\n" not in str(error.value)


def test_outputs_are_written_with_the_umask_not_0600(tmp_path):
    previous = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "a.json", "{}")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o644


def test_ui_on_a_taken_port_exits_non_zero_with_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["ui", "--port", str(port)])
    assert result.exit_code == 2
    assert f"error: --port {port}: 127.0.0.1:{port} is already in use" in result.output
    assert not (tmp_path / "mlflow.db").exists()


@pytest.fixture
def prepared_digits(tmp_path) -> Outputs:
    out = Outputs(tmp_path)
    prepare.run(parse_params({"data": {"dataset": "digits", "test_size": 300}}), out)
    return out


def _cut(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda out: out.split.unlink(), r"data/split\.npz: missing; run `dvc checkout data/split\.npz` or `dvc repro"),
        (lambda out: _cut(out.split), r"data/split\.npz: damaged \(\w+\); run `dvc checkout data/split\.npz`"),
        (lambda out: out.split.write_bytes(b"not a zip"), r"data/split\.npz: damaged \(\w+\)"),
    ],
)
@pytest.mark.parametrize("reader", ["train", "evaluate"])
def test_a_damaged_split_is_one_line(prepared_digits, damage, message, reader):
    damage(prepared_digits)
    with pytest.raises(OutputError, match=message) as error:
        if reader == "train":
            load_train_images(prepared_digits, "digits")
        else:
            load_held_out(prepared_digits)
    assert "\n" not in str(error.value)


def test_a_truncated_labelled_dataset_is_one_line(prepared_digits):
    assert len(load_train_images(prepared_digits, "digits")) == 1797 - 300
    _cut(prepared_digits.dataset)
    with pytest.raises(DatasetError, match=r"dataset\.npz: damaged or not a labelled-images npz \(\w+\); run") as error:
        load_train_images(prepared_digits, "digits")
    assert "\n" not in str(error.value)


ROWS = [
    {"step": 5.0, "loss": 3.5, "recon": 3.0, "kl": 0.5, "images_per_s": 900.0},
    {"step": 10.0, "loss": 2.5, "recon": 2.25, "kl": 0.25, "images_per_s": 950.0},
]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda text: text[:-4], "cut short or not a training-curves file"),
        (lambda text: text.replace("2.25", "2.2x"), "line 3 is damaged"),
        (lambda text: text.replace("10.0,", "5.0,"), "line 3 is damaged"),  # steps go back: two files run together
        (lambda text: text.replace("3.0,", ","), "line 2 is damaged"),  # an empty field
        (lambda text: text.splitlines(keepends=True)[0], "cut short or not a training-curves file"),
        (lambda text: "", "cut short or not a training-curves file"),
    ],
)
def test_damaged_training_curves_are_one_line(tmp_path, damage, message):
    path = tmp_path / "models" / "curves.csv"
    path.parent.mkdir()
    write_curves(path, ROWS)
    assert read_curves(path) == ROWS
    path.write_text(damage(path.read_text()))
    with pytest.raises(OutputError, match=rf"models/curves\.csv: {message}; run `dvc checkout models/curves\.csv`"):
        read_curves(path)


needs_dev_full = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")


@needs_dev_full
def test_weights_on_a_full_disk_are_the_disk_error_not_torchs_unexpected_pos():
    # /dev/full answers every write with ENOSPC, as a full disk does; torch alone says "unexpected pos 704 vs 598".
    with pytest.raises(OSError) as error:
        save_weights(VAE(CONFIG), Path("/dev/full"))
    assert error.value.errno == errno.ENOSPC and error.value.filename == "/dev/full"


def test_an_atomic_write_on_a_full_disk_names_its_target_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "data" / "split.npz"
    target.parent.mkdir()
    target.write_bytes(b"earlier output")
    with pytest.raises(OSError) as error, atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")  # numpy's savez through a handle names no file
    assert error.value.errno == errno.ENOSPC and error.value.filename == str(target)
    assert target.read_bytes() == b"earlier output" and list(target.parent.iterdir()) == [target]


@needs_dev_full
def test_a_full_disk_is_one_line_naming_the_stage_and_the_file():
    import typer

    app = typer.Typer()

    @app.command()
    @user_errors
    def train() -> None:
        save_weights(VAE(CONFIG), Path("/dev/full"))

    result = CliRunner().invoke(app, [])
    assert result.exit_code == 2
    assert result.output.strip() == (
        "error: train: the disk is full: /dev/full could not be written (nothing half-written was kept); "
        "free space there and run it again"
    )
