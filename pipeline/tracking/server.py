"""`vae-pipe server`: MLflow's tracking server over a shared store, for sweeps on several machines.

The backend store (PostgreSQL in a lab) travels to MLflow in its environment (MLFLOW_BACKEND_STORE_URI),
never on the command line, where `ps` would show its password to every user of the machine; what is
printed is redacted. Artifacts are served by the server (`--serve-artifacts`), so clients and workers
need no shared filesystem, only HTTP to the server.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pipeline.core.errors import PostgresError

URI_FILE = "uri"  # in a throw-away cluster's folder (`vae-pipe postgres start`), mode 0600
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def server_command(
    host: str, port: int, artifacts: Path | None, workers: int, allowed_hosts: str | None = None
) -> list[str]:
    """The `mlflow server` command line, for `vae-pipe server` and `vae-pipe ui` alike: no store URI in it
    (see the module's docstring; server_environment carries it). `artifacts`: serve artifacts from there
    over HTTP; None: the runs' own artifact locations (the project's local store)."""
    served = ["--serve-artifacts", "--artifacts-destination", str(artifacts.resolve())] if artifacts else []
    extra = ["--allowed-hosts", allowed_hosts] if allowed_hosts else []
    return [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        *served,
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        *extra,
    ]


def server_environment(backend_uri: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("MLFLOW_TRACKING_URI", None)  # the server is the store's only client
    env["MLFLOW_BACKEND_STORE_URI"] = backend_uri
    env.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")  # GenAI job runners: 8 idle processes
    return env


def exposure_warning(host: str) -> str | None:
    """What binding beyond loopback means: MLflow's server has no login by default."""
    if host in LOOPBACK:
        return None
    return (
        f"listening on {host}: anyone who reaches this port can read, change and delete every run and artifact "
        "(MLflow's server has no login); bind it only on a trusted network, or put an authenticating proxy in front"
    )


def backend_from_folder(folder: Path) -> str:
    """The URI a throw-away cluster wrote when it started (`vae-pipe postgres start FOLDER`)."""
    path = folder / URI_FILE
    if not path.is_file():
        raise PostgresError(f"{path} does not exist: start the cluster first (vae-pipe postgres start {folder})")
    return path.read_text().strip()


def write_uri(folder: Path, uri: str) -> Path:
    """Keep the cluster's URI (it holds the password) readable by its owner only."""
    path = folder / URI_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(uri + "\n")
    return path
