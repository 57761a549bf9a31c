"""The four stage commands, shared by `vae-pipe <stage>` and `python -m pipeline.stages <stage>` (dvc.yaml).

Kept apart from the CLI so that running a stage imports only what the stage needs: each stage's code deps in
dvc.yaml are derived from these imports (tests/test_dvc_deps.py), and the rest of vae-pipe (sweep, report)
stays out of them. The stage module is imported by name, so this module's own imports are every stage's.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated

import typer

from pipeline.core.errors import user_errors

STAGES = ("validate", "prepare", "train", "evaluate", "plot")
"""In pipeline order, as dvc.yaml names them; each is a module of this package with `main(params, out)`."""

ParamsOption = Annotated[Path, typer.Option("--params", "-p", help="Params file (validated before any work).")]


def run_stage(stage: str, params_file: Path) -> None:
    """Validated params (and, for stages that log to MLflow, a usable store) before any work; then the
    stage, whose `main` returns the lines to print. The stage holds the workspace (pipeline/core/workspace.py)."""
    from pipeline.core.params import load_params
    from pipeline.core.paths import Outputs, repo_root
    from pipeline.core.workspace import stage_guard

    # The folder the stage runs in: a queued experiment's copy has its own (repo_root() is the parent's).
    with stage_guard(Path.cwd(), stage, params_file):
        params = load_params(params_file)
        if stage in ("train", "evaluate", "plot"):  # a bad URI or a down server costs seconds, not a training
            from pipeline.tracking.store import bound_store_calls, check_store

            check_store(repo_root())
            bound_store_calls()
        module = importlib.import_module(f"pipeline.stages.{stage}")
        for line in module.main(params, Outputs(Path.cwd())):
            typer.echo(line)


@user_errors
def validate(params_file: ParamsOption = Path("params.yaml")) -> None:
    """Check params.yaml as a whole (every stage depends on this one, so DVC runs nothing on invalid params)."""
    run_stage("validate", params_file)


@user_errors
def prepare(params_file: ParamsOption = Path("params.yaml")) -> None:
    """Render dSprites (or copy the original file named in params) and split off held-out data."""
    run_stage("prepare", params_file)


@user_errors
def train(params_file: ParamsOption = Path("params.yaml")) -> None:
    """Train one β-VAE at params.yaml's beta and seed; log it to MLflow."""
    run_stage("train", params_file)


@user_errors
def evaluate(params_file: ParamsOption = Path("params.yaml")) -> None:
    """Held-out ELBO, IWAE bound, KL per dimension, active units, MIG, DCI, SAP, FactorVAE and BetaVAE scores
    → eval/metrics.json and MLflow."""
    run_stage("evaluate", params_file)


@user_errors
def plot(params_file: ParamsOption = Path("params.yaml")) -> None:
    """Reconstructions, samples, traversals, KL per dimension and training curves → plots/."""
    run_stage("plot", params_file)


COMMANDS = (validate, prepare, train, evaluate, plot)


def stage_app() -> typer.Typer:
    """The stage commands as their own Typer app (`python -m pipeline.stages`)."""
    app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
    for command in COMMANDS:
        app.command()(command)
    return app
