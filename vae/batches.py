"""Images live in memory bit-packed (512 bytes each, 8× less than uint8) and are unpacked per batch."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from vae.model import IMAGE_SHAPE

_SHIFTS: dict[torch.device, Tensor] = {}  # per device, so unpacking never copies from the host


def _shifts(device: torch.device) -> Tensor:
    if device not in _SHIFTS:
        _SHIFTS[device] = torch.arange(7, -1, -1, dtype=torch.uint8, device=device)  # np.packbits' 'big' order
    return _SHIFTS[device]


def to_device(packed: np.ndarray, device: torch.device) -> Tensor:
    """The whole packed dataset on the device, so batches never cross from the host."""
    return torch.from_numpy(np.ascontiguousarray(packed)).to(device)


def unpack(packed: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
    """(B, 512) uint8 → (B, 1, 64, 64) images of 0./1. in `dtype`, on packed's device."""
    bits = (packed.unsqueeze(-1) >> _shifts(packed.device)) & 1
    return bits.reshape(packed.shape[0], *IMAGE_SHAPE).to(dtype)


def iterate(packed: Tensor, batch_size: int, dtype: torch.dtype = torch.float32):
    """Held-out data in order, for evaluation."""
    for start in range(0, packed.shape[0], batch_size):
        yield unpack(packed[start : start + batch_size], dtype)
