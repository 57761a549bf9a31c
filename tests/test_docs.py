"""The docs do not drift from the code: every `vae-pipe` command line that README.md and docs/*.md show names a
real command and only options its --help lists, every `-S`/`--set` key is a param, docs/params.md documents
exactly the params of the schema with their defaults, and every relative link, `make` target and source path
they name exists. Each command's --help really runs. Nothing here trains or touches DVC: about a second."""

from __future__ import annotations

import re
import shlex
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.core.params import Params, load_params

ROOT = Path(__file__).resolve().parent.parent
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PARAMS_DOC = ROOT / "docs" / "params.md"

FENCE = re.compile(r"^```([\w+-]*)[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)
SHELL_LANGS = {"", "bash", "sh", "shell", "console"}
INLINE = re.compile(r"(`+)(.+?)\1", re.S)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)
SEPARATORS = re.compile(r"&&|\|\||;|\|")
PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9_]*$")  # KEY in `-S KEY=VALUE`


@dataclass(frozen=True)
class Command:
    where: str  # file:line
    text: str  # one shell command, continuation lines joined


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _without_fences(text: str) -> str:
    """The prose: fenced blocks blanked out (line numbers kept)."""
    return FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)


def _commands(path: Path) -> list[Command]:
    """Shell commands of the shell code blocks (comments dropped) and of the inline code spans of the prose."""
    text, name = path.read_text(), path.relative_to(ROOT).as_posix()
    found: list[Command] = []
    for block in FENCE.finditer(text):
        if block.group(1) not in SHELL_LANGS:
            continue
        first = _line_of(text, block.start(2))
        lines = block.group(2).splitlines()
        i = 0
        while i < len(lines):
            start, line = i, lines[i]
            while line.rstrip().endswith("\\") and i + 1 < len(lines):
                i += 1
                line = line.rstrip()[:-1] + " " + lines[i].strip()
            i += 1
            code = line.split(" #", 1)[0] if not line.lstrip().startswith("#") else ""
            for part in SEPARATORS.split(code):
                if part.strip():
                    found.append(Command(f"{name}:{first + start}", part.strip()))
    prose = _without_fences(text)
    for span in INLINE.finditer(prose):
        code = " ".join(span.group(2).split())
        for part in SEPARATORS.split(code):
            if part.strip():
                found.append(Command(f"{name}:{_line_of(prose, span.start())}", part.strip()))
    return found


def _tokens(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def _vae_pipe_args(command: Command) -> list[str] | None:
    tokens = _tokens(command.text)
    for i, token in enumerate(tokens):
        if token == "vae-pipe" or token.endswith("/vae-pipe"):
            return tokens[i + 1 :]
    return None


ROOT_COMMAND = typer.main.get_command(app)  # typer's own click: its classes are not click's


def _is_group(command: Any) -> bool:
    return isinstance(getattr(command, "commands", None), dict)


def _resolve(args: list[str]) -> tuple[list[str], Any, list[str]]:
    """(command path, the click command, the options used) of `vae-pipe ARGS`; KeyError for an unknown command."""
    path: list[str] = []
    command = ROOT_COMMAND
    rest = list(args)
    while _is_group(command) and rest and not rest[0].startswith("-"):
        if rest[0] not in command.commands:
            raise KeyError(" ".join(["vae-pipe", *path, rest[0]]))
        path.append(rest.pop(0))
        command = command.commands[path[-1]]
    options = [arg.split("=", 1)[0] for arg in rest if re.match(r"^--?[A-Za-z]", arg)]
    return path, command, options


def _known_options(command: Any) -> set[str]:
    known = {"--help"}
    for param in command.params:
        known.update(param.opts)
        known.update(param.secondary_opts)
    return known


def _all_command_paths(command: Any = ROOT_COMMAND, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [path]
    if _is_group(command):
        for name, sub in command.commands.items():
            paths += _all_command_paths(sub, (*path, name))
    return paths


def _doc_commands() -> list[Command]:
    return [command for path in DOC_FILES for command in _commands(path)]


def _flat_params() -> dict[str, object]:
    return load_params(ROOT / "params.yaml").flat()


def test_the_docs_exist_and_show_commands() -> None:
    assert (ROOT / "docs").is_dir() and len(DOC_FILES) > 5
    shown = [c for c in _doc_commands() if _vae_pipe_args(c) is not None]
    assert len(shown) > 20, "the command extraction found almost no vae-pipe command: is the parser broken?"


def test_every_vae_pipe_command_shown_exists_with_its_options() -> None:
    problems = []
    for command in _doc_commands():
        args = _vae_pipe_args(command)
        if args is None:
            continue
        try:
            path, click_command, options = _resolve(args)
        except KeyError as error:
            problems.append(f"{command.where}: `{command.text}`: no command {error.args[0]}")
            continue
        unknown = [option for option in options if option not in _known_options(click_command)]
        if unknown:
            name = " ".join(["vae-pipe", *path])
            problems.append(f"{command.where}: `{command.text}`: {name} has no option {', '.join(unknown)}")
    assert not problems, "docs name commands or options the CLI does not have:\n" + "\n".join(problems)


def _set_keys(command: Command) -> list[str]:
    """The param keys of `dvc exp run -S KEY=…` and `vae-pipe sweep --set KEY=…`."""
    tokens = _tokens(command.text)
    flags = set()
    if "dvc" in tokens and "exp" in tokens and "run" in tokens:
        flags |= {"-S", "--set-param"}
    args = _vae_pipe_args(command)
    if args and args[:1] == ["sweep"]:
        flags.add("--set")
    keys = []
    for flag, value in zip(tokens, tokens[1:]):
        if flag in flags and "=" in value:
            keys.append(value.split("=", 1)[0])
    for token in tokens:
        for flag in flags:
            if token.startswith(f"{flag}=") and "=" in token[len(flag) + 1 :]:
                keys.append(token[len(flag) + 1 :].split("=", 1)[0])
    # `-S +KEY=…` is DVC's way to add a key the file lacks: the docs show it only as what the validate stage refuses.
    return [key for key in keys if not PLACEHOLDER.match(key) and not key.startswith("+")]


def test_every_param_set_on_a_command_line_exists() -> None:
    params = _flat_params()
    problems = [
        f"{command.where}: `{command.text}`: {key} is not a param of params.yaml"
        for command in _doc_commands()
        for key in _set_keys(command)
        if key not in params or key.startswith("sweep.")
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", _all_command_paths(), ids=lambda p: " ".join(["vae-pipe", *p]))
def test_help_runs(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def _documented_params() -> dict[str, str]:
    rows = re.findall(r"^\| `([^`]+)` \| `([^`]*)` \|", PARAMS_DOC.read_text(), re.M)
    documented: dict[str, str] = {}
    for key, default in rows:
        assert key not in documented, f"docs/params.md documents {key} twice"
        documented[key] = default
    return documented


def test_params_reference_documents_every_param_and_no_other() -> None:
    schema = set(Params().flat())
    documented = set(_documented_params())
    assert not schema - documented, f"docs/params.md lacks {sorted(schema - documented)}"
    assert not documented - schema, f"docs/params.md documents params that do not exist: {sorted(documented - schema)}"


def test_params_reference_gives_each_default_of_params_yaml() -> None:
    params = _flat_params()
    wrong = {
        key: (text, params[key]) for key, text in _documented_params().items() if yaml.safe_load(text) != params[key]
    }
    assert not wrong, f"docs/params.md: documented default vs params.yaml: {wrong}"


DOTTED = re.compile(r"^(?:beta|seed|data|model|objective|train|eval|plot|sweep)(?:\.[a-z0-9_]+)+$")
NOT_PARAMS = re.compile(r"^train\.")  # MLflow's step metrics share the prefix (`train.loss`, `train.seconds`)


def test_every_param_the_prose_names_exists() -> None:
    """A `section.key` in a code span is a param or a section of params (`eval.dci`); outside the params
    reference, `train.*` spans may also be MLflow step metrics and are left alone."""
    params = _flat_params()
    sections = {key.rsplit(".", i)[0] for key in params for i in range(1, key.count(".") + 1)}
    problems = []
    for path in DOC_FILES:
        prose = _without_fences(path.read_text())
        for span in INLINE.finditer(prose):
            code = span.group(2).strip()
            if not DOTTED.match(code) or code in params or code in sections:
                continue
            if NOT_PARAMS.match(code) and path != PARAMS_DOC:
                continue
            problems.append(f"{path.relative_to(ROOT)}:{_line_of(prose, span.start())}: `{code}` is no param")
    assert not problems, "\n".join(problems)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"`|\*\*|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    kept = "".join(ch for ch in text if ch in " -_" or unicodedata.category(ch)[0] in "LN")
    return kept.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {_slug(heading) for heading in HEADING.findall(_without_fences(path.read_text()))}


def test_every_relative_link_points_to_an_existing_file_and_heading() -> None:
    problems = []
    for path in DOC_FILES:
        prose = _without_fences(path.read_text())
        for link in LINK.finditer(prose):
            target = link.group(1)
            where = f"{path.relative_to(ROOT)}:{_line_of(prose, link.start())}: ({target})"
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            file_part, _, anchor = target.partition("#")
            resolved = (path.parent / file_part).resolve() if file_part else path
            if not resolved.is_relative_to(ROOT):
                problems.append(f"{where} leaves the repository")
            elif not resolved.exists():
                problems.append(f"{where} does not exist")
            elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
                problems.append(f"{where} names no heading of {resolved.relative_to(ROOT)}")
    assert not problems, "\n".join(problems)


def test_every_make_target_shown_exists() -> None:
    targets = set(re.findall(r"^([\w.-]+):", (ROOT / "Makefile").read_text(), re.M))
    problems = []
    for command in _doc_commands():
        tokens = _tokens(command.text)
        target = tokens[1] if tokens[:1] == ["make"] and len(tokens) > 1 else None
        if target and not target.startswith("-") and target not in targets:
            problems.append(f"{command.where}: `{command.text}`: no make target {target}")
    assert not problems, "\n".join(problems)


SOURCE_PATH = re.compile(r"^(?:pipeline|vae|metrics|testkit|tests|benchmarks)/[\w./-]*$")


def test_every_source_path_named_exists() -> None:
    """`pipeline/core/params.py`, `benchmarks/steps.py`, `vae/datasets/`: in code spans and shell commands."""
    named: list[tuple[str, str]] = []
    for path in DOC_FILES:
        prose = _without_fences(path.read_text())
        for span in INLINE.finditer(prose):
            named.append((f"{path.relative_to(ROOT)}:{_line_of(prose, span.start())}", span.group(2).strip()))
    for command in _doc_commands():
        named += [(command.where, token) for token in _tokens(command.text)]
    problems = sorted(
        {
            f"{where}: {name} does not exist"
            for where, name in named
            if SOURCE_PATH.match(name) and not (ROOT / name).exists()
        }
    )
    assert not problems, "\n".join(problems)


FOREIGN_OPTIONS = {
    "--force": "dvc queue kill",
    "--no-nanny": "dask worker",
    "--setting": "benchmarks/scores.py",
    "--env-manager": "mlflow models serve",
}


def test_every_option_the_prose_names_exists() -> None:
    """A code span that is an option alone (`--dry-run`, `--sweep NAME`) is one of some vae-pipe command,
    or one of another tool that the text names beside it (FOREIGN_OPTIONS)."""
    known = set(FOREIGN_OPTIONS)
    for path in _all_command_paths():
        command = ROOT_COMMAND
        for name in path:
            command = command.commands[name]
        known |= _known_options(command)
    problems = []
    for path in DOC_FILES:
        prose = _without_fences(path.read_text())
        for span in INLINE.finditer(prose):
            option = re.match(r"^--[A-Za-z][\w-]*", span.group(2).strip())
            if option and option.group(0) not in known:
                problems.append(
                    f"{path.relative_to(ROOT)}:{_line_of(prose, span.start())}: no command has {option.group(0)}"
                )
    assert not problems, "\n".join(problems)
