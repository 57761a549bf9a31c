"""Resumable training: the whole state of a training at a step boundary, saved atomically and restored
exactly, so a killed training resumed from its last checkpoint ends with bit-identical weights on the CPU.

The state is everything the next step reads: weights, optimizer (and loss-scaler) state, the objective's
own state when it has one, the batch order's position, the global RNG streams (posterior sampling), the
curve so far and the running sums of the current logging window. It is saved with torch.save and read
back with weights_only=True (tensors, numbers, strings, lists and dicts only): a checkpoint cannot run code.
"""

from __future__ import annotations

import random
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from vae.files import atomic_path

STATE_FILE = "state.pt"


class BatchOrder:
    """Epochs of seeded permutations (every image once per epoch), resumable at any batch.

    The state is the generator's state when the current epoch's permutation was drawn and how many
    batches of it were used: restoring redraws the same permutation and skips those batches.
    """

    def __init__(self, n: int, batch_size: int, generator: torch.Generator, device: torch.device) -> None:
        self.n, self.batch_size, self.generator, self.device = n, batch_size, generator, device
        self._order: Tensor | None = None
        self._epoch_start = generator.get_state()
        self._used = 0

    def _draw(self) -> None:
        self._epoch_start = self.generator.get_state()
        self._order = torch.randperm(self.n, generator=self.generator).to(self.device)
        self._used = 0

    def next(self) -> Tensor:
        if self._order is None:
            self._draw()
        assert self._order is not None
        if self.n < self.batch_size:  # one short batch per epoch
            batch, self._order = self._order, None
            return batch
        start = self._used * self.batch_size
        batch = self._order[start : start + self.batch_size]
        self._used += 1
        if (self._used + 1) * self.batch_size > self.n:
            self._order = None
        return batch

    def state_dict(self) -> dict[str, Any]:
        if self._order is None:
            return {"generator": self.generator.get_state(), "used": 0}
        return {"generator": self._epoch_start, "used": self._used}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self._order = None
        if state["used"]:
            self._draw()
            self._used = state["used"]


def rng_state() -> dict[str, Any]:
    """The global streams a training step may draw from (torch's, and CUDA's where present)."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": [name, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)],
        "python": list(random.getstate()),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class Checkpoints:
    """The checkpoint of one training, in its own folder, due every `every_steps` steps or `every_seconds`
    of wall time (whichever comes first; 0 turns either off)."""

    def __init__(self, folder: Path, every_steps: int, every_seconds: float) -> None:
        self.folder = Path(folder)
        self.every_steps = every_steps
        self.every_seconds = every_seconds
        self._last_step = 0
        self._last_time = time.monotonic()
        self.resumed_from = 0  # the step a loaded checkpoint ended at

    @property
    def path(self) -> Path:
        return self.folder / STATE_FILE

    def load(self) -> dict[str, Any] | None:
        if not self.path.is_file():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as error:  # written atomically, so only a full disk or a foreign file gets here
            warnings.warn(f"{self.path}: unreadable checkpoint ({error!r:.80}); training starts over", stacklevel=2)
            return None
        self._last_step = self.resumed_from = state["step"]
        return state

    def due(self, step: int) -> bool:
        by_steps = self.every_steps > 0 and step - self._last_step >= self.every_steps
        by_time = self.every_seconds > 0 and time.monotonic() - self._last_time >= self.every_seconds
        return by_steps or by_time

    def save(self, state: dict[str, Any]) -> None:
        with atomic_path(self.path) as tmp, tmp.open("wb") as handle:
            torch.save(state, handle)
        self._last_step = state["step"]
        self._last_time = time.monotonic()

    def clear(self) -> None:
        """Once the model is written, the checkpoint has done its job."""
        self.path.unlink(missing_ok=True)
        if self.folder.is_dir() and not any(self.folder.iterdir()):
            self.folder.rmdir()


@contextmanager
def deferred_interrupt() -> Iterator[Callable[[], bool]]:
    """Ctrl-C (SIGINT) sets a flag that the loop reads after each step, so it stops at a step boundary
    with a checkpoint; a second Ctrl-C interrupts at once. Outside the main thread nothing changes."""
    requested = [False]
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return

    def handle(signum: int, frame: object) -> None:
        if requested[0]:
            raise KeyboardInterrupt
        requested[0] = True

    previous = signal.signal(signal.SIGINT, handle)
    try:
        yield lambda: requested[0]
    finally:
        signal.signal(signal.SIGINT, previous)
