"""The `vae-pipe` command. Heavy libraries (torch, mlflow, dvc) are imported inside commands so that
`vae-pipe --help` stays instant."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer

app = typer.Typer(
    help="Reproducible β-VAE experiments: DVC stages, MLflow tracking, sweeps over β.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ParamsOption = Annotated[Path, typer.Option("--params", "-p", help="Params file (validated before any work).")]
F = TypeVar("F", bound=Callable[..., object])


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg="red", err=True)
    raise typer.Exit(2)


def user_errors(command: F) -> F:
    """Bad params or data files end the command with one line, not a traceback."""

    @functools.wraps(command)
    def wrapper(*args: object, **kwargs: object) -> object:
        from pipeline.artifacts import OutputError
        from pipeline.cluster_errors import ClusterError, PostgresError
        from pipeline.params import ParamsError
        from pipeline.report_data import ReportError
        from pipeline.tracking import TrackingError
        from vae.divergence import TrainingDiverged
        from vae.dsprites import DatasetError
        from vae.resume import TrainingInterrupted
        from vae.seeding import DeviceError

        try:
            return command(*args, **kwargs)
        except (
            ParamsError,
            DatasetError,
            DeviceError,
            ReportError,
            TrackingError,
            TrainingDiverged,
            OutputError,
            ClusterError,
            PostgresError,
        ) as error:
            _fail(str(error))
        except TrainingInterrupted as error:
            saved = "checkpoint saved; " if error.saved else ""
            typer.secho(
                f"interrupted after step {error.step}: {saved}run the same command again "
                "(dvc repro, dvc exp run or vae-pipe sweep) to resume",
                fg="yellow",
                err=True,
            )
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def _load(params_file: Path, tracked: bool = True):
    """Validated params and the outputs; `tracked` stages also check the MLflow store first, so a bad
    URI or a server that is down costs seconds, not a training."""
    from pipeline.params import load_params
    from pipeline.paths import Outputs, repo_root

    params = load_params(params_file)
    if tracked:
        from pipeline.tracking import check_store

        check_store(repo_root())
    return params, Outputs(Path.cwd())


@app.command()
@user_errors
def prepare(params_file: ParamsOption = Path("params.yaml")) -> None:
    """Render dSprites (or copy the original file named in params) and split off held-out data."""
    params, out = _load(params_file, tracked=False)
    from pipeline.stages import prepare as stage

    n = stage.run(params, out)
    typer.echo(
        f"prepare: {n:,} images → {out.dataset.relative_to(out.root)}, split → {out.split.relative_to(out.root)}"
    )


@app.command()
@user_errors
def train(params_file: ParamsOption = Path("params.yaml")) -> None:
    """Train one β-VAE at params.yaml's beta and seed; log it to MLflow."""
    params, out = _load(params_file)
    from pipeline.stages import train as stage

    digest = stage.run(params, out)
    typer.echo(f"train: β = {params.beta:g}, seed {params.seed} → {out.model.relative_to(out.root)} ({digest[:12]})")


@app.command()
@user_errors
def evaluate(params_file: ParamsOption = Path("params.yaml")) -> None:
    """Held-out ELBO, IWAE bound, KL per dimension, active units, MIG, DCI, SAP, FactorVAE and BetaVAE scores
    → eval/metrics.json and MLflow."""
    params, out = _load(params_file)
    from pipeline.stages import evaluate as stage

    m = stage.run(params, out)
    mig = f"MIG {m['mig']:.3f}" if "mig" in m else f"no MIG ({params.data.dataset} has no ground-truth factors)"
    typer.echo(
        f"evaluate: ELBO {m['elbo']:.2f} nats, recon {m['recon']:.2f}, KL {m['kl']:.2f}, "
        f"active units {m['active_units']}, {mig}"
    )
    from pipeline.scores import scores_line

    typer.echo(scores_line(m))


@app.command()
@user_errors
def plot(params_file: ParamsOption = Path("params.yaml")) -> None:
    """Reconstructions, samples, traversals, KL per dimension and training curves → plots/."""
    params, out = _load(params_file)
    from pipeline.stages import plot as stage

    names = stage.run(params, out)
    typer.echo(f"plot: {len(names)} figures → {out.plots.relative_to(out.root)}/")


def _grid_from_options(params_file: Path, beta: str | None, seed: str | None, extra: list[str]):
    import yaml

    from pipeline.grid import declared_grid, parse_values, points
    from pipeline.params import ParamsError, load_params

    params = load_params(params_file)
    grid = declared_grid(params)
    for key, text in (("beta", beta), ("seed", seed)):
        if text is not None:
            grid[key] = parse_values(text)
    for item in extra:
        key, sep, text = item.partition("=")
        if not sep or not key.strip() or not parse_values(text):
            raise ParamsError(f"--set {item!r}: expected KEY=V1,V2,...")
        grid[key.strip()] = parse_values(text)
    for key, values in grid.items():
        if not values:
            raise ParamsError(f"sweep grid: {key} has no values")
    return yaml.safe_load(params_file.read_text()) or {}, points(grid)


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
            help="Parallel DVC queue workers, each with cores / jobs threads "
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
    leave_running: Annotated[
        bool,
        typer.Option("--leave-running", help="On Ctrl-C, leave this sweep's points running in DVC's queue."),
    ] = False,
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
        typer.Option(help="Run the points on a Dask cluster: its scheduler, tcp://HOST:PORT (see README)."),
    ] = None,
    scheduler_file: Annotated[
        Path | None, typer.Option(help="Run the points on the Dask cluster whose scheduler wrote this file.")
    ] = None,
    git_remote: Annotated[
        str, typer.Option(help="With --cluster: the git remote (name or URL) workers clone and push to.")
    ] = "origin",
) -> None:
    """Run the grid in params.yaml `sweep:` as DVC experiments, one per point, in DVC's queue or on a Dask cluster."""
    import os
    import time

    from pipeline import sweep as runner
    from pipeline.paths import repo_root
    from pipeline.sweep_view import SweepView

    raw, grid = _grid_from_options(params_file, beta, seed, set_)
    root = repo_root()
    sweep_name = name or time.strftime("sweep-%Y%m%d-%H%M%S")
    if cluster is not None or scheduler_file is not None:
        from pipeline.cluster_sweep import cluster_sweep

        failed = cluster_sweep(
            root, raw, grid, str(params_file), sweep_name, cluster, scheduler_file, git_remote, dry_run
        )
        if failed:
            raise typer.Exit(1)
        return
    cores = os.cpu_count() or 1
    jobs = jobs or runner.default_jobs(cores)
    threads = max(1, cores // jobs)
    states = runner.plan(root, raw, grid, str(params_file))
    from pipeline.sweep_progress import running_trainings

    view = SweepView(sweep_name, jobs, threads, lambda names: running_trainings(root, names), progress_every)
    if dry_run:
        view.print_table(states)
        return
    try:
        with view.live() as update:
            runner.run_queue(root, states, jobs, threads, update, on_note=view.note)
            runner.record_all(root, states, sweep_name)
            update(states)
    except KeyboardInterrupt:
        _interrupted_sweep(root, states, leave_running)
    # Workers exit by themselves a few seconds after the queue drains; a shutdown broadcast at this point
    # sometimes left a worker hanging (and with it DVC's forked watcher holding this command's output open).
    failed = [s for s in states if s.state in (runner.FAILED, runner.INVALID)]
    view.print_failures(failed)
    if failed:
        raise typer.Exit(1)
    typer.echo(f"{len(states)} experiments in `dvc exp show`, their runs tagged {sweep_name} in MLflow (vae-pipe ui).")


def _interrupted_sweep(root: Path, states: list, leave_running: bool) -> None:
    """Ctrl-C on a sweep: say what is still in DVC's queue and stop it (or leave it, and say so)."""
    from pipeline.sweep import QUEUED, RUNNING
    from pipeline.sweep_stop import stop_idle_workers, stop_points

    pending = [s.name for s in states if s.state in (QUEUED, RUNNING)]
    if not pending:
        message = "interrupted: no point of this sweep was queued or running"
    elif leave_running:
        message = (
            f"interrupted: {len(pending)} points left in DVC's queue ({', '.join(pending)}); `dvc queue status` "
            "shows them, the same `vae-pipe sweep` waits for them, `dvc queue kill NAME` stops one"
        )
    else:
        killed, removed = stop_points(root, pending)
        stop_idle_workers(root)
        message = (
            f"interrupted: stopped {len(killed)} running and removed {len(removed)} queued points of this sweep; "
            "finished points are kept; run the same command again to continue (stopped trainings resume "
            "from their checkpoints)"
        )
    typer.secho(message, fg="yellow", err=True)
    raise typer.Exit(130)


@app.command()
@user_errors
def report(
    sweep: Annotated[str | None, typer.Option(help="Only runs tagged with this sweep name.")] = None,
    dataset: Annotated[str | None, typer.Option(help="Only runs on this dataset (param data.dataset).")] = None,
    since: Annotated[datetime | None, typer.Option(help="Only runs started at or after this time (local).")] = None,
    out: Annotated[Path, typer.Option(help="Report folder.")] = Path("reports"),
) -> None:
    """All MLflow runs (or a filtered set) → the β-sweep report: reports/index.html and summary.csv."""
    from pipeline.paths import repo_root
    from pipeline.report import build_report

    root = repo_root()
    result = build_report(root, out if out.is_absolute() else Path.cwd() / out, sweep, dataset, since)
    for sentence in result.text:
        typer.echo(sentence)
    typer.echo(f"report of {result.n_runs} runs → {result.index} (summary: {result.summary_csv})")


def _port_free(port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
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
    from pipeline.paths import repo_root
    from pipeline.tracking import ensure_store, tracking_uri
    from pipeline.ui_view import ui_addresses

    if not _port_free(port):
        _fail(f"--port {port}: 127.0.0.1:{port} is already in use (another MLflow UI?); pick another with --port")
    root = repo_root()
    exp_id = ensure_store(root)
    uri = tracking_uri(root)
    base = f"http://127.0.0.1:{port}"
    typer.echo(f"MLflow UI for {uri} on {base} (Ctrl-C stops it)")
    typer.echo(ui_addresses(root, exp_id, base))
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        uri,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    os.execv(sys.executable, command)  # the server replaces this process: Ctrl-C and kill reach it


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
    host: Annotated[str, typer.Option(help="Address to bind (0.0.0.0: every interface, see README).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 5000,
    workers: Annotated[int, typer.Option(min=1, help="Server worker processes.")] = 2,
    allowed_hosts: Annotated[
        str | None,
        typer.Option(help="Host names clients may use to reach the server, e.g. 'tracking.lab:5000' (MLflow's check)."),
    ] = None,
) -> None:
    """Start a shared MLflow tracking server (PostgreSQL backend, served artifacts) for cluster sweeps."""
    from pipeline.server import backend_from_folder, exposure_warning, server_command, server_environment
    from pipeline.tracking import redact

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
    from pipeline.postgres import start
    from pipeline.server import write_uri
    from pipeline.tracking import redact

    cluster = start(folder, port)
    path = write_uri(folder, cluster.uri)
    typer.echo(f"PostgreSQL on 127.0.0.1:{port}: {redact(cluster.uri)} (full URI in {path})")
    typer.echo(f"next: vae-pipe server --postgres {folder}; stop it with: vae-pipe postgres stop {folder}")


@postgres_app.command("stop")
@user_errors
def postgres_stop(folder: Annotated[Path, typer.Argument(help="The cluster's folder.")]) -> None:
    """Stop the cluster started in FOLDER."""
    from pipeline.postgres import stop

    stop(folder)
    typer.echo(f"PostgreSQL in {folder} stopped")


if __name__ == "__main__":
    app()
