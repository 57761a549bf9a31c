"""Shared fixtures: a throw-away copy of the project as its own git + DVC repository (see testkit.project)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from testkit.project import Project, create_project


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[..., Project]:
    def make(params: dict | None = None, name: str = "repo") -> Project:
        return create_project(tmp_path / name, params)

    return make
