"""Live training progress: a rich bar in a terminal, plain periodic lines in logs (DVC's queue)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from vae.train import CurvePoint

console = Console(stderr=True)


def _describe(point: CurvePoint) -> str:
    terms = "  ".join(f"{name} {value:8.2f}" for name, value in point.terms.items())
    return f"{terms}  {point.images_per_s:6.0f} img/s"


@contextmanager
def training_progress(total_steps: int, batch_size: int, lines: int = 20) -> Iterator[Callable[[CurvePoint], None]]:
    if console.is_terminal:
        columns = (
            TextColumn("train"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("train", total=total_steps, stats="")
            yield lambda point: progress.update(task, completed=point.step, stats=_describe(point))
        return
    every = max(total_steps // lines, 1)
    last = [0]

    def log_line(point: CurvePoint) -> None:
        if point.step - last[0] >= every or point.step == total_steps:
            last[0] = point.step
            eta = (total_steps - point.step) * batch_size / max(point.images_per_s, 1e-9)
            console.print(
                f"step {point.step}/{total_steps}  {_describe(point)}  eta {eta:5.0f} s",
                highlight=False,
                soft_wrap=True,
            )

    yield log_line
