"""The model side's errors a user sees as one line, in a module that imports nothing heavy: vae-pipe's error
handler catches them around every command without importing torch."""

from __future__ import annotations

from pathlib import Path


class DatasetError(ValueError):
    """A dataset file is missing or malformed; the message is one line naming the file."""

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = Path(path)
        self.problem = " ".join(str(problem).split())  # keep it to one line whatever we were handed
        super().__init__(f"{path}: {self.problem}")


class DeviceError(RuntimeError):
    """The params ask for a device this machine does not have."""


class TrainingDiverged(RuntimeError):
    """A non-finite loss term or gradient; the message is one line naming the step and the term."""


class TrainingInterrupted(Exception):
    """Ctrl-C during training: raised after the step in progress, once its checkpoint is saved."""

    def __init__(self, step: int, saved: bool) -> None:
        super().__init__(f"training interrupted after step {step}")
        self.step = step
        self.saved = saved
