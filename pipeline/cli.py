"""The `vae-pipe` command. Heavy libraries (torch, mlflow, dvc) are imported inside commands so that
`vae-pipe --help` stays instant."""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from pipeline.core.errors import fail as _fail
from pipeline.core.errors import user_errors
from pipeline.stages.entry import COMMANDS, ParamsOption

app = typer.Typer(
    help="Reproducible β-VAE experiments: DVC stages, MLflow tracking, sweeps over β.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for command in COMMANDS:  # validate, prepare, train, evaluate, plot: pipeline/stages/entry.py
    app.command()(command)


@app.command()
@user_errors
def sweep(
    params_file: ParamsOption = Path("params.yaml"),
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            min=1,
            help="Grid points trained at once, each with cores / jobs threads "
            "(default: one per core, at most one per 2 GB of memory).",
        ),
    ] = None,
    beta: Annotated[str | None, typer.Option(help="Override sweep.beta, e.g. '0,1,4'.")] = None,
    seed: Annotated[str | None, typer.Option(help="Override sweep.seed, e.g. '0,1'.")] = None,
    set_: Annotated[list[str], typer.Option("--set", help="Grid over any param: KEY=V1,V2 (repeatable).")] = [],  # noqa: B006
    name: Annotated[
        str | None, typer.Option(help="Sweep name, tagged on its MLflow runs (default: sweep-DATE-TIME).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the grid and what would run; run nothing.")] = False,
    progress_every: Annotated[
        float,
        typer.Option(
            "--progress-every",
            min=1,
            help="Outside a terminal (CI, nohup): print each running point's step, images/s and eta every "
            "this many seconds.",
        ),
    ] = 60.0,
    cluster: Annotated[
        str | None,
        typer.Option(help="Run the points on a Dask cluster: its scheduler, tcp://HOST:PORT (see docs/cluster.md)."),
    ] = None,
    scheduler_file: Annotated[
        Path | None, typer.Option(help="Run the points on the Dask cluster whose scheduler wrote this file.")
    ] = None,
    git_remote: Annotated[
        str, typer.Option(help="With --cluster: the git remote (name or URL) workers clone and push to.")
    ] = "origin",
) -> None:
    """Run the grid in params.yaml `sweep:` as DVC experiments, one per point, here or on a Dask cluster."""
    import contextlib
    import time

    from pipeline.core.paths import repo_root
    from pipeline.sweep.grid import grid_from_options
    from pipeline.sweep.plan import one_sweep_at_a_time
    from pipeline.tracking.store import check_sweep_name

    grid = grid_from_options(params_file, beta, seed, set_)
    root = repo_root()
    sweep_name = check_sweep_name(name or time.strftime("sweep-%Y%m%d-%H%M%S"))
    with contextlib.nullcontext() if dry_run else one_sweep_at_a_time(root, sweep_name):
        if cluster is not None or scheduler_file is not None:
            from pipeline.sweep.cluster.run import cluster_sweep

            failed = cluster_sweep(root, grid, sweep_name, cluster, scheduler_file, git_remote, dry_run, progress_every)
        else:
            from pipeline.sweep.local.run import local_sweep

            failed = local_sweep(root, grid, sweep_name, jobs, progress_every, dry_run)
    if failed:
        raise typer.Exit(1)


@app.command()
@user_errors
def report(
    sweep: Annotated[str | None, typer.Option(help="Only runs tagged with this sweep name.")] = None,
    dataset: Annotated[str | None, typer.Option(help="Only runs on this dataset (param data.dataset).")] = None,
    since: Annotated[datetime | None, typer.Option(help="Only runs started at or after this time (local).")] = None,
    out: Annotated[Path, typer.Option(help="Report folder.")] = Path("reports"),
) -> None:
    """All MLflow runs (or a filtered set) → the β-sweep report: reports/index.html and summary.csv."""
    from pipeline.core.paths import repo_root
    from pipeline.report.build import build_report

    root = repo_root()
    result = build_report(root, out if out.is_absolute() else Path.cwd() / out, sweep, dataset, since)
    for sentence in result.text:
        typer.echo(sentence)
    typer.echo(f"report of {result.n_runs} runs → {result.index} (summary: {result.summary_csv})")


@app.command()
@user_errors
def record(params_file: ParamsOption = Path("params.yaml")) -> None:
    """Complete this workspace's MLflow run from its outputs (after the store stopped answering mid-stage)."""
    from pipeline.core.params import load_params
    from pipeline.core.paths import Outputs
    from pipeline.tracking.record import record_workspace

    run_id, stages = record_workspace(load_params(params_file), Outputs(Path.cwd()))
    typer.echo(f"recorded {', '.join(stages)} outputs in MLflow run {run_id}")


@app.command()
@user_errors
def register(
    sweep: Annotated[str, typer.Option(help="The sweep whose runs compete (its name, as `vae-pipe sweep --name`).")],
    by: Annotated[
        str, typer.Option(help="The score that picks the best run, e.g. mig, elbo, sap (a catalogue name).")
    ] = "mig",
) -> None:
    """Register the best run of a sweep per (objective, dataset, likelihood) in MLflow's Model Registry, alias best-BY."""
    from pipeline.core.paths import repo_root
    from pipeline.tracking.registry import register_best

    for version in register_best(repo_root(), sweep, by):
        typer.echo(
            f"{version.uri} → version {version.version} ({by} {version.score:.4g}, run {version.run_id}"
            + (f", experiment {version.exp_name})" if version.exp_name else ")")
        )


def _port_free(port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As servers bind: connections of a server that just stopped (TIME_WAIT) do not hold the port.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@app.command()
@user_errors
def ui(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 5000,
) -> None:
    """Start the MLflow UI on 127.0.0.1 over this project's tracking store."""
    from pipeline.core.paths import repo_root
    from pipeline.tracking.server import server_command, server_environment
    from pipeline.tracking.store import ensure_store, redact, tracking_uri
    from pipeline.tracking.ui import ui_addresses

    root = repo_root()
    uri = tracking_uri(root)
    if uri.startswith(("http://", "https://")):  # a tracking server already serves the UI: point at it
        base = redact(uri).rstrip("/")
        typer.echo(f"the tracking store is the MLflow server at {base}; its UI is there")
        typer.echo(ui_addresses(root, ensure_store(root, writing=False), base))
        return
    if not _port_free(port):  # before the store is created: a taken port leaves nothing behind
        _fail(f"--port {port}: 127.0.0.1:{port} is already in use (another MLflow UI?); pick another with --port")
    exp_id = ensure_store(root, writing=False)
    base = f"http://127.0.0.1:{port}"
    typer.echo(f"MLflow UI for {redact(uri)} on {base} (Ctrl-C stops it)")
    typer.echo(ui_addresses(root, exp_id, base))
    # The store's URI (a database password, maybe) reaches the server through its environment, never `ps`.
    command = server_command("127.0.0.1", port, None, 1)
    os.execve(sys.executable, command, server_environment(uri))  # Ctrl-C and kill reach the server


@app.command()
@user_errors
def server(
    backend_store_uri: Annotated[
        str | None,
        typer.Option(
            envvar="VAE_PIPE_BACKEND_STORE_URI",
            help="The store behind the server, e.g. postgresql://USER:PASSWORD@HOST:5432/mlflow.",
        ),
    ] = None,
    postgres: Annotated[
        Path | None, typer.Option(help="Use the throw-away cluster started with `vae-pipe postgres start DIR`.")
    ] = None,
    artifacts_destination: Annotated[
        Path, typer.Option(help="Where the server keeps artifacts; clients upload and download them over HTTP.")
    ] = Path("mlartifacts"),
    host: Annotated[
        str, typer.Option(help="Address to bind (0.0.0.0: every interface, see docs/cluster.md).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 5000,
    workers: Annotated[int, typer.Option(min=1, help="Server worker processes.")] = 2,
    allowed_hosts: Annotated[
        str | None,
        typer.Option(help="Host names clients may use to reach the server, e.g. 'tracking.lab:5000' (MLflow's check)."),
    ] = None,
) -> None:
    """Start a shared MLflow tracking server (PostgreSQL backend, served artifacts) for cluster sweeps."""
    from pipeline.tracking.server import backend_from_folder, exposure_warning, server_command, server_environment
    from pipeline.tracking.store import redact

    if (backend_store_uri is None) == (postgres is None):
        _fail("give exactly one of --backend-store-uri (or VAE_PIPE_BACKEND_STORE_URI) and --postgres DIR")
    backend = backend_store_uri or backend_from_folder(postgres)  # type: ignore[arg-type]
    if host in ("127.0.0.1", "localhost") and not _port_free(port):
        _fail(f"--port {port}: 127.0.0.1:{port} is already in use; pick another with --port")
    warning = exposure_warning(host)
    if warning:
        typer.secho(f"warning: {warning}", fg="yellow", err=True)
    typer.echo(f"MLflow server over {redact(backend)} on http://{host}:{port}, artifacts in {artifacts_destination}")
    typer.echo(f"clients and workers: export MLFLOW_TRACKING_URI=http://{host}:{port}   (Ctrl-C stops the server)")
    command = server_command(host, port, artifacts_destination, workers, allowed_hosts)
    os.execve(sys.executable, command, server_environment(backend))  # Ctrl-C and kill reach the server


postgres_app = typer.Typer(
    help="A throw-away PostgreSQL cluster on 127.0.0.1 for `vae-pipe server`.", no_args_is_help=True
)
app.add_typer(postgres_app, name="postgres")


@postgres_app.command("start")
@user_errors
def postgres_start(
    folder: Annotated[Path, typer.Argument(help="A new folder for the cluster's data, log and URI file.")],
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 5432,
) -> None:
    """initdb and start a cluster on 127.0.0.1 (as the `postgres` user when run as root); its URI, with a new
    random password, goes to FOLDER/uri (mode 0600)."""
    from pipeline.tracking.postgres import start
    from pipeline.tracking.server import write_uri
    from pipeline.tracking.store import redact

    cluster = start(folder, port)
    path = write_uri(folder, cluster.uri)
    typer.echo(f"PostgreSQL on 127.0.0.1:{port}: {redact(cluster.uri)} (full URI in {path})")
    typer.echo(f"next: vae-pipe server --postgres {folder}; stop it with: vae-pipe postgres stop {folder}")


@postgres_app.command("stop")
@user_errors
def postgres_stop(folder: Annotated[Path, typer.Argument(help="The cluster's folder.")]) -> None:
    """Stop the cluster started in FOLDER."""
    from pipeline.tracking.postgres import stop

    stop(folder)
    typer.echo(f"PostgreSQL in {folder} stopped")


if __name__ == "__main__":
    app()
