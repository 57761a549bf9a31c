"""Which grid points a sweep has: the declared grid, each point's params, and its stable experiment name.

Kept apart from who runs the points (DVC's queue here, a cluster later): a point is plain data.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pipeline.core.errors import ParamsError
from pipeline.core.identity import experiment_name
from pipeline.core.params import Params, load_params, parse_params


@dataclass(frozen=True)
class GridPoint:
    """One model of the sweep: params.yaml plus these overrides."""

    overrides: tuple[tuple[str, Any], ...]

    @property
    def label(self) -> str:
        return " ".join(f"{key}={_text(value)}" for key, value in self.overrides)

    @property
    def set_params(self) -> list[str]:
        """The `-S key=value` arguments of `dvc exp run`."""
        return [f"{key}={_text(value)}" for key, value in self.overrides]

    def touches(self, section: str) -> bool:
        """Whether an override sets a key of params.yaml's `section` (e.g. "data")."""
        return any(key.split(".", 1)[0] == section for key, _ in self.overrides)

    def exp_name(self, inputs_digest: str) -> str:
        """Same point on the same code and params → same name (pipeline/core/identity.py)."""
        slug = "-".join(f"{key.rsplit('.', 1)[-1]}{_text(value)}" for key, value in self.overrides)
        return experiment_name(slug, self.label, inputs_digest)

    def apply(self, raw: dict[str, Any]) -> dict[str, Any]:
        tree = json.loads(json.dumps(raw))
        for key, value in self.overrides:
            *sections, leaf = key.split(".")
            node = tree
            for section in sections:
                node = node.setdefault(section, {})
                if not isinstance(node, dict):
                    raise ParamsError(f"{self.label}: {key}: {section} is not a section")
            node[leaf] = value
        return tree


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value)) if abs(value) < 1e15 else repr(value)
    return str(value)


def parse_values(text: str) -> list[Any]:
    """'0,1,4' → [0, 1, 4]; each value read as YAML, as DVC reads `-S` values."""
    return [yaml.safe_load(part.strip()) for part in text.split(",") if part.strip()]


def declared_grid(params: Params) -> dict[str, list[Any]]:
    """The `sweep:` block as {param key: values}, in declaration order."""
    return {key: list(values) for key, values in params.sweep.model_dump().items()}


def points(grid: dict[str, list[Any]]) -> list[GridPoint]:
    keys = list(grid)
    return [GridPoint(tuple(zip(keys, combo))) for combo in itertools.product(*(grid[k] for k in keys))]


def check_point(raw: dict[str, Any], point: GridPoint, source: str) -> Params:
    """The point's full params, validated like params.yaml itself; ParamsError names the point."""
    return parse_params(point.apply(raw), f"{source} [{point.label}]")


def check_grid(raw: dict[str, Any], grid: list[GridPoint], source: str) -> None:
    """Every point validated before anything is queued: one line for the whole grid (a bad key would
    otherwise fail each point the same way), naming the first bad point and how many there are."""
    errors = []
    for point in grid:
        try:
            check_point(raw, point, source)
        except ParamsError as error:
            errors.append(str(error))
    if errors:
        count = "every grid point" if len(errors) == len(grid) else f"{len(errors)} of {len(grid)} grid points"
        raise ParamsError(f"{errors[0]} ({count} invalid; nothing was queued)")


def _check_distinct(key: str, values: list[Any], where: str) -> None:
    """`--beta 1,1` would run one experiment twice under one name: refused, naming the value."""
    seen: set[str] = set()
    for value in values:
        if _text(value) in seen:
            raise ParamsError(f"{where}: {key} lists {_text(value)} twice")
        seen.add(_text(value))


def grid_from_options(params_file: Path, beta: str | None, seed: str | None, extra: list[str]) -> list[GridPoint]:
    """The grid's points: the declared grid with `--beta`, `--seed` and `--set KEY=V1,V2`
    laid over it; each option and then every point checked, before anything runs (one line naming the bad one)."""
    params = load_params(params_file)
    grid = declared_grid(params)
    where = {key: f"{params_file} sweep.{key}" for key in grid}
    for key, text in (("beta", beta), ("seed", seed)):
        if text is not None:
            grid[key], where[key] = parse_values(text), f"--{key} {text}"
    for item in extra:
        key, sep, text = item.partition("=")
        if not sep or not key.strip() or not parse_values(text):
            raise ParamsError(f"--set {item!r}: expected KEY=V1,V2,...")
        grid[key.strip()], where[key.strip()] = parse_values(text), f"--set {item}"
    for key, values in grid.items():
        if not values:
            raise ParamsError(f"{where[key]}: {key} has no values")
        _check_distinct(key, values, where[key])
    raw = yaml.safe_load(params_file.read_text()) or {}
    grid_points = points(grid)
    check_grid(raw, grid_points, str(params_file))
    return grid_points
