"""The multi-machine path's parts, without services: passwords kept out of text, the server's command
line, finding PostgreSQL, and the checks a cluster sweep makes before it submits anything."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.core.errors import ClusterError, PostgresError, TrackingError
from pipeline.tracking import postgres
from pipeline.tracking.store import check_store, redact, scrub

URI = "postgresql://lab:p%40ss-w0rd@db.lab:5432/mlflow"


def test_redact_hides_only_the_password():
    assert redact(URI) == "postgresql://lab:***@db.lab:5432/mlflow"
    assert redact("http://lab:secret@127.0.0.1:5000") == "http://lab:***@127.0.0.1:5000"
    for plain in ("http://127.0.0.1:5000", "sqlite:////tmp/mlflow.db", "databricks", "http://user@host:1"):
        assert redact(plain) == plain
    assert scrub("auth failed for p@ss-w0rd and p%40ss-w0rd", URI) == "auth failed for *** and ***"


def test_a_password_in_the_tracking_uri_stays_out_of_the_error(monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://lab:secret@127.0.0.1:9")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with pytest.raises(TrackingError) as caught:
        check_store(tmp_path)
    assert "secret" not in str(caught.value) and "http://lab:***@127.0.0.1:9" in str(caught.value)


def test_server_command_carries_no_store_uri_and_warns_beyond_loopback(tmp_path):
    from pipeline.tracking.server import exposure_warning, server_command, server_environment

    command = server_command("127.0.0.1", 5000, tmp_path / "artifacts", 2)
    assert "--backend-store-uri" not in command and not any("p%40ss" in part for part in command)
    assert command[command.index("--artifacts-destination") + 1] == str((tmp_path / "artifacts").resolve())
    assert "--serve-artifacts" in command
    assert server_environment(URI)["MLFLOW_BACKEND_STORE_URI"] == URI
    assert exposure_warning("127.0.0.1") is None
    assert "anyone who reaches this port" in (exposure_warning("0.0.0.0") or "")


def test_postgres_binaries_are_found_on_path_or_in_the_newest_debian_folder(monkeypatch, tmp_path):
    for version in ("13", "15"):
        (tmp_path / version / "bin").mkdir(parents=True)
        (tmp_path / version / "bin" / "initdb").write_text("")
    monkeypatch.setattr(postgres.shutil, "which", lambda name: None)
    monkeypatch.setattr(postgres, "_DEBIAN_BIN_GLOB", str(tmp_path / "*" / "bin"))
    assert postgres.find_binary("initdb") == str(tmp_path / "15" / "bin" / "initdb")
    with pytest.raises(PostgresError, match="pg_ctl not found"):
        postgres.find_binary("pg_ctl")


@pytest.mark.skipif(os.geteuid() != 0, reason="PostgreSQL runs as another user only when we are root")
def test_as_root_a_missing_service_user_is_one_line(monkeypatch):
    monkeypatch.setenv("VAE_PIPE_PG_USER", "no-such-user-here")
    with pytest.raises(PostgresError, match="no user 'no-such-user-here'"):
        postgres.service_user()


def test_a_worker_failure_is_a_result_without_the_password(monkeypatch, tmp_path):
    from pipeline.sweep.cluster.task import PointTask, run_point

    monkeypatch.setenv("VAE_PIPE_CLONES", str(tmp_path / "clones"))
    task = PointTask(str(tmp_path / "no-remote"), "0" * 40, "beta4", ("beta=4",), "s", "http://u:secret@h:1")
    result = run_point(task)
    assert result.state == "failed" and "secret" not in result.error and result.error


def test_cluster_sweep_checks_before_submitting(make_project, monkeypatch):
    from pipeline.sweep.cluster.dispatch import plan, shared_tracking_uri, sweep_source
    from pipeline.sweep.grid import GridPoint
    from pipeline.sweep.plan import QUEUED

    project = make_project()
    root = project.root
    monkeypatch.chdir(root)
    for key in ("MLFLOW_TRACKING_URI", "DVC_SITE_CACHE_DIR"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("DVC_SITE_CACHE_DIR", project.env["DVC_SITE_CACHE_DIR"])
    with pytest.raises(TrackingError, match="needs a shared MLflow store"):
        shared_tracking_uri(root)

    remote = root.parent / "remote.git"
    project.run("git", "init", "-q", "--bare", str(remote))
    project.run("git", "remote", "add", "origin", str(remote))
    with pytest.raises(ClusterError, match="is not on the git remote origin: push it first"):
        sweep_source(root, "origin")
    project.run("git", "push", "-q", "origin", "main")
    with pytest.raises(ClusterError, match="no default DVC remote"):
        sweep_source(root, "origin")
    project.run("dvc", "remote", "add", "-d", "shared", str(root.parent / "dvc-remote"))
    with pytest.raises(ClusterError, match="uncommitted changes"):
        sweep_source(root, "origin")
    project.commit("DVC remote")
    project.run("git", "push", "-q", "origin", "main")
    url, commit = sweep_source(root, "origin")
    assert url == str(remote) and len(commit) == 40

    states = plan(root, [GridPoint((("beta", 4),))])
    assert [s.state for s in states] == [QUEUED] and states[0].name.startswith("beta4-")
    assert Path(url).is_dir()
