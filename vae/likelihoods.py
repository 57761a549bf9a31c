"""Decoder likelihoods p(x|z): what the decoder's output means, its NLL and the image it stands for.

The NLL math is in metrics.likelihood (pure functions); this module only ties a name to how many output
channels per image channel the decoder needs and how to read them. Bernoulli suits binary images
(dSprites); Gaussian (fixed or learned variance) and the continuous Bernoulli suit grey or colour images
in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from metrics.likelihood import bernoulli_nll, continuous_bernoulli_nll, gaussian_nll

LIKELIHOODS: tuple[str, ...] = ("bernoulli", "gaussian", "gaussian_learned", "continuous_bernoulli")
BINARY_ONLY: frozenset[str] = frozenset({"bernoulli"})
"""Likelihoods that are a density only for pixels in {0, 1}."""
_LOG_STD_RANGE = (-7.0, 2.0)  # learned log σ is clamped: an unbounded σ → 0 makes the NLL run to -∞


@dataclass(frozen=True)
class Likelihood:
    """`name` from LIKELIHOODS; `gaussian_std` is σ of the fixed-variance Gaussian (unused otherwise)."""

    name: str
    gaussian_std: float

    def __post_init__(self) -> None:
        if self.name not in LIKELIHOODS:
            raise ValueError(f"unknown likelihood {self.name!r}; choose one of {', '.join(LIKELIHOODS)}")
        if not self.gaussian_std > 0:
            raise ValueError(f"gaussian_std must be > 0, got {self.gaussian_std}")

    @property
    def outputs_per_channel(self) -> int:
        """Decoder output channels per image channel: mean and log σ for the learned Gaussian."""
        return 2 if self.name == "gaussian_learned" else 1

    def nll(self, output: Tensor, x: Tensor) -> Tensor:
        """Per-example reconstruction NLL in nats, (B,), of images x under the decoder's output."""
        if self.name == "bernoulli":
            return bernoulli_nll(output, x)
        if self.name == "continuous_bernoulli":
            return continuous_bernoulli_nll(output, x)
        if self.name == "gaussian":
            return gaussian_nll(torch.sigmoid(output.float()), float(torch.tensor(self.gaussian_std).log()), x)
        mean, log_std = output.float().chunk(2, dim=1)
        return gaussian_nll(torch.sigmoid(mean), log_std.clamp(*_LOG_STD_RANGE), x)

    def mean(self, output: Tensor) -> Tensor:
        """The image the output stands for, in [0, 1]: the distribution's mean (Bernoulli, Gaussian) or,
        for the continuous Bernoulli, its parameter λ (its mean is pulled towards ½ and looks washed out)."""
        if self.name == "gaussian_learned":
            output = output.chunk(2, dim=1)[0]
        return torch.sigmoid(output.float())


BERNOULLI = Likelihood("bernoulli", 1.0)
"""The likelihood of binary images (σ unused)."""
