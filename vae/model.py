"""Encoders and decoders for 64×64 binary images, and the VAE that joins them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import torch
from torch import Tensor, nn

IMAGE_SHAPE = (1, 64, 64)


@dataclass(frozen=True)
class ModelConfig:
    """What it takes to rebuild a saved model: stored next to its weights. No defaults here: params.yaml
    and its schema hold them, and pipeline.configs builds this from the validated params."""

    arch: Literal["conv", "mlp"]
    latent_dim: int
    hidden_dim: int

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class ConvEncoder(nn.Module):
    """Burgess et al. 2018: four 32-channel 4×4 stride-2 convs, two dense layers, then (μ, log σ²)."""

    def __init__(self, latent_dim: int, hidden_dim: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = [IMAGE_SHAPE[0], 32, 32, 32, 32]
        for c_in, c_out in zip(channels, channels[1:]):
            layers += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.ReLU()]
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.head = nn.Sequential(
            nn.Linear(32 * 4 * 4, hidden_dim),
            nn.ReLU(),
            nn.Linear(hidden_dim, hidden_dim),
            nn.ReLU(),
            nn.Linear(hidden_dim, 2 * latent_dim),
        )

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mu, logvar = self.head(self.features(x)).chunk(2, dim=1)
        return mu, logvar


class ConvDecoder(nn.Module):
    """Mirror of ConvEncoder; returns Bernoulli logits."""

    def __init__(self, latent_dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.dense = nn.Sequential(
            nn.Linear(latent_dim, hidden_dim),
            nn.ReLU(),
            nn.Linear(hidden_dim, hidden_dim),
            nn.ReLU(),
            nn.Linear(hidden_dim, 32 * 4 * 4),
            nn.ReLU(),
            nn.Unflatten(1, (32, 4, 4)),
        )
        layers: list[nn.Module] = []
        channels = [32, 32, 32, 32, IMAGE_SHAPE[0]]
        for i, (c_in, c_out) in enumerate(zip(channels, channels[1:])):
            layers.append(nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1))
            if i < len(channels) - 2:
                layers.append(nn.ReLU())
        self.deconv = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.deconv(self.dense(z))


class MLPEncoder(nn.Module):
    """The fully connected encoder of the β-VAE paper (two hidden layers)."""

    def __init__(self, latent_dim: int, hidden_dim: int) -> None:
        super().__init__()
        n_pixels = IMAGE_SHAPE[1] * IMAGE_SHAPE[2]
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(n_pixels, hidden_dim),
            nn.ReLU(),
            nn.Linear(hidden_dim, hidden_dim),
            nn.ReLU(),
            nn.Linear(hidden_dim, 2 * latent_dim),
        )

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mu, logvar = self.net(x).chunk(2, dim=1)
        return mu, logvar


class MLPDecoder(nn.Module):
    def __init__(self, latent_dim: int, hidden_dim: int) -> None:
        super().__init__()
        n_pixels = IMAGE_SHAPE[1] * IMAGE_SHAPE[2]
        self.net = nn.Sequential(
            nn.Linear(latent_dim, hidden_dim),
            nn.Tanh(),
            nn.Linear(hidden_dim, hidden_dim),
            nn.Tanh(),
            nn.Linear(hidden_dim, n_pixels),
            nn.Unflatten(1, IMAGE_SHAPE),
        )

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


_ARCHITECTURES: dict[str, tuple[type[nn.Module], type[nn.Module]]] = {
    "conv": (ConvEncoder, ConvDecoder),
    "mlp": (MLPEncoder, MLPDecoder),
}


class VAE(nn.Module):
    """q(z|x) = N(μ, diag σ²), p(z) = N(0, I), p(x|z) Bernoulli with the decoder's logits."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        encoder, decoder = _ARCHITECTURES[config.arch]
        self.config = config
        self.encoder = encoder(config.latent_dim, config.hidden_dim)
        self.decoder = decoder(config.latent_dim, config.hidden_dim)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.encoder(x)

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z)

    @staticmethod
    def sample_posterior(mu: Tensor, logvar: Tensor) -> Tensor:
        """z ~ q(z|x) by the reparameterisation trick (differentiable in μ and log σ²)."""
        return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)

    def forward(self, x: Tensor, return_code: bool = False) -> tuple[Tensor, ...]:
        """Returns (logits, μ, log σ²) with z drawn from the posterior; and z itself with `return_code`
        (objectives that estimate the KL's parts from the sampled codes need the very z decoded)."""
        mu, logvar = self.encode(x)
        z = self.sample_posterior(mu, logvar)
        logits = self.decode(z)
        return (logits, mu, logvar, z) if return_code else (logits, mu, logvar)
