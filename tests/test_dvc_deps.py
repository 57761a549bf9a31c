"""dvc.yaml names every project module a stage runs, derived from the imports rather than kept by hand.

A stage's modules are what `python -m pipeline.stages STAGE` imports: the stage module and the stage entry,
with everything they import in turn, imports inside functions included (grimp, import-linter's graph, reads
them all; imports only for type checkers are left out). A module that can change the stage's outputs and is
missing from the stage's deps would let `dvc repro` hand back a stale model as current. Deps that name code
the stage never runs are refused too: they would retrain models for nothing.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import grimp
import pytest

from pipeline.stages.entry import STAGES

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("pipeline", "vae", "metrics")
ENTRY = "pipeline.stages.__main__"

CANNOT_CHANGE_OUTPUTS = {
    "pipeline.core.timings": "appends phase timings to a file for benchmarks/sweep.py, only with VAE_PIPE_TIMINGS set",
    "pipeline.core.errors": "exception classes and how a command prints them",
    "pipeline.core.workspace": "stops a stage that shares its workspace or whose params.yaml changed under it; it "
    "never changes what a stage writes",
    "vae.errors": "exception classes",
    "pipeline.stages.progress": "draws training progress in the terminal",
    "pipeline.tracking.store": "the MLflow store: runs, tags and the store check; stage outputs are written before "
    "they are recorded",
    "pipeline.tracking.record": "logs a stage's written outputs to MLflow",
    "pipeline.tracking.mlmodel": "logs the written model as an MLflow Model (read back from its files)",
    "pipeline.core.identity": "the inputs key names the MLflow run and the checkpoint folder; a training resumed "
    "from a checkpoint ends bit-identical to one that was not (tests/vae/test_resume.py)",
}
"""Modules a stage imports that cannot change what it writes, each with the reason."""


def module_file(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None, module
    return Path(spec.origin).resolve().relative_to(ROOT)


def runs_code(module: str) -> bool:
    """False for a package whose __init__.py is empty: importing it runs nothing."""
    path = ROOT / module_file(module)
    return path.name != "__init__.py" or bool(path.read_text().strip())


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True, cache_dir=None)


def stage_modules(graph: grimp.ImportGraph, stage: str) -> set[str]:
    """Every project module `python -m pipeline.stages STAGE` can import, with the packages they sit in."""
    starts = {ENTRY, f"pipeline.stages.{stage}"}
    modules = set(starts).union(*(graph.find_upstream_modules(start) for start in starts))
    packages = {".".join(m.split(".")[:i]) for m in modules for i in range(1, m.count(".") + 1)}
    return {m for m in modules | packages if runs_code(m)}


@pytest.fixture(scope="module")
def code_deps() -> dict[str, list[Path]]:
    """{stage: its deps in dvc.yaml that are project code}, through DVC's own reading of dvc.yaml."""
    from dvc.repo import Repo

    with Repo(str(ROOT)) as repo:
        stages = {stage.name: [Path(dep.def_path) for dep in stage.deps] for stage in repo.index.stages}
    return {name: [p for p in deps if p.parts[0] in PACKAGES] for name, deps in stages.items()}


def covered(path: Path, deps: list[Path]) -> bool:
    return any(path == dep or dep in path.parents for dep in deps)


def test_the_stages_in_dvc_yaml_are_the_stage_entrys(code_deps):
    assert list(code_deps) == list(STAGES)


@pytest.mark.parametrize("stage", STAGES)
def test_every_module_a_stage_runs_is_among_its_deps(graph, code_deps, stage):
    needed = stage_modules(graph, stage) - set(CANNOT_CHANGE_OUTPUTS)
    missing = sorted(str(module_file(m)) for m in needed if not covered(module_file(m), code_deps[stage]))
    assert not missing, f"dvc.yaml: stage {stage} runs these files but does not list them in deps: {missing}"


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_depends_on_no_code_it_does_not_run(graph, code_deps, stage):
    ran = {module_file(m) for m in stage_modules(graph, stage)}
    exempt = {module_file(m) for m in CANNOT_CHANGE_OUTPUTS}
    extra = []
    for dep in code_deps[stage]:
        files = [dep] if dep.suffix == ".py" else sorted((ROOT / dep).rglob("*.py"))
        files = [f.resolve().relative_to(ROOT) if f.is_absolute() else f for f in files]
        unused = [f for f in files if f not in ran and f not in exempt and runs_code_file(f)]
        if unused:
            extra.append(f"{dep} ({', '.join(map(str, unused))} not run)")
    assert not extra, f"dvc.yaml: stage {stage} depends on code it never runs: {extra}"


def runs_code_file(path: Path) -> bool:
    return path.name != "__init__.py" or bool((ROOT / path).read_text().strip())


def test_the_exempt_modules_exist_and_some_stage_runs_each(graph):
    ran = set().union(*(stage_modules(graph, stage) for stage in STAGES))
    assert set(CANNOT_CHANGE_OUTPUTS) <= ran
