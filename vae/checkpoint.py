"""Weights as a plain state_dict, loaded with weights_only=True: a model file can never run code."""

from __future__ import annotations

import hashlib
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
    """Through a file handle, so torch names the archive inside `archive`, not after the (temporary)
    file name: equal weights give equal bytes, and DVC sees an unchanged model as unchanged."""
    with path.open("wb") as handle:
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, handle)


def load_model(path: Path, config: ModelConfig, device: torch.device | str = "cpu") -> VAE:
    model = VAE(config)
    model.load_state_dict(torch.load(path, map_location=device, weights_only=True))
    return model.to(device).eval()
