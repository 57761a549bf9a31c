"""The sweep grid is checked as a whole before anything is queued: one line for a bad grid, exit status 2."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.core.errors import ParamsError
from pipeline.sweep.grid import grid_from_options
from testkit.project import PROJECT


@pytest.fixture
def params_file(tmp_path: Path) -> Path:
    return Path(shutil.copy(PROJECT / "params.yaml", tmp_path / "params.yaml"))


def test_the_declared_grid_with_options_laid_over_it(params_file):
    grid = grid_from_options(params_file, "1,4", None, ["model.latent_dim=6,8"])
    assert [point.label for point in grid] == [
        "beta=1 seed=0 model.latent_dim=6",
        "beta=1 seed=0 model.latent_dim=8",
        "beta=4 seed=0 model.latent_dim=6",
        "beta=4 seed=0 model.latent_dim=8",
    ]


@pytest.mark.parametrize(
    ("beta", "extra", "message"),
    [
        (
            "1,2",
            ["bogus.key=1,2"],
            "params.yaml [beta=1 seed=0 bogus.key=1]: bogus: unknown key (every grid point invalid; nothing was queued)",
        ),
        (
            "4,-1",
            [],
            "params.yaml [beta=-1 seed=0]: beta: Input should be greater than or equal to 0 (got -1) "
            "(1 of 2 grid points invalid; nothing was queued)",
        ),
        ("1,1.0", [], "--beta 1,1.0: beta lists 1 twice"),
        ("1", ["model.latent_dim=6,6"], "--set model.latent_dim=6,6: model.latent_dim lists 6 twice"),
        ("1", ["model.latent_dim="], "--set 'model.latent_dim=': expected KEY=V1,V2,..."),
    ],
)
def test_a_bad_grid_is_one_error_before_anything_runs(params_file, beta, extra, message):
    with pytest.raises(ParamsError) as raised:
        grid_from_options(params_file, beta, None, extra)
    assert str(raised.value).endswith(message) and "\n" not in str(raised.value)


def test_a_duplicate_in_the_declared_grid_names_params_yaml(params_file):
    params_file.write_text(params_file.read_text().replace("beta: [0, 1, 2, 4, 8, 16]", "beta: [0, 1, 1]"))
    with pytest.raises(ParamsError, match=r"params.yaml sweep.beta: beta lists 1 twice$"):
        grid_from_options(params_file, None, None, [])


def test_the_cli_refuses_a_bad_key_with_one_line_and_exit_2(params_file):
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("vae-pipe")),
            "sweep",
            "--beta",
            "1,2",
            "--set",
            "bogus.key=1,2",
            "--dry-run",
        ],
        cwd=params_file.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().count("\n") == 0 and "bogus: unknown key" in done.stderr
