"""Every random stream the stages draw from after training, by name, in one place. Each stream is fixed by a
seed from params and its own number here, so a stream never depends on another's draws or on the order code
runs in: changing one score's sample sizes leaves every other figure as it was, and a new stream takes a new
number instead of shifting the others. (Training's own streams, model init and batch order, come from `seed`
through vae/seeding.py and vae/resume.py.)"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

# numpy streams of the held-out rows and the fresh samples, from `data.split_seed`: None seeds with the
# split seed alone, a number k with [split_seed, k].
NUMPY_STREAMS: dict[str, int | None] = {
    "held_out_rows": None,  # the held-out subset MIG, the label's MI and the latent figures read (one subset)
    "dci": 1,
    "sap": 2,
    "factor_vae": 3,
    "beta_vae": 4,
    "iwae_rows": 5,  # the held-out images the IWAE bound is computed on
    "modularity": 6,
    "irs": 7,
    "unsupervised_rows": 8,  # the held-out codes the unsupervised scores read
    "udr_rows": 9,  # the held-out images every seed encodes for UDR (eval/codes.npz)
}
# torch streams, seeded with a params seed plus this offset.
TORCH_STREAMS: dict[str, tuple[str, int]] = {
    "kl_parts": ("data.split_seed", 0),  # the KL's MI/TC/dimension-wise parts on held-out posteriors
    "held_out_codes": ("data.split_seed", 1),  # codes for the objective's own held-out terms
    "iwae_samples": ("seed", 0),  # the IWAE bound's importance samples
}


def numpy_stream(name: str, split_seed: int) -> np.random.Generator:
    k = NUMPY_STREAMS[name]
    return np.random.default_rng(split_seed if k is None else [split_seed, k])


def torch_stream(name: str, seeds: dict[str, int], device: torch.device | str = "cpu") -> torch.Generator:
    """`seeds`: the params seeds by flat name (`seed`, `data.split_seed`)."""
    import torch

    source, offset = TORCH_STREAMS[name]
    return torch.Generator(device=device).manual_seed(seeds[source] + offset)
