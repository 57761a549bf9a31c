"""An experiment's identity, in its two forms. The inputs key (`inputs_key`) names its MLflow run and its
training checkpoint; the sweep's experiment name (`experiment_name`, from `inputs_digest`) names its DVC
experiment before it exists, so a sweep recognises a point that already ran. Both follow the same inputs: the
code and params DVC sees.

The inputs key:

The key is a digest of everything a DVC experiment is made of, as DVC sees it: the values of every params
section a stage declares in dvc.yaml (validated, so a default written out or left implicit is the same
experiment) and DVC's hash of every dependency that no stage produces (the code and any source data).
Outputs that stages produce (data/, models/, eval/) follow from those, so they are left out: the key is
known before training starts, is the same in every stage, and is computed again from an experiment's
commit after a sweep. Two experiments that differ only in `eval.*` get two keys; the weights alone do not
decide (keying by them merged such experiments).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

from pipeline.core import timings
from pipeline.core.params import Params

CHECKPOINT_DIR = ".checkpoints"  # at the repository root, git-ignored, outside every DVC output


def _declared_values(params: Params, names: list[str]) -> dict[str, Any]:
    tree = params.model_dump(mode="json")
    values: dict[str, Any] = {}
    for name in names:
        node: Any = tree
        for part in name.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        values[name] = node
    return values


def inputs_description(workdir: Path, params: Params, rev: str | None = None) -> dict[str, Any]:
    """{"params": {declared name: value}, "deps": {path: DVC hash}} of the pipeline in `workdir` (its
    working tree, or commit `rev`). Without a dvc.yaml (a stage run by hand elsewhere): every param."""
    from dvc.dependency.param import ParamsDependency
    from dvc.repo import Repo

    if rev is None and not (workdir / "dvc.yaml").is_file():
        return {"params": params.model_dump(mode="json", exclude={"sweep"}), "deps": {}}
    with Repo(str(workdir), rev=rev) as repo:
        stages = repo.index.stages
        produced = {out.fs_path for stage in stages for out in stage.outs}
        names: set[str] = set()
        deps: dict[str, str] = {}
        for stage in stages:
            for dep in stage.deps:
                if isinstance(dep, ParamsDependency):
                    names.update(dep.params)
                elif dep.fs_path not in produced:
                    path = os.path.relpath(dep.fs_path, repo.root_dir) if rev is None else dep.def_path
                    deps[Path(path).as_posix()] = dep.get_hash().value or "(missing)"
    return {"params": _declared_values(params, sorted(names)), "deps": dict(sorted(deps.items()))}


def inputs_key(workdir: Path, params: Params, rev: str | None = None) -> str:
    with timings.phase("inputs key"):
        description = inputs_description(workdir, params, rev)
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()


def checkpoint_folder(root: Path, key: str) -> Path:
    """Where the training with this key keeps its checkpoint: DVC deletes a stage's outputs before it
    runs, so a checkpoint must live elsewhere (the repository root, also for a queued experiment)."""
    return root / CHECKPOINT_DIR / key[:24]


def inputs_digest(root: Path) -> str:
    """Content of the git-tracked files the pipeline reads (dvc.yaml, params.yaml, every stage's code
    dependency), as a queued experiment's copy will hold them: unrelated commits leave it unchanged."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        deps = {os.path.relpath(dep.fs_path, root) for stage in repo.index.stages for dep in stage.deps}
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--", "dvc.yaml", "params.yaml", *sorted(deps)],
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout
    digest = hashlib.sha256()
    for name in sorted(filter(None, listed.decode().split("\0"))):
        path = root / name
        digest.update(name.encode() + b"\0" + (path.read_bytes() if path.is_file() else b"(deleted)") + b"\0")
    return digest.hexdigest()


def experiment_name(slug: str, point: str, digest: str) -> str:
    """A sweep point's DVC experiment name: readable `slug` (`beta4-seed0`) and 8 hex of the point's
    overrides (`point`) with the pipeline's `inputs_digest`. Same point on the same code and params → same
    name, so a finished point is recognised and never queued twice."""
    return f"{slug}-{hashlib.sha256((digest + point).encode()).hexdigest()[:8]}"[:100]
