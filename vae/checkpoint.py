"""Weights as a plain state_dict, loaded with weights_only=True: a model file can never run code."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

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


def save_tensors(state: Mapping[str, torch.Tensor], path: Path) -> None:
    """Through a file handle, so torch names the archive inside `archive`, not after the (temporary)
    file name: equal weights give equal bytes, and DVC sees an unchanged model as unchanged."""
    with path.open("wb") as handle:
        torch.save({k: v.detach().cpu() for k, v in state.items()}, handle)


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
