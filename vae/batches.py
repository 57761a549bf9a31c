"""Images live in memory compactly and become float batches on the device, one batch at a time.

Binary images (dSprites) are bit-packed, (N, bytes) uint8 with 8 pixels a byte (8× less than uint8);
grey or colour images are uint8 (N, C, H, W) in 0..255. The array's rank tells which, so the whole
dataset can sit on the device in either form and batches never cross from the host.

The dSprites variants of Locatello et al. 2019 stay bit-packed too, and are coloured per batch as
disentanglement_lib does: a packed row followed by 3 colour bytes is color-dSprites (the sprite in that
colour on black); a packed row for a 3-channel shape without them is noisy-dSprites (the white sprite
over uniform noise, drawn afresh for each batch from torch's seeded generator). scream-dSprites is the
packed row of a 3-channel shape carried with its background image (`Textured`): each image gets a fresh random
crop and colour, and the sprite inverts the background under it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from vae.model import IMAGE_SHAPE

_SHIFTS: dict[torch.device, Tensor] = {}  # per device, so unpacking never copies from the host


def _shifts(device: torch.device) -> Tensor:
    if device not in _SHIFTS:
        _SHIFTS[device] = torch.arange(7, -1, -1, dtype=torch.uint8, device=device)  # np.packbits' 'big' order
    return _SHIFTS[device]


@dataclass(frozen=True)
class Textured:
    """Bit-packed sprites with the background image they are drawn over (scream-dSprites). Indexed and sized
    like the packed tensor, so batches are drawn from it as from any stored dataset; the texture stays whole."""

    packed: Tensor  # (N, bytes) bit-packed uint8
    texture: Tensor  # (H, W, 3) float32 in [0, 1], on packed's device

    def __getitem__(self, rows) -> Textured:
        return Textured(self.packed[rows], self.texture)

    @property
    def shape(self) -> torch.Size:
        return self.packed.shape

    @property
    def device(self) -> torch.device:
        return self.packed.device


Stored = Tensor | Textured


def to_device(packed: np.ndarray, device: torch.device, texture: np.ndarray | None = None) -> Stored:
    """The whole (packed or uint8) dataset on the device, with its uint8 (H, W, 3) background image if any."""
    stored = torch.from_numpy(np.ascontiguousarray(packed)).to(device)
    if texture is None:
        return stored
    return Textured(stored, torch.from_numpy(np.ascontiguousarray(texture)).to(device, torch.float32) / 255.0)


def unpack(packed: Tensor, dtype: torch.dtype = torch.float32, shape: tuple[int, int, int] = IMAGE_SHAPE) -> Tensor:
    """(B, bytes) bit-packed uint8 → (B, *shape) images of 0./1. in `dtype`, on packed's device."""
    bits = ((packed.unsqueeze(-1) >> _shifts(packed.device)) & 1).reshape(packed.shape[0], -1)
    n_pixels = shape[0] * shape[1] * shape[2]
    return bits[:, :n_pixels].reshape(packed.shape[0], *shape).to(dtype)


def screamed(mask: Tensor, texture: Tensor) -> Tensor:
    """(B, 1, h, w) 0./1. sprites over (B, 3, h, w) backgrounds, as disentanglement_lib's ScreamDSprites: a crop
    of `texture` (H, W, 3) starting at a uniform row in [0, H − h) and column in [0, W − w), plus a uniform
    [0, 1) colour per channel, halved; inverted (1 − background) where the sprite is. Drawn from torch's
    generator on the texture's device, afresh for every image."""
    n, _, height, width = mask.shape
    device = texture.device
    top = torch.randint(0, texture.shape[0] - height, (n,), device=device)
    left = torch.randint(0, texture.shape[1] - width, (n,), device=device)
    colour = torch.rand(n, 3, device=device, dtype=texture.dtype)
    rows = (top[:, None] + torch.arange(height, device=device))[:, :, None]
    cols = (left[:, None] + torch.arange(width, device=device))[:, None, :]
    background = (texture[rows, cols].permute(0, 3, 1, 2) + colour[:, :, None, None]) / 2.0
    return torch.where(mask > 0.5, 1.0 - background, background).to(mask.dtype)


def as_images(stored: Stored, shape: tuple[int, int, int], dtype: torch.dtype = torch.float32) -> Tensor:
    """A batch as stored (bit-packed (B, bytes), uint8 (B, C, H, W), or Textured) → (B, *shape) floats in [0, 1]."""
    if isinstance(stored, Textured):
        mask = unpack(stored.packed, dtype, (1, *shape[1:]))
        return screamed(mask, stored.texture)
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


def iterate(stored: Stored, batch_size: int, dtype: torch.dtype = torch.float32, shape=IMAGE_SHAPE):
    """Held-out data in order, for evaluation."""
    for start in range(0, stored.shape[0], batch_size):
        yield as_images(stored[start : start + batch_size], shape, dtype)
