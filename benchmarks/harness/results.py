"""Figures, targets and their printing: one table per section as soon as it is measured, and the JSON."""

from __future__ import annotations

import os
import statistics
import sys
from dataclasses import asdict, dataclass, field
from typing import Any


def median(values: list[float]) -> float:
    return float(statistics.median(values))


@dataclass
class Target:
    name: str
    value: float | None
    op: str  # ">=" | "<="
    goal: float
    unit: str
    note: str = ""

    @property
    def ok(self) -> bool | None:
        if self.value is None or self.value != self.value:
            return None
        return self.value >= self.goal if self.op == ">=" else self.value <= self.goal


@dataclass
class Results:
    meta: dict[str, Any] = field(default_factory=dict)
    sections: dict[str, Any] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "meta": self.meta,
            "sections": self.sections,
            "targets": [dict(asdict(t), ok=t.ok) for t in self.targets],
            "section_seconds": self.timings,
        }


class Out:
    """Rich output: a table per section as soon as it is measured, progress lines in between."""

    def __init__(self) -> None:
        from rich.console import Console

        # A file or pipe gets 130 columns (rich's default there is 80, which wraps these tables badly).
        self.console = Console(width=None if sys.stdout.isatty() else int(os.environ.get("COLUMNS", 130)))

    def progress(self, text: str) -> None:
        self.console.print(f"  … {text}", style="dim", markup=False, highlight=False)

    def error(self, text: str) -> None:
        self.console.print(text, style="red", markup=False, highlight=False)

    def note(self, text: str) -> None:
        self.console.print(f"  {text}")

    def table(self, title: str, columns: list[str], rows: list[list[Any]], caption: str | None = None) -> None:
        from rich.table import Table

        table = Table(title=title, title_justify="left", caption=caption, caption_justify="left")
        for i, col in enumerate(columns):
            table.add_column(col, justify="left" if i == 0 else "right")
        for row in rows:
            table.add_row(*[cell if isinstance(cell, str) else fmt(cell) for cell in row])
        self.console.print(table)


def load_text(load: tuple[float, ...] | None) -> str:
    return "n/a" if load is None else ", ".join(f"{x:.2f}" for x in load)


def pct(share: float | None) -> str:
    return "—" if share is None else f"{share:.0%}"


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:
            return "n/a"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.{digits}g}"
    return str(value)
