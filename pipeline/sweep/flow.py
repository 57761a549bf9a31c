"""What every `vae-pipe sweep` does around its runner, local or cluster: the dry run's table, the live view
(or progress lines outside a terminal), Ctrl-C's message and exit status 130, the failures, the closing line
and whether any point failed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pipeline.sweep.dispatch import Note, Update
from pipeline.sweep.plan import FAILED, PointState
from pipeline.sweep.view import SweepView


@dataclass(frozen=True)
class Runner:
    """A runner as the flow sees it: `run` runs the pending points to the end (raising KeyboardInterrupt on
    Ctrl-C, after stopping them), `interrupted` says what Ctrl-C left, `finished` where the results are."""

    run: Callable[[Update, Note], None]
    interrupted: Callable[[], str]
    finished: str


def run_sweep(view: SweepView, states: list[PointState], runner: Runner, dry_run: bool) -> bool:
    """Show or run the grid; returns whether any point failed (the command's exit status 1)."""
    import typer

    if dry_run:
        view.print_table(states)
        return False
    try:
        with view.live() as update:
            runner.run(update, view.note)
    except KeyboardInterrupt:
        typer.secho(runner.interrupted(), fg="yellow", err=True)
        raise typer.Exit(130) from None
    failed = [s for s in states if s.state == FAILED]
    view.print_failures(failed)
    if not failed:
        typer.echo(runner.finished)
    return bool(failed)
