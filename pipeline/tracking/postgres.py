"""A throw-away PostgreSQL cluster on loopback for the shared MLflow server (tests, a lab's first try).

PostgreSQL refuses to run as root, and this project's tests and CI run as root: there the cluster runs as
an unprivileged system user (`postgres` when Debian's package created it, or VAE_PIPE_PG_USER) through
`runuser`, and its folder is handed to that user. The binaries are found on PATH or under Debian's
/usr/lib/postgresql/<version>/bin, never at one hard-coded path.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.errors import PostgresError

DEFAULT_USER = "vae_pipe"
DEFAULT_DATABASE = "mlflow"
_DEBIAN_BIN_GLOB = "/usr/lib/postgresql/*/bin"


def find_binary(name: str) -> str:
    """`initdb`, `pg_ctl`, ... on PATH, else in the newest Debian postgresql package's bin folder."""
    found = shutil.which(name)
    if found:
        return found
    folders = sorted(glob.glob(_DEBIAN_BIN_GLOB), key=lambda f: int(Path(f).parent.name.split(".")[0]), reverse=True)
    for folder in folders:
        candidate = Path(folder) / name
        if candidate.is_file():
            return str(candidate)
    raise PostgresError(
        f"{name} not found on PATH or in {_DEBIAN_BIN_GLOB}: install PostgreSQL "
        "(Debian: apt-get install postgresql, or `make system-deps`)"
    )


def service_user() -> str | None:
    """The user the cluster runs as: None (ourselves) unless we are root, where PostgreSQL will not run."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get("VAE_PIPE_PG_USER", "postgres")
    try:
        pwd.getpwnam(name)
    except KeyError:
        raise PostgresError(
            f"running as root and there is no user {name!r} to run PostgreSQL as (PostgreSQL refuses root): "
            "install Debian's postgresql package (it creates `postgres`) or set VAE_PIPE_PG_USER"
        ) from None
    if not shutil.which("runuser"):
        raise PostgresError("running as root but `runuser` is missing: cannot start PostgreSQL as another user")
    return name


def _as_service_user(command: list[str]) -> list[str]:
    user = service_user()
    return ["runuser", "-u", user, "--", *command] if user else command


def _run(command: list[str], what: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(_as_service_user(command), capture_output=True, text=True, env=env)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise PostgresError(f"{what} failed ({done.returncode}): {' / '.join(tail)}")
    return done.stdout


@dataclass(frozen=True)
class Cluster:
    """A running cluster: its folder, port, role and password (the URI carries the password)."""

    folder: Path
    port: int
    user: str
    password: str
    database: str = DEFAULT_DATABASE

    @property
    def uri(self) -> str:
        """The SQLAlchemy URI MLflow's server takes as --backend-store-uri."""
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"


def start(folder: Path, port: int, user: str = DEFAULT_USER, database: str = DEFAULT_DATABASE) -> Cluster:
    """initdb a new cluster in `folder` (which must not hold one), start it on 127.0.0.1:`port` only,
    password authentication (scram-sha-256) for a new role `user`, and create `database`."""
    folder = folder.resolve()
    data = folder / "data"
    if data.exists():
        raise PostgresError(f"{data} exists already: start a throw-away cluster in a new folder")
    folder.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(16)
    pwfile = folder / "pwfile"
    pwfile.write_text(password + "\n")
    owner = service_user()
    if owner:
        entry = pwd.getpwnam(owner)
        for path in (folder, pwfile):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        folder.chmod(0o700)
        if subprocess.run(["runuser", "-u", owner, "--", "test", "-w", str(folder)]).returncode:
            shutil.rmtree(folder)
            raise PostgresError(
                f"user {owner} (PostgreSQL's, as we are root) cannot reach {folder}: "
                "use a folder whose parents others may enter (chmod o+x), e.g. under /tmp"
            )
    _run(
        [find_binary("initdb"), "-D", str(data), "-U", user, "--pwfile", str(pwfile), "--auth", "scram-sha-256"],
        "initdb",
    )
    pwfile.unlink()
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off"
    _run(
        [find_binary("pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-o", options, "-w", "start"],
        "pg_ctl start",
    )
    cluster = Cluster(folder, port, user, password, database)
    env = {**os.environ, "PGPASSWORD": password}
    for attempt in range(20):  # -w returns once the server accepts connections; be lenient anyway
        done = subprocess.run(
            [find_binary("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", user, database],
            capture_output=True,
            text=True,
            env=env,
        )
        if done.returncode == 0:
            return cluster
        if attempt == 19:
            stop(folder)
            raise PostgresError(f"createdb {database} failed: {done.stderr.strip()}")
        time.sleep(0.5)
    return cluster


def stop(folder: Path) -> None:
    """Stop the cluster in `folder` (fast shutdown); nothing to do when it is not running."""
    data = folder.resolve() / "data"
    if not (data / "postmaster.pid").exists():
        return
    _run([find_binary("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], "pg_ctl stop")
