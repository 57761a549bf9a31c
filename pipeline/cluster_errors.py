"""Errors of the multi-machine path, light to import (the CLI's error handler imports them at every command)."""


class ClusterError(RuntimeError):
    """The cluster sweep cannot start; one line naming what is missing."""


class PostgresError(RuntimeError):
    """PostgreSQL cannot be found, started or stopped; one line saying what and how to fix it."""
