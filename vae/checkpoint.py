"""Weights as a plain state_dict, loaded with weights_only=True: a model file can never run code."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

import torch

from vae.model import VAE, ModelConfig


def weights_digest(model: VAE) -> str:
    """SHA-256 over the tensors themselves, independent of how the file was serialised."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def save_weights(model: VAE, path: Path) -> None:
    save_tensors(model.state_dict(), path)


class _KeepsWriteError:
    """A file handle that keeps the first OSError of its writes: torch reports a failed write only as
    "unexpected pos", which never says why (a full disk, most often)."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.error: OSError | None = None

    def write(self, data: bytes) -> int:
        try:
            return self.handle.write(data)
        except OSError as error:
            self.error = self.error or error
            raise

    def flush(self) -> None:
        try:
            self.handle.flush()
        except OSError as error:
            self.error = self.error or error
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self.handle, name)


def save_tensors(state: Mapping[str, torch.Tensor], path: Path) -> None:
    """Through a file handle, so torch names the archive inside `archive`, not after the (temporary)
    file name: equal weights give equal bytes, and DVC sees an unchanged model as unchanged. A failed
    write is the OSError that caused it (errno ENOSPC on a full disk), naming `path`."""
    handle = path.open("wb")
    writer = _KeepsWriteError(handle)
    try:
        torch.save({k: v.detach().cpu() for k, v in state.items()}, writer)
        handle.close()  # the last buffered bytes: a full disk can fail here too
    except (RuntimeError, OSError) as error:
        cause = writer.error or (error if isinstance(error, OSError) else None)
        if cause is None:
            raise
        raise OSError(cause.errno, cause.strerror, str(path)) from None
    finally:
        with contextlib.suppress(OSError):
            handle.close()


def load_tensors(path: Path, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    """A file of `save_tensors`, read with weights_only=True; anything but a dict of tensors is refused."""
    state = torch.load(path, map_location=device, weights_only=True)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: not a dict of tensors")
    return state


def load_model(path: Path, config: ModelConfig, device: torch.device | str = "cpu") -> VAE:
    model = VAE(config)
    model.load_state_dict(torch.load(path, map_location=device, weights_only=True))
    return model.to(device).eval()
