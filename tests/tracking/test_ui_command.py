"""`vae-pipe ui`: the store's URI never reaches the terminal or `ps` in clear; a tracking server is pointed at."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline import cli
from pipeline.tracking import store, ui
from pipeline.tracking.server import server_command


def test_the_mlflow_server_command_never_holds_a_store_uri():
    for artifacts in (None, Path("mlartifacts")):
        command = server_command("127.0.0.1", 5000, artifacts, 1)
        assert "--backend-store-uri" not in command and not any("://" in part for part in command)


def test_ui_hands_a_database_password_to_the_server_through_its_environment_only(monkeypatch, tmp_path):
    uri = "postgresql://vae:s3cret-pw@127.0.0.1:5432/mlflow"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    # The store itself is not under test here (the cluster tests run a real PostgreSQL-backed server).
    monkeypatch.setattr(store, "ensure_store", lambda root, writing=True: "1")
    monkeypatch.setattr(ui, "ui_addresses", lambda root, exp_id, base: f"Runs table: {base}/#/experiments/1")
    started = {}
    monkeypatch.setattr(cli.os, "execve", lambda path, argv, env: started.update(argv=argv, env=env))
    result = CliRunner().invoke(cli.app, ["ui", "--port", str(_free_port())])
    assert result.exit_code == 0, result.output
    assert "s3cret-pw" not in result.output and "postgresql://vae:***@127.0.0.1:5432/mlflow" in result.output
    assert not any("s3cret-pw" in part for part in started["argv"])  # what `ps` shows
    assert started["env"]["MLFLOW_BACKEND_STORE_URI"] == uri and "MLFLOW_TRACKING_URI" not in started["env"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.e2e
def test_ui_on_a_tracking_server_points_at_it(tmp_path, monkeypatch):
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{tmp_path / 's.db'}",
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.time() + 90
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except OSError:
                assert time.time() < deadline and server.poll() is None, "the MLflow server did not start"
                time.sleep(0.5)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{port}")
        monkeypatch.chdir(tmp_path)
        monkeypatch.setattr(cli.os, "execve", lambda *a: pytest.fail("no second server for a server's store"))
        result = CliRunner().invoke(cli.app, ["ui", "--port", str(port)])  # its port is taken: by the server
        assert result.exit_code == 0, result.output
        assert f"the tracking store is the MLflow server at http://127.0.0.1:{port}" in result.output
        assert f"http://127.0.0.1:{port}/#/experiments/" in result.output
    finally:
        server.terminate()
        server.wait(30)
