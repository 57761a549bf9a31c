"""Real dSprites images for the throughput, thread, eval and profiling sections."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


def render_packed(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n real dSprites images (seeded random subset): (uint8 (n,64,64), packed uint8 (n,512), classes)."""
    import numpy as np

    from vae.dsprites import N_IMAGES, latents_for, render_images, subsample_indices

    idx = subsample_indices(N_IMAGES, n, seed)
    imgs = render_images(idx)
    packed = np.packbits(imgs.reshape(n, -1), axis=1)
    return imgs, packed, latents_for(idx)[0]
