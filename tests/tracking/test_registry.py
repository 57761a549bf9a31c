"""`vae-pipe register`: the best run of a sweep per (objective, dataset, likelihood) becomes an aliased model
version with its sweep's tags; registering again reuses the version; other sweeps' runs never compete."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.core.errors import TrackingError
from pipeline.report.build import build_report
from pipeline.tracking.mlmodel import logged_model_id
from pipeline.tracking.registry import REGISTERED_BY_TAG, register_best, registered_versions
from pipeline.tracking.store import SWEEP_TAG, client, sweep_member_tag
from testkit.runs import SMALL_MODEL, finished_run

TC = {**SMALL_MODEL, "model": {**SMALL_MODEL["model"], "objective": "tc_vae"}}
BETA_MODEL, TC_MODEL = "vae-pipe-beta_vae-dsprites-bernoulli", "vae-pipe-tc_vae-dsprites-bernoulli"


def sweep_store(root):
    """Sweep "s": two β-VAE runs and one β-TCVAE run; sweep "other": a β-VAE run with the best MIG of all."""
    ids = {
        "low": finished_run(root, "low", {**SMALL_MODEL, "beta": 1.0}, {"mig": 0.10, "elbo": -90.0}, "s"),
        "high": finished_run(root, "high", {**SMALL_MODEL, "beta": 4.0}, {"mig": 0.30, "elbo": -95.0}, "s"),
        "tc": finished_run(root, "tc", TC, {"mig": 0.20, "elbo": -99.0}, "s"),
        "elsewhere": finished_run(root, "elsewhere", {**SMALL_MODEL, "beta": 8.0}, {"mig": 0.90}, "other"),
    }
    return ids


@pytest.mark.e2e  # MLflow models written, registered, a report built: seconds
def test_the_best_run_of_each_group_is_registered_with_an_alias_and_its_sweep_tags(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    ids = sweep_store(tmp_path)
    registered = register_best(tmp_path, "s", "mig")
    assert [(r.name, r.version, r.alias, r.run_id) for r in registered] == [
        (BETA_MODEL, "1", "best-mig", ids["high"]),
        (TC_MODEL, "1", "best-mig", ids["tc"]),
    ]
    mlflow_client = client(tmp_path)
    version = mlflow_client.get_model_version_by_alias(BETA_MODEL, "best-mig")
    assert version.run_id == ids["high"] and version.source == f"models:/{logged_model_id(mlflow_client, ids['high'])}"
    assert version.tags[SWEEP_TAG] == "s" and version.tags[sweep_member_tag("s")] == "true"
    assert version.tags[REGISTERED_BY_TAG] == "mig" and version.tags["dvc.exp_name"] == "high"

    # Lower is better for reconstruction-like scores, higher for ELBO: β = 1 wins by ELBO; same group, new version.
    by_elbo = register_best(tmp_path, "s", "elbo")
    assert [(r.name, r.version, r.alias, r.run_id) for r in by_elbo][0] == (BETA_MODEL, "2", "best-elbo", ids["low"])
    again = register_best(tmp_path, "s", "mig")  # reuses version 1, adds none
    assert [r.version for r in again] == ["1", "1"]
    assert len(mlflow_client.search_model_versions(f"name = '{BETA_MODEL}'")) == 2
    listed = {(r.name, r.alias): r.version for r in registered_versions(mlflow_client)}
    assert listed == {
        (BETA_MODEL, "best-elbo"): "2",
        (BETA_MODEL, "best-mig"): "1",
        (TC_MODEL, "best-elbo"): "1",
        (TC_MODEL, "best-mig"): "1",
    }
    page = build_report(tmp_path, tmp_path / "reports", sweep="s").index.read_text()
    assert f'href="http://127.0.0.1:5000/#/models/{BETA_MODEL}/versions/2">{BETA_MODEL}@best-elbo</a>' in page


@pytest.mark.e2e
def test_register_command_and_its_one_line_errors(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".dvc").mkdir()
    finished_run(tmp_path, "only", SMALL_MODEL, {"mig": 0.2, "elbo": -80.0}, "s")
    done = CliRunner().invoke(app, ["register", "--sweep", "s", "--by", "mig"])
    assert done.exit_code == 0, done.output
    assert f"models:/{BETA_MODEL}@best-mig → version 1 (mig 0.2, run " in done.output
    for args, message in [
        (["--sweep", "nope"], "--sweep nope: no finished runs of this sweep"),
        (["--sweep", "s", "--by", "kl"], "--by 'kl': not a score to rank by"),
        (["--sweep", "s", "--by", "sap"], "--by sap: none of the 1 runs of sweep s has this score"),
    ]:
        failed = CliRunner().invoke(app, ["register", *args])
        assert failed.exit_code == 2 and message in failed.output, failed.output
    with pytest.raises(TrackingError, match="sweep name holds letters"):
        register_best(tmp_path, "a b", "mig")


@pytest.mark.cluster
@pytest.mark.e2e  # a PostgreSQL cluster and an MLflow server start: out of make test-fast
def test_register_and_load_by_alias_on_a_postgresql_backed_server(tmp_path, monkeypatch):
    """The same registry through `vae-pipe server` (PostgreSQL behind it, artifacts served over HTTP)."""
    from pipeline.api import load_model
    from testkit.cluster import mlflow_server, postgres_cluster
    from testkit.project import project_env
    from tests.sweep.test_cluster import _require_postgres

    _require_postgres()
    with postgres_cluster() as backend, mlflow_server(backend, tmp_path / "server", project_env(tmp_path)) as (url, _):
        monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
        ids = sweep_store(tmp_path / "clone")
        registered = register_best(tmp_path / "clone", "s", "mig")
        assert [(r.name, r.version, r.run_id) for r in registered] == [
            (BETA_MODEL, "1", ids["high"]),
            (TC_MODEL, "1", ids["tc"]),
        ]
        assert [r.version for r in register_best(tmp_path / "clone", "s", "mig")] == ["1", "1"]
        model = load_model(f"{BETA_MODEL}@best-mig", root=tmp_path / "clone")
        assert model.config.latent_dim == 4
