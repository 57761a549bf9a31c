"""A throw-away copy of vae-pipe as its own git + DVC repository, and readers of what ran in it.

PROJECT_FILES are what a stage needs; this module is not among them, because stages never import it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

PROJECT = Path(__file__).resolve().parents[1]  # the repository root
PROJECT_FILES = ("dvc.yaml", "params.yaml", ".dvcignore", ".gitignore", "vae", "metrics", "pipeline")

# Small enough for seconds per stage on 2 CPU cores, large enough for every stage to do real work.
TINY_PARAMS = {
    "data": {"subsample": 3000, "test_size": 600},
    "model": {"hidden_dim": 32},
    "train": {"steps": 30, "batch_size": 32, "log_every": 5, "device": "cpu"},
    "eval": {
        "batch_size": 200,
        "mig_points": 600,
        "iwae_k": 4,
        "iwae_points": 100,
        "dci": {"num_train": 100, "num_test": 50},
        "sap": {"num_train": 100, "num_test": 50},
        "factor_vae": {"batch_size": 8, "num_train": 50, "num_eval": 25, "num_variance_estimate": 200},
        "beta_vae": {"batch_size": 8, "num_train": 50, "num_eval": 25},
        "modularity": {"num_train": 100, "num_test": 50},
        "irs": {"num_train": 100},
        "unsupervised_points": 300,
    },
    "plot": {"n_images": 4, "n_samples": 16, "traversal_steps": 5},
}


def merge(base: dict, override: dict) -> dict:
    """`override` laid over `base`: nested dicts merged key by key, any other value replaced."""
    out = dict(base)
    for key, value in override.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def project_env(root: Path) -> dict[str, str]:
    """The environment a user's shell would have: the venv's tools on PATH, MLflow's default store."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DVC_"))}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        DVC_SITE_CACHE_DIR=str(root.parent / f"{root.name}-dvc-site-cache"),
        DVC_NO_ANALYTICS="1",
        MLFLOW_DISABLE_TELEMETRY="true",
        GIT_AUTHOR_NAME="vae-pipe tests",
        GIT_AUTHOR_EMAIL="tests@vae-pipe.invalid",
        GIT_COMMITTER_NAME="vae-pipe tests",
        GIT_COMMITTER_EMAIL="tests@vae-pipe.invalid",
    )
    return env


def mlflow_runs(root: Path) -> tuple[MlflowClient, list[Run]]:
    """(client, runs) of the project's MLflow experiment in the default store at `root`."""
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")  # listing `model/` goes through the default store
    client = MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("vae-pipe")
    assert experiment is not None, "no MLflow experiment 'vae-pipe' in the repository's store"
    return client, client.search_runs([experiment.experiment_id])


def exp_rows(root: Path) -> list[dict]:
    """`dvc exp show` rows through DVC's Python API."""
    import dvc.api

    return dvc.api.exp_show(repo=str(root))


class Project:
    """A temporary clone-like copy of vae-pipe; `run` executes a command in it as a user would."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = project_env(root)

    def run(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(args, cwd=self.root, env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"{' '.join(args)} exited {done.returncode}\n{done.stdout}\n{done.stderr}")
        return done

    def set_params(self, override: dict) -> None:
        path = self.root / "params.yaml"
        path.write_text(yaml.safe_dump(merge(yaml.safe_load(path.read_text()), override), sort_keys=False))

    def commit(self, message: str) -> None:
        self.run("git", "add", "-A")
        self.run("git", "commit", "-q", "-m", message)


def create_project(root: Path, params: dict | None = None) -> Project:
    """A copy of the project's tracked pipeline files as a fresh git + DVC repo at `root`, tiny params."""
    root.mkdir(parents=True)
    for item in PROJECT_FILES:
        source = PROJECT / item
        if source.is_dir():
            shutil.copytree(source, root / item, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, root / item)
    project = Project(root)
    project.run("git", "init", "-q", "-b", "main")
    project.run("dvc", "init", "-q")
    project.run("dvc", "config", "core.analytics", "false")
    project.set_params(merge(TINY_PARAMS, params or {}))
    project.commit("project copy for a test")
    return project
