"""Training objectives: what the optimiser minimises, as named terms so every objective logs its own.

The ELBO's pieces (reconstruction NLL, KL) are evaluation math from `metrics`; an objective decides how
they are weighted. Each objective returns batch means keyed by term name, `loss` first: the training loop
sums and logs whatever terms it gets, so a new objective needs no change there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from torch import Tensor

from metrics.likelihood import elbo_terms
from vae.likelihoods import BERNOULLI, Likelihood


class Objective(Protocol):
    """A loss over one batch of (decoder logits, images, posterior μ, log σ²)."""

    name: str

    def terms(self, logits: Tensor, x: Tensor, mu: Tensor, logvar: Tensor) -> dict[str, Tensor]:
        """Batch-mean scalar terms; `loss` is the one minimised."""
        ...


@dataclass(frozen=True)
class BetaVAE:
    """Higgins et al. 2017: recon + β·KL on the summed-over-pixels likelihood.

    β multiplies the KL as in the papers (never rescaled per pixel), so β values are comparable with
    published ones; β = 1 gives the negative ELBO, β = 0 a plain autoencoder.
    """

    beta: float
    likelihood: Likelihood = BERNOULLI  # the reconstruction NLL; pipeline.configs always passes the chosen one
    name: str = "beta_vae"

    def __post_init__(self) -> None:
        if not self.beta >= 0:
            raise ValueError(f"beta must be >= 0, got {self.beta}")

    def loss(self, recon: Tensor | float, kl: Tensor | float) -> Tensor | float:
        """From mean reconstruction NLL and mean total KL; evaluation applies it to held-out means."""
        return recon + self.beta * kl

    def terms(self, logits: Tensor, x: Tensor, mu: Tensor, logvar: Tensor) -> dict[str, Tensor]:
        per_example = elbo_terms(logits, x, mu, logvar, nll=self.likelihood.nll)
        recon, kl = per_example["recon"].mean(), per_example["kl"].mean()
        return {"loss": self.loss(recon, kl), "recon": recon, "kl": kl}
