"""One stage per workspace, on the params it started with (pipeline/core/workspace.py)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.core.errors import WorkspaceError
from pipeline.core.workspace import STAGE_LOCK, check_params_unchanged, stage_guard, sweep_guard
from testkit.project import PROJECT


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / STAGE_LOCK).parent.mkdir(parents=True)
    shutil.copy(PROJECT / "params.yaml", tmp_path / "params.yaml")
    return tmp_path


def test_a_second_stage_in_the_workspace_is_refused_until_the_first_ends(workspace):
    params = workspace / "params.yaml"
    busy = r"another vae-pipe stage \(train, pid \d+\) is running"
    with stage_guard(workspace, "train", params):
        with pytest.raises(WorkspaceError, match=busy) as error, stage_guard(workspace, "evaluate", params):
            pass
        assert "dvc exp run --queue" in str(error.value) and "\n" not in str(error.value)
    with stage_guard(workspace, "evaluate", params):  # released
        pass


def test_params_changed_under_a_stage_stop_it(workspace):
    params = workspace / "params.yaml"
    with stage_guard(workspace, "train", params):
        check_params_unchanged()
        params.write_text(params.read_text().replace("beta: 4.0", "beta: 8.0"))
        with pytest.raises(WorkspaceError, match=r"params.yaml changed while the train stage ran"):
            check_params_unchanged()
    check_params_unchanged()  # no stage running: nothing to compare


def test_copies_of_the_repository_do_not_share_a_lock(workspace, tmp_path_factory):
    other = tmp_path_factory.mktemp("queued-copy")
    (other / STAGE_LOCK).parent.mkdir(parents=True)
    with (
        stage_guard(workspace, "train", workspace / "params.yaml"),
        stage_guard(other, "train", workspace / "params.yaml"),
    ):
        pass


def test_a_stage_command_in_a_held_workspace_is_one_line_exit_2(workspace):
    with stage_guard(workspace, "train", workspace / "params.yaml"):
        done = subprocess.run(
            [sys.executable, "-m", "pipeline.stages", "validate"],
            cwd=workspace,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "another vae-pipe stage (train, pid" in done.stderr
    assert not (workspace / "data" / "params.valid").exists()


def test_a_second_sweep_waits_for_the_first(workspace):
    import threading

    told: list[str] = []
    entered = threading.Event()

    def second() -> None:
        with sweep_guard(workspace, "second", told.append):
            entered.set()

    with sweep_guard(workspace, "first", lambda holder: pytest.fail("the first sweep never waits")):
        thread = threading.Thread(target=second)
        thread.start()
        assert not entered.wait(1.0)  # still waiting while the first holds the repository
    thread.join(10)
    assert entered.is_set() and len(told) == 1 and told[0].startswith("sweep first, pid ")
