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


def tiny_model_and_sprites(n: int, seed: int = 0, override: dict | None = None):
    """(params, untrained tiny VAE, n held-out dSprites rows as the dataset stores them (bit-packed, plus the
    colour bytes on color-dSprites), their factor classes) for tests of the evaluate and plot wiring."""
    import numpy as np

    from pipeline.core.configs import model_config
    from pipeline.core.params import Params
    from testkit.project import TINY_PARAMS, merge
    from vae.batches import to_device
    from vae.datasets.registry import sprite_colours
    from vae.dsprites import SPACE, render_images
    from vae.model import VAE

    tiny = {key: TINY_PARAMS[key] for key in ("model", "plot", "eval")}
    params = Params.model_validate(merge(tiny, override or {}))
    torch.manual_seed(0)
    model = VAE(model_config(params)).eval()
    indices = np.random.default_rng(seed).choice(SPACE.n, n, replace=False)
    images, classes = render_images(indices), SPACE.classes_of(indices)
    packed = np.packbits(images.reshape(n, -1), axis=1)
    if params.data.dataset == "color_dsprites":
        packed = np.concatenate([packed, sprite_colours(classes)], axis=1)
    return params, model, to_device(packed, torch.device("cpu")), classes
