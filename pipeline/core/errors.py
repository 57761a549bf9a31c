"""The errors a user sees as one line (the CLI prints them without a traceback), light to import: every
command's error handler imports them all, and a stage must not import the report or the cluster code for it."""

from __future__ import annotations

import errno
import functools
from collections.abc import Callable
from typing import NoReturn, TypeVar

from vae.errors import DatasetError, DeviceError, TrainingDiverged, TrainingInterrupted


class OutputError(ValueError):
    """An earlier stage's output is missing or damaged; one line naming the file and what to run."""


class ReportError(ValueError):
    """Nothing to report (no store, no experiment, no matching run) or a bad filter; one line."""


class TrackingError(RuntimeError):
    """The tracking store cannot be used; one line naming the URI and what is wrong."""


class ParamsError(ValueError):
    """A bad params file or value; the message is one line naming the key and the file."""


class ClusterError(RuntimeError):
    """The cluster sweep cannot start; one line naming what is missing."""


class WorkspaceError(RuntimeError):
    """Another stage runs in this workspace, or params.yaml changed under a running stage; one line."""


class PostgresError(RuntimeError):
    """PostgreSQL cannot be found, started or stopped; one line saying what and how to fix it."""


ONE_LINE = (
    ParamsError,
    ReportError,
    TrackingError,
    OutputError,
    ClusterError,
    PostgresError,
    WorkspaceError,
    DatasetError,
    DeviceError,
    TrainingDiverged,
)
"""Errors whose message is the whole story: printed as one line, exit status 2."""

F = TypeVar("F", bound=Callable[..., object])


def fail(message: str) -> NoReturn:
    """End the command with one red line and exit status 2."""
    import typer

    typer.secho(f"error: {message}", fg="red", err=True)
    raise typer.Exit(2)


def user_errors(command: F) -> F:
    """Bad params or data files end the command with one line, not a traceback; a stopped training says how
    to resume."""

    @functools.wraps(command)
    def wrapper(*args: object, **kwargs: object) -> object:
        try:
            return command(*args, **kwargs)
        except ONE_LINE as error:
            fail(str(error))
        except OSError as error:
            if error.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            where, full = error.filename or "a file", "full" if error.errno == errno.ENOSPC else "over its quota"
            fail(
                f"{command.__name__}: the disk is {full}: {where} could not be written (nothing half-written was "
                "kept); free space there and run it again"
            )
        except TrainingInterrupted as error:
            import typer

            saved = "checkpoint saved; " if error.saved else ""
            typer.secho(
                f"interrupted after step {error.step}: {saved}run the same command again "
                "(dvc repro, dvc exp run or vae-pipe sweep) to resume",
                fg="yellow",
                err=True,
            )
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]
