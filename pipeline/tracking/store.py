"""MLflow as the record of what DVC produced: one run per DVC experiment, found again by its inputs key.

DVC may skip a stage or restore it from its run-cache without running it, and a queued experiment runs in
a temporary copy of the repo. So every stage logs what it produced into the run keyed by the experiment's
inputs (pipeline/core/identity.py: find or create, never a second run for the same inputs), and the store is
always the one at the repository root (or MLFLOW_TRACKING_URI), never one relative to the stage's working
directory. The store is checked before a stage works (`check_store`), with bounded HTTP retries, and a new
SQLite store is created under a file lock: MLflow's schema creation races between processes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import subprocess
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.core import timings
from pipeline.core.errors import TrackingError
from pipeline.core.params import Params

if TYPE_CHECKING:
    from mlflow import MlflowClient

EXPERIMENT_NAME = "vae-pipe"
STORE_FILE = "mlflow.db"
ARTIFACT_DIR = "mlruns"
INPUTS_KEY_TAG = "vae_pipe.inputs_key"  # the run's identity: pipeline/core/identity.py
MODEL_DIGEST_TAG = "vae_pipe.model_digest"  # the trained weights' digest, for reference
SWEEP_TAG = "vae_pipe.sweep"  # the sweeps a run belongs to, comma-separated, in the order they reached it
SWEEP_NAME = re.compile(r"[A-Za-z0-9_.-]+")  # what a tag key may hold, less the separator
EXP_NAME_TAG = "dvc.exp_name"  # the DVC experiment a run belongs to (set in training, repaired after a sweep)
# A down or mistyped server costs seconds, not MLflow's default 7 retries with backoff (minutes).
BOUNDED_HTTP = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
}


def check_sweep_name(name: str) -> str:
    """A sweep's name becomes part of an MLflow tag key (`sweep_member_tag`): letters, digits, `_`, `.`, `-`."""
    if not SWEEP_NAME.fullmatch(name):
        raise TrackingError(f"--name {name!r}: a sweep name holds letters, digits, '_', '.' and '-' only")
    return name


def sweep_member_tag(sweep: str) -> str:
    """One tag per sweep a run belongs to (value "true"), which is what a filter for a sweep matches: a run
    trained once can belong to several sweeps whose grids shared its point."""
    return f"{SWEEP_TAG}.{sweep}"


ARTIFACT_ROOT_ENV = "VAE_PIPE_ARTIFACT_ROOT"  # the experiment's artifact location on a shared database
STAGE_HTTP = {**BOUNDED_HTTP, "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}  # 30 s: an artifact upload on a slow link


def bound_store_calls() -> None:
    """For a stage process, after its store check: every MLflow call bounded (a store that stops answering
    mid-training costs seconds, not MLflow's minutes of retries), unless the user set those variables, and
    urllib3's retry warnings silenced: one line says that recording is behind (pipeline/tracking/record.py)."""
    import logging

    for key, value in STAGE_HTTP.items():
        os.environ.setdefault(key, value)
    logging.getLogger("urllib3").setLevel(logging.ERROR)


def tracking_uri(root: Path) -> str:
    """MLFLOW_TRACKING_URI when set, else the SQLite store at the repository root."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(root / STORE_FILE).resolve()}"


def redact(uri: str) -> str:
    """`uri` safe to print, log or tag: a password in it (`scheme://user:PASSWORD@host`) becomes `***`."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(uri)
    except ValueError:
        return uri
    if parts.password is None:
        return uri
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def scrub(text: str, uri: str) -> str:
    """`text` (an error message, a log line) with the password of `uri` replaced by `***`."""
    from urllib.parse import unquote, urlsplit

    try:
        password = urlsplit(uri).password
    except ValueError:
        return text
    if not password:
        return text
    return text.replace(password, "***").replace(unquote(password), "***")


def client(root: Path) -> MlflowClient:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    # MLflow prints "View run at <tracking URI>…" when a run ends: a password in the URI would reach logs.
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    import mlflow
    from mlflow import MlflowClient

    # Also the process's default store: MLflow resolves a logged model's artifacts (a run's `model/`, which
    # holds its MLflow Model, pipeline/tracking/mlmodel.py) through the default, not through this client.
    mlflow.set_tracking_uri(tracking_uri(root))
    return MlflowClient(tracking_uri(root))


@contextlib.contextmanager
def store_lock(root: Path) -> Iterator[None]:
    """An exclusive lock beside a SQLite store (`mlflow.db.lock`), held while the store is created or
    migrated and while a run is found or created: processes that start at once take turns. Other
    stores (a server) need no lock here; `ModelRun.open` settles races there by itself."""
    uri = tracking_uri(root)
    if not uri.startswith("sqlite:///"):
        yield
        return
    database = Path(uri.removeprefix("sqlite:///"))
    if not database.parent.is_dir():
        raise TrackingError(f"MLflow tracking store {uri}: folder {database.parent} does not exist")
    with file_lock(Path(f"{database}.lock")):
        yield


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on `path` (created if missing) for the block: processes take turns."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def _bounded_http() -> Iterator[None]:
    """BOUNDED_HTTP for the block, unless the user set those variables."""
    added = {k: v for k, v in BOUNDED_HTTP.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


DATABASE_TIMEOUT_S = 5


def _probe_database(uri: str) -> None:
    """One connection with a short timeout before MLflow opens a PostgreSQL store: MLflow tries a database that
    does not answer 10 times over about 100 s, logging each try; this makes it one line within seconds."""
    if uri.split("://", 1)[0] not in ("postgresql", "postgresql+psycopg", "postgresql+psycopg2"):
        return  # libpq's connect_timeout: other drivers take other arguments
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    engine = None
    try:
        engine = sqlalchemy.create_engine(uri, poolclass=NullPool, connect_args={"connect_timeout": DATABASE_TIMEOUT_S})
        with engine.connect():
            pass
    except Exception as error:  # SQLAlchemy's OperationalError around the driver's, or a missing driver
        raise TrackingError(
            f"MLflow tracking store {redact(uri)} (MLFLOW_TRACKING_URI): the database cannot be reached within "
            f"{DATABASE_TIMEOUT_S} s ({scrub(first_line(error), uri)}): is PostgreSQL running there (vae-pipe server starts one)?"
        ) from None
    finally:
        if engine is not None:
            engine.dispose()


def first_line(error: BaseException) -> str:
    """An error's first non-empty line, or its type's name: MLflow's and SQLAlchemy's messages run on for lines."""
    return next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)


def _first_line(error: BaseException) -> str:
    text = first_line(error)
    if "Max retries exceeded" in text or "Connection refused" in text:
        return (
            f"no answer (tried {1 + int(os.environ['MLFLOW_HTTP_REQUEST_MAX_RETRIES'])} times): is the server running?"
        )
    # Whole, since MLflow's hint tends to come last (the file store's `MLFLOW_ALLOW_FILE_STORE`); only a line
    # of a length no message has (an HTML page of a proxy) is cut.
    return text if len(text) <= 2000 else text[:1997] + "..."


def check_store(root: Path, writing: bool = True) -> str:
    """Reachable, schema current, experiment present (created on first use): the experiment id, or one
    line (TrackingError) within seconds, before any stage trains or evaluates. `writing` False (the UI):
    where the experiment keeps its artifacts is not checked."""
    uri = redact(tracking_uri(root))
    if "://" not in uri:
        raise TrackingError(
            f"MLFLOW_TRACKING_URI={uri!r} is not a store URI: use sqlite:///PATH, http(s)://HOST:PORT or a "
            "database URI, or unset it for the project's own store"
        )
    with _bounded_http(), timings.phase("mlflow store check"):
        _probe_database(tracking_uri(root))
        try:
            with store_lock(root):
                return experiment_id(client(root), root, writing)
        except TrackingError:
            raise
        except Exception as error:  # MLflow raises many kinds (MlflowException, requests', SQLAlchemy's)
            message = scrub(_first_line(error), tracking_uri(root))
            raise TrackingError(f"MLflow tracking store {uri} (MLFLOW_TRACKING_URI): {message}") from None


def _new_artifact_location(root: Path) -> str | None:
    """Where a new experiment keeps its artifacts: beside the project's own store, beside a SQLite file named
    by MLFLOW_TRACKING_URI, at ARTIFACT_ROOT_ENV on a database server (one line when it is unset), or the
    tracking server's choice. A database server is what several clones share with no server to hold artifacts:
    MLflow would put them in whichever clone created the experiment."""
    uri = tracking_uri(root)
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        return (root / ARTIFACT_DIR).resolve().as_uri()
    if uri.startswith("sqlite:///"):
        return (Path(uri.removeprefix("sqlite:///")).parent / ARTIFACT_DIR).resolve().as_uri()
    if uri.startswith(("http://", "https://")):
        return None
    if not os.environ.get(ARTIFACT_ROOT_ENV):
        raise TrackingError(
            f"MLFLOW_TRACKING_URI {redact(uri)} is a database that other clones may share: set "
            f"{ARTIFACT_ROOT_ENV} to an artifact location they all reach (a shared folder, s3://…), or use a "
            "tracking server (`vae-pipe server`, which serves artifacts)"
        )
    shared = os.environ[ARTIFACT_ROOT_ENV]
    return shared if "://" in shared else (root / shared).resolve().as_uri()  # relative: to the repository


def _check_artifact_location(location: str, root: Path) -> None:
    """A local artifact location inside another clone would put this clone's artifacts there: refused."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(location)
    if parts.scheme not in ("", "file"):
        return  # s3://, gs://, mlflow-artifacts:// (a server's): shared by design
    folder = Path(unquote(parts.path)).resolve()
    owner = next((p for p in (folder, *folder.parents) if (p / ".git").exists() or (p / ".dvc").is_dir()), None)
    if owner is not None and owner != root.resolve():
        raise TrackingError(
            f"MLflow experiment '{EXPERIMENT_NAME}' keeps its artifacts in {folder}, inside another clone "
            f"({owner}): runs of this clone would store theirs there; use a tracking server (`vae-pipe server`, "
            f"which serves artifacts) or a store whose experiment has a shared artifact location ({ARTIFACT_ROOT_ENV})"
        )


def experiment_id(mlflow_client: MlflowClient, root: Path, writing: bool = True) -> str:
    """Creates the experiment on first use, with artifacts beside the local store (not under the cwd), or, on
    a shared database, at ARTIFACT_ROOT_ENV, which every clone must reach."""
    experiment = mlflow_client.get_experiment_by_name(EXPERIMENT_NAME)
    if experiment is not None:
        if experiment.lifecycle_stage == "deleted":
            raise TrackingError(
                f"MLflow experiment '{EXPERIMENT_NAME}' in {redact(tracking_uri(root))} is deleted: restore it "
                f"(mlflow experiments restore --experiment-id {experiment.experiment_id}) or point "
                "MLFLOW_TRACKING_URI at another store"
            )
        if writing and os.environ.get("MLFLOW_TRACKING_URI") and experiment.artifact_location:
            _check_artifact_location(experiment.artifact_location, root)
        return experiment.experiment_id
    location = _new_artifact_location(root)
    if location is not None and os.environ.get("MLFLOW_TRACKING_URI"):
        _check_artifact_location(location, root)
    # The experiment kind makes the MLflow UI open on the runs table, not the GenAI overview.
    tags = {"mlflow.experimentKind": "custom_model_development"}
    try:
        return mlflow_client.create_experiment(EXPERIMENT_NAME, artifact_location=location, tags=tags)
    except Exception:  # another process created it first
        experiment = mlflow_client.get_experiment_by_name(EXPERIMENT_NAME)
        if experiment is None:
            raise
        return experiment.experiment_id


def ensure_store(root: Path, writing: bool = True) -> str:
    """Create (migrate) the store and the experiment once, before parallel writers start."""
    return check_store(root, writing)


def _git_commit() -> str | None:
    if os.environ.get("DVC_EXP_BASELINE_REV"):
        return os.environ["DVC_EXP_BASELINE_REV"]
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return done.stdout.strip() or None


def run_tags() -> dict[str, str]:
    """Tags that tie a run back to git and DVC (`vae-pipe sweep` adds the sweep's name afterwards);
    β and the seed are params, not tags."""
    tags: dict[str, str] = {}
    commit = _git_commit()
    if commit:
        tags["git.commit"] = commit
        tags["mlflow.source.git.commit"] = commit
    if os.environ.get("DVC_EXP_NAME"):
        tags[EXP_NAME_TAG] = os.environ["DVC_EXP_NAME"]
    return tags


def _run_name(params: Params) -> str:
    name = f"beta={params.beta:g} seed={params.seed}"
    if os.environ.get("DVC_EXP_NAME"):
        name += f" ({os.environ['DVC_EXP_NAME']})"
    return name


def _runs_with_key(mlflow_client: MlflowClient, exp_id: str, inputs_key: str) -> list[Any]:
    """Active runs with this inputs key, oldest first (ties broken by id, the same in every process)."""
    found = mlflow_client.search_runs([exp_id], filter_string=f"tags.`{INPUTS_KEY_TAG}` = '{inputs_key}'")
    return sorted(found, key=lambda run: (run.info.start_time, run.info.run_id))


class ModelRun:
    """The MLflow run of one DVC experiment; `open` finds it by inputs key or creates it with all params."""

    def __init__(self, mlflow_client: MlflowClient, run_id: str) -> None:
        self.client = mlflow_client
        self.run_id = run_id

    @classmethod
    def open(
        cls,
        root: Path,
        inputs_key: str,
        params: Params,
        tags: Mapping[str, str] | None = None,
        *,
        running: bool = False,
    ) -> ModelRun:
        """The run of the experiment with these inputs, found or created. `running`: a training starts
        (or resumes) in it, so it is RUNNING until `end`; a run created to record outputs is FINISHED."""
        with store_lock(root):  # a new SQLite store's schema is created when the client first opens it
            mlflow_client = client(root)
            exp_id = experiment_id(mlflow_client, root)
            found = _runs_with_key(mlflow_client, exp_id, inputs_key)
            if not found:
                tags_at_creation = {INPUTS_KEY_TAG: inputs_key}
                mine = mlflow_client.create_run(exp_id, tags=tags_at_creation, run_name=_run_name(params)).info.run_id
                # A server store has no lock: processes that created at once keep the oldest run alike.
                found = _runs_with_key(mlflow_client, exp_id, inputs_key)
                for other in found[1:]:
                    if other.info.run_id == mine:
                        mlflow_client.delete_run(mine)
                if found and found[0].info.run_id == mine and not running:
                    mlflow_client.set_terminated(mine, "FINISHED")
            run = cls(mlflow_client, found[0].info.run_id)
            run.log_params(params.flat())  # under the lock: writers of one new run never race on its params
        if running and found[0].info.status != "RUNNING":
            mlflow_client.update_run(run.run_id, status="RUNNING")
        run.set_tags({**run_tags(), **(tags or {})})
        return run

    def complete(self) -> None:
        """FINISHED if still RUNNING: called where the experiment's outputs exist, so its training is over."""
        if self.client.get_run(self.run_id).info.status == "RUNNING":
            self.client.set_terminated(self.run_id, "FINISHED")

    def end(self, status: str) -> None:
        """FINISHED, FAILED or KILLED."""
        self.client.set_terminated(self.run_id, status)

    def logged_steps(self, key: str) -> int:
        """The last step of step metric `key` in this run (0 when none): a resumed training logs after it."""
        return max((m.step for m in self.client.get_metric_history(self.run_id, key)), default=0)

    def has_artifacts(self, artifact_path: str) -> bool:
        return bool(self.client.list_artifacts(self.run_id, artifact_path))

    def _current(self) -> Any:
        return self.client.get_run(self.run_id).data

    def log_params(self, values: Mapping[str, Any]) -> None:
        """Params are write-once in MLflow: log the missing ones; a changed value is kept as a tag."""
        from mlflow.entities import Param

        logged = self._current().params
        fresh, changed = [], {}
        for key, value in values.items():
            text = json.dumps(value) if isinstance(value, (list, dict)) else str(value)
            if key not in logged:
                fresh.append(Param(key, text))
            elif logged[key] != text:
                changed[f"params.changed.{key}"] = text
        try:
            self.client.log_batch(self.run_id, params=fresh)  # MLflow splits it into allowed batch sizes
        except Exception:
            # Another process logged the same params first (write-once: a unique-key error): fine when
            # every one of ours is now there with our value.
            now = self._current().params
            if any(now.get(param.key) != param.value for param in fresh):
                raise
        self.set_tags(changed)

    def add_to_sweep(self, sweep: str) -> None:
        """Member of `sweep` too (its own tag), and named in the run's list of sweeps, which the UI shows."""
        listed = [name for name in self._current().tags.get(SWEEP_TAG, "").split(",") if name]
        self.set_tags({SWEEP_TAG: ",".join([*listed, sweep] if sweep not in listed else listed)})
        self.set_tags({sweep_member_tag(sweep): "true"})

    def set_tags(self, tags: Mapping[str, str]) -> None:
        from mlflow.entities import RunTag

        if tags:
            self.client.log_batch(self.run_id, tags=[RunTag(k, v) for k, v in tags.items()])

    def log_metrics(self, values: Mapping[str, float]) -> None:
        """Scalar metrics; re-logging an unchanged value is skipped so retries leave no duplicates."""
        from mlflow.entities import Metric

        current = self._current().metrics
        now = int(time.time() * 1000)
        fresh = [Metric(k, float(v), now, 0) for k, v in values.items() if current.get(k) != float(v)]
        self.client.log_batch(self.run_id, metrics=fresh)

    def log_step(self, values: Mapping[str, float], step: int) -> None:
        """Step metrics of one step (a training-curve point as it comes)."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(k, float(v), now, step) for k, v in values.items()])

    def log_curves(self, rows: Iterable[Mapping[str, float]], step_key: str = "step", prefix: str = "train.") -> None:
        """Training curves as step metrics, each step once per run: the rows after the last step logged
        (a training streams its points as it goes; a resumed or repeated one adds only what is new)."""
        from mlflow.entities import Metric

        rows = list(rows)
        if not rows:
            return
        probe = next(k for k in rows[0] if k != step_key)
        done = self.logged_steps(prefix + probe)
        now = int(time.time() * 1000)
        metrics = [
            Metric(prefix + key, float(value), now, int(row[step_key]))
            for row in rows
            if int(row[step_key]) > done
            for key, value in row.items()
            if key != step_key
        ]
        self.client.log_batch(self.run_id, metrics=metrics)

    def log_artifacts(self, paths: Iterable[Path], artifact_path: str) -> None:
        for path in paths:
            self.client.log_artifact(self.run_id, str(path), artifact_path)
