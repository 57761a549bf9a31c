"""Training objectives: what the optimiser minimises, as named terms so every objective logs its own.

The ELBO's pieces (reconstruction NLL, KL, the KL's decomposition) are evaluation math from `metrics`; an
objective decides how they are weighted. Each objective returns batch means keyed by term name, `loss`
first: the training loop sums and logs whatever terms it gets, so a new objective needs no change there.
An objective sees the step (annealed capacity) and may own trained parts (FactorVAE's discriminator): it
updates them in `after_step`, and keeps them behind `state_dict`/`load_state_dict` for checkpoints. The
trained parts without their optimizer (`trained_state`) are saved beside the model, so that `evaluate` can
ask them for terms on held-out codes (`held_out_codes`); `held_out` then gives the objective's value from
held-out dataset means, as `evaluate` reports it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from metrics.likelihood import elbo_terms
from metrics.tc import Sampling, kl_decomposition, log_importance_weights, permute_dims
from vae.likelihoods import BERNOULLI, Likelihood


class Objective(Protocol):
    """A loss over one batch of (decoder logits, images, posterior μ, log σ², the decoded code z)."""

    name: str

    def terms(
        self, logits: Tensor, x: Tensor, mu: Tensor, logvar: Tensor, *, z: Tensor | None = None, step: int = 0
    ) -> dict[str, Tensor]:
        """Batch-mean scalar terms; `loss` is the one minimised."""
        ...

    def after_step(self) -> dict[str, Tensor]:
        """Called after the model's optimizer step: trains the objective's own parts; their terms to log."""
        ...

    def held_out(self, means: Mapping[str, float], step: int) -> dict[str, float]:
        """`loss` (and any terms of the objective's own) from held-out means of recon, kl, mi, tc, dim_kl
        and of the `held_out_codes` terms."""
        ...

    def held_out_codes(self, codes: Tensor) -> dict[str, float]:
        """Terms the objective's trained parts estimate on held-out codes z ~ q(z|x) (none if it owns none)."""
        ...

    def trained_state(self) -> dict[str, Tensor]:
        """The trained parts' tensors that evaluation needs (no optimizer): saved beside the model."""
        ...

    def load_trained_state(self, state: Mapping[str, Tensor]) -> None: ...

    def to(self, device: torch.device) -> Objective: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: Mapping[str, Any]) -> None: ...


class Stateless:
    """Defaults for objectives that own nothing trained."""

    def after_step(self) -> dict[str, Tensor]:
        return {}

    def to(self, device: torch.device) -> Stateless:
        return self

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state:
            raise ValueError(f"objective {getattr(self, 'name', '?')} has no state, got keys {sorted(state)}")

    def held_out_codes(self, codes: Tensor) -> dict[str, float]:
        return {}

    def trained_state(self) -> dict[str, Tensor]:
        return {}

    def load_trained_state(self, state: Mapping[str, Tensor]) -> None:
        self.load_state_dict(state)


def _means(logits: Tensor, x: Tensor, mu: Tensor, logvar: Tensor, likelihood: Likelihood) -> tuple[Tensor, Tensor]:
    """Batch means of the reconstruction NLL under the decoder's likelihood and of the KL."""
    per_example = elbo_terms(logits, x, mu, logvar, nll=likelihood.nll)
    return per_example["recon"].mean(), per_example["kl"].mean()


def _check_weights(**weights: float) -> None:
    for key, value in weights.items():
        if not value >= 0:
            raise ValueError(f"{key} must be >= 0, got {value}")


@dataclass(frozen=True)
class BetaVAE(Stateless):
    """Higgins et al. 2017: recon + β·KL on the summed-over-pixels likelihood.

    β multiplies the KL as in the papers (never rescaled per pixel), so β values are comparable with
    published ones; β = 1 gives the negative ELBO, β = 0 a plain autoencoder.
    """

    beta: float
    likelihood: Likelihood = BERNOULLI  # the reconstruction NLL; pipeline.core.configs always passes the chosen one
    name: str = "beta_vae"

    def __post_init__(self) -> None:
        _check_weights(beta=self.beta)

    def loss(self, recon: Tensor | float, kl: Tensor | float) -> Tensor | float:
        """From mean reconstruction NLL and mean total KL; evaluation applies it to held-out means."""
        return recon + self.beta * kl

    def terms(self, logits, x, mu, logvar, *, z=None, step=0) -> dict[str, Tensor]:
        recon, kl = _means(logits, x, mu, logvar, self.likelihood)
        return {"loss": self.loss(recon, kl), "recon": recon, "kl": kl}

    def held_out(self, means: Mapping[str, float], step: int) -> dict[str, float]:
        return {"loss": float(self.loss(means["recon"], means["kl"]))}


@dataclass(frozen=True)
class AnnealedCapacity(Stateless):
    """Burgess et al. 2018: recon + γ·|KL − C(t)|, the target capacity C raised linearly from 0 nats at
    step 0 to `c_max` at `anneal_steps`, then held."""

    gamma: float
    c_max: float
    anneal_steps: int
    name: str = "capacity"
    likelihood: Likelihood = BERNOULLI  # the reconstruction NLL; pipeline.core.configs always passes the chosen one

    def __post_init__(self) -> None:
        _check_weights(gamma=self.gamma, c_max=self.c_max)
        if self.anneal_steps < 1:
            raise ValueError(f"anneal_steps must be >= 1, got {self.anneal_steps}")

    def capacity(self, step: int) -> float:
        """C(t) in nats."""
        return self.c_max * min(1.0, max(step, 0) / self.anneal_steps)

    def terms(self, logits, x, mu, logvar, *, z=None, step=0) -> dict[str, Tensor]:
        recon, kl = _means(logits, x, mu, logvar, self.likelihood)
        capacity = torch.tensor(self.capacity(step), dtype=kl.dtype, device=kl.device)
        loss = recon + self.gamma * (kl - capacity).abs()
        return {"loss": loss, "recon": recon, "kl": kl, "capacity": capacity}

    def held_out(self, means: Mapping[str, float], step: int) -> dict[str, float]:
        capacity = self.capacity(step)
        return {"loss": means["recon"] + self.gamma * abs(means["kl"] - capacity), "capacity": capacity}


@dataclass(frozen=True)
class BetaTCVAE(Stateless):
    """Chen et al. 2018: recon + α·MI + β·TC + γ·dimension-wise KL, the KL's three parts estimated on each
    minibatch by minibatch-weighted (`mws`) or stratified (`mss`) sampling over a dataset of
    `dataset_size` points. α = β = γ = 1 is the β = 1 ELBO in expectation."""

    alpha: float
    beta: float
    gamma: float
    dataset_size: int
    sampling: Sampling
    name: str = "tc_vae"
    likelihood: Likelihood = BERNOULLI  # the reconstruction NLL; pipeline.core.configs always passes the chosen one
    _weights: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_weights(alpha=self.alpha, beta=self.beta, gamma=self.gamma)
        if self.dataset_size < 2:
            raise ValueError(f"dataset_size must be >= 2, got {self.dataset_size}")
        if self.sampling not in ("mws", "mss"):
            raise ValueError(f"sampling must be 'mws' or 'mss', got {self.sampling!r}")

    def _log_weights(self, batch_size: int, device: torch.device) -> Tensor:
        key = (batch_size, device)
        if key not in self._weights:
            weights = log_importance_weights(batch_size, self.dataset_size, self.sampling)
            self._weights[key] = weights.to(device=device, dtype=torch.float32)
        return self._weights[key]

    def terms(self, logits, x, mu, logvar, *, z=None, step=0) -> dict[str, Tensor]:
        if z is None:
            raise ValueError("tc_vae needs the decoded code z of each example")
        recon, kl = _means(logits, x, mu, logvar, self.likelihood)
        parts = kl_decomposition(z, mu, logvar, self._log_weights(z.shape[0], z.device))
        mi, tc, dim_kl = (part.mean() for part in parts)
        loss = recon + self.alpha * mi + self.beta * tc + self.gamma * dim_kl
        return {"loss": loss, "recon": recon, "kl": kl, "mi": mi, "tc": tc, "dim_kl": dim_kl}

    def held_out(self, means: Mapping[str, float], step: int) -> dict[str, float]:
        weighted = self.alpha * means["mi"] + self.beta * means["tc"] + self.gamma * means["dim_kl"]
        return {"loss": means["recon"] + weighted}


class Discriminator(nn.Module):
    """Kim & Mnih 2018: an MLP (leaky ReLU 0.2) from a code to the logit log D(z)/(1 − D(z)), D(z) the
    probability that z came from q(z) rather than from Π_d q(z_d); the logit estimates the TC's integrand."""

    def __init__(self, latent_dim: int, hidden_dim: int, layers: int) -> None:
        super().__init__()
        widths = [latent_dim] + [hidden_dim] * layers
        blocks: list[nn.Module] = []
        for w_in, w_out in zip(widths, widths[1:]):
            blocks += [nn.Linear(w_in, w_out), nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*blocks, nn.Linear(widths[-1], 1))

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).squeeze(-1)


@contextmanager
def _frozen(module: nn.Module) -> Iterator[None]:
    """Gradients flow through the module to its input but not into its weights (the VAE's loss must not
    train the discriminator); autograd records requires_grad when the ops run."""
    module.requires_grad_(False)
    try:
        yield
    finally:
        module.requires_grad_(True)


class FactorVAE:
    """Kim & Mnih 2018: recon + KL + γ·TC, the TC estimated by a discriminator's logits on the batch's
    codes; after each model step the discriminator is trained to tell those codes from their per-dimension
    permutation (the same batch, detached, as disentanglement_lib does), by its own Adam optimizer."""

    name = "factor_vae"

    def __init__(
        self,
        gamma: float,
        discriminator: Discriminator,
        lr: float,
        betas: tuple[float, float],
        likelihood: Likelihood = BERNOULLI,
    ) -> None:
        _check_weights(gamma=gamma)
        self.gamma, self.likelihood = gamma, likelihood
        self.discriminator = discriminator
        self.optimizer = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=betas)
        self._codes: Tensor | None = None

    def terms(self, logits, x, mu, logvar, *, z=None, step=0) -> dict[str, Tensor]:
        if z is None:
            raise ValueError("factor_vae needs the decoded code z of each example")
        recon, kl = _means(logits, x, mu, logvar, self.likelihood)
        with _frozen(self.discriminator):
            tc = self.discriminator(z.float()).mean()
        self._codes = z.detach().float()
        return {"loss": recon + kl + self.gamma * tc, "recon": recon, "kl": kl, "tc": tc}

    def after_step(self) -> dict[str, Tensor]:
        """One discriminator step on the last batch's codes (label 1) and their permutation (label 0)."""
        if self._codes is None:
            raise RuntimeError("factor_vae: after_step called before terms")
        codes, self._codes = self._codes, None
        joint, marginals = self.discriminator(codes), self.discriminator(permute_dims(codes))
        loss = 0.5 * (
            F.binary_cross_entropy_with_logits(joint, torch.ones_like(joint))
            + F.binary_cross_entropy_with_logits(marginals, torch.zeros_like(marginals))
        )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        accuracy = 0.5 * ((joint > 0).float().mean() + (marginals < 0).float().mean())
        return {"disc_loss": loss.detach(), "disc_acc": accuracy.detach()}

    @torch.inference_mode()
    def held_out_codes(self, codes: Tensor) -> dict[str, float]:
        """`disc_tc`: the trained discriminator's TC estimate, the mean logit over held-out codes."""
        return {"disc_tc": float(self.discriminator(codes.float()).mean())}

    def held_out(self, means: Mapping[str, float], step: int) -> dict[str, float]:
        """recon + KL + γ·TC with the discriminator's TC (`disc_tc`) as in training; from a model saved
        without its discriminator, `tc` (the sampled estimate) stands in."""
        tc = means["disc_tc"] if "disc_tc" in means else means["tc"]
        return {"loss": means["recon"] + means["kl"] + self.gamma * tc}

    def trained_state(self) -> dict[str, Tensor]:
        return {f"discriminator.{k}": v.detach().cpu() for k, v in self.discriminator.state_dict().items()}

    def load_trained_state(self, state: Mapping[str, Tensor]) -> None:
        """Strict: a file of another objective or another discriminator shape is an error, not a silent miss."""
        prefix = "discriminator."
        if any(not key.startswith(prefix) for key in state):
            raise ValueError(f"factor_vae: unexpected keys {sorted(k for k in state if not k.startswith(prefix))}")
        self.discriminator.load_state_dict({k.removeprefix(prefix): v for k, v in state.items()})

    def to(self, device: torch.device) -> FactorVAE:
        self.discriminator.to(device)
        return self

    def state_dict(self) -> dict[str, Any]:
        return {"discriminator": self.discriminator.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.discriminator.load_state_dict(state["discriminator"])
        self.optimizer.load_state_dict(state["optimizer"])
