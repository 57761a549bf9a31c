"""A small random VAE batch for the unit tests of the ELBO terms and the objectives."""

from __future__ import annotations

import torch


def random_vae_batch(seed: int = 0, b: int = 6) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(decoder logits, binary images, posterior μ, log σ²) for b images of 16×16 pixels and 10 latents."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(b, 1, 16, 16, generator=g)
    x = (torch.rand(b, 1, 16, 16, generator=g) > 0.7).float()
    mu = torch.randn(b, 10, generator=g)
    logvar = torch.randn(b, 10, generator=g) * 0.5
    return logits, x, mu, logvar
