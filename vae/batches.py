"""Images live in memory compactly and become float batches on the device, one batch at a time.

Binary images (dSprites) are bit-packed, (N, bytes) uint8 with 8 pixels a byte (8× less than uint8);
grey or colour images are uint8 (N, C, H, W) in 0..255. The array's rank tells which, so the whole
dataset can sit on the device in either form and batches never cross from the host.

The dSprites variants of Locatello et al. 2019 stay bit-packed too, and are coloured per batch as
disentanglement_lib does: a packed row followed by 3 colour bytes is color-dSprites (the sprite in that
colour on black); a packed row for a 3-channel shape without them is noisy-dSprites (the white sprite
over uniform noise, drawn afresh for each batch from torch's seeded generator).
"""

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
    """The whole (packed or uint8) dataset on the device."""
    return torch.from_numpy(np.ascontiguousarray(packed)).to(device)


def unpack(packed: Tensor, dtype: torch.dtype = torch.float32, shape: tuple[int, int, int] = IMAGE_SHAPE) -> Tensor:
    """(B, bytes) bit-packed uint8 → (B, *shape) images of 0./1. in `dtype`, on packed's device."""
    bits = ((packed.unsqueeze(-1) >> _shifts(packed.device)) & 1).reshape(packed.shape[0], -1)
    n_pixels = shape[0] * shape[1] * shape[2]
    return bits[:, :n_pixels].reshape(packed.shape[0], *shape).to(dtype)


def as_images(stored: Tensor, shape: tuple[int, int, int], dtype: torch.dtype = torch.float32) -> Tensor:
    """A batch as stored (bit-packed (B, bytes) or uint8 (B, C, H, W)) → (B, *shape) floats in [0, 1]."""
    if stored.ndim != 2:
        return stored.to(dtype) / 255.0
    channels, height, width = shape
    if channels == 1:
        return unpack(stored, dtype, shape)
    n_bytes = -(-height * width // 8)
    mask = unpack(stored[:, :n_bytes], dtype, (1, height, width))
    colour = stored[:, n_bytes:]
    if colour.shape[1] == channels:  # color-dSprites
        return mask * (colour.to(dtype) / 255.0)[:, :, None, None]
    noise = torch.rand(stored.shape[0], channels, height, width, device=stored.device, dtype=dtype)
    return torch.clamp(mask + noise, max=1.0)  # noisy-dSprites


def iterate(stored: Tensor, batch_size: int, dtype: torch.dtype = torch.float32, shape=IMAGE_SHAPE):
    """Held-out data in order, for evaluation."""
    for start in range(0, stored.shape[0], batch_size):
        yield as_images(stored[start : start + batch_size], shape, dtype)
