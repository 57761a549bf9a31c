"""Encoders and decoders (Burgess et al.'s conv net for 64×64, an MLP for any size) and the VAE joining them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from vae.likelihoods import Likelihood

IMAGE_SHAPE = (1, 64, 64)
"""dSprites' image shape (channels, height, width)."""
CONV_SIZE = 64
"""Burgess et al.'s conv net: four stride-2 layers take 64×64 images to 4×4."""
CONV28_SIZE = 28
"""The small conv net for MNIST-sized images: two stride-2 layers take 28×28 to 7×7."""


@dataclass(frozen=True)
class ModelConfig:
    """What it takes to rebuild a saved model: stored next to its weights. No defaults here: params.yaml
    and its schema hold them, and pipeline.core.configs builds this from the validated params."""

    arch: Literal["conv", "mlp"]
    latent_dim: int
    hidden_dim: int
    image_shape: tuple[int, int, int]  # (channels, height, width) of the dataset's images
    likelihood: str  # a name from vae.likelihoods.LIKELIHOODS
    gaussian_std: float  # σ of the fixed-variance Gaussian likelihood

    def __post_init__(self) -> None:
        object.__setattr__(self, "image_shape", tuple(int(v) for v in self.image_shape))  # JSON gives a list
        if self.arch == "conv" and self.image_shape[1:] not in ((CONV_SIZE, CONV_SIZE), (CONV28_SIZE, CONV28_SIZE)):
            raise ValueError(
                f"the conv architecture needs {CONV_SIZE}×{CONV_SIZE} or {CONV28_SIZE}×{CONV28_SIZE} images, "
                f"got {self.image_shape}"
            )

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class ConvEncoder(nn.Module):
    """Burgess et al. 2018: four 32-channel 4×4 stride-2 convs, two dense layers, then (μ, log σ²)."""

    def __init__(self, latent_dim: int, hidden_dim: int, image_shape: tuple[int, int, int]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = [image_shape[0], 32, 32, 32, 32]
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
    """Mirror of ConvEncoder; returns `out_channels` maps for the likelihood to read."""

    def __init__(self, latent_dim: int, hidden_dim: int, out_shape: tuple[int, int, int]) -> None:
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
        channels = [32, 32, 32, 32, out_shape[0]]
        for i, (c_in, c_out) in enumerate(zip(channels, channels[1:])):
            layers.append(nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1))
            if i < len(channels) - 2:
                layers.append(nn.ReLU())
        self.deconv = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.deconv(self.dense(z))


class _SequentialEncoder(nn.Module):
    """An encoder whose `net` maps images to (μ, log σ²) stacked on the feature axis."""

    net: nn.Sequential

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mu, logvar = self.net(x).chunk(2, dim=1)
        return mu, logvar


class Conv28Encoder(_SequentialEncoder):
    """For 28×28 images (MNIST-sized): 32- and 64-channel 4×4 stride-2 convs (28 → 14 → 7), one dense layer."""

    def __init__(self, latent_dim: int, hidden_dim: int, image_shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(image_shape[0], 32, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 64, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(64 * 7 * 7, hidden_dim),
            nn.ReLU(),
            nn.Linear(hidden_dim, 2 * latent_dim),
        )


class Conv28Decoder(nn.Module):
    """Mirror of Conv28Encoder."""

    def __init__(self, latent_dim: int, hidden_dim: int, out_shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent_dim, hidden_dim),
            nn.ReLU(),
            nn.Linear(hidden_dim, 64 * 7 * 7),
            nn.ReLU(),
            nn.Unflatten(1, (64, 7, 7)),
            nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(32, out_shape[0], 4, stride=2, padding=1),
        )

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class MLPEncoder(_SequentialEncoder):
    """The fully connected encoder of the β-VAE paper (two hidden layers)."""

    def __init__(self, latent_dim: int, hidden_dim: int, image_shape: tuple[int, int, int]) -> None:
        super().__init__()
        n_pixels = image_shape[0] * image_shape[1] * image_shape[2]
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(n_pixels, hidden_dim),
            nn.ReLU(),
            nn.Linear(hidden_dim, hidden_dim),
            nn.ReLU(),
            nn.Linear(hidden_dim, 2 * latent_dim),
        )


class MLPDecoder(nn.Module):
    def __init__(self, latent_dim: int, hidden_dim: int, out_shape: tuple[int, int, int]) -> None:
        super().__init__()
        n_pixels = out_shape[0] * out_shape[1] * out_shape[2]
        self.net = nn.Sequential(
            nn.Linear(latent_dim, hidden_dim),
            nn.Tanh(),
            nn.Linear(hidden_dim, hidden_dim),
            nn.Tanh(),
            nn.Linear(hidden_dim, n_pixels),
            nn.Unflatten(1, out_shape),
        )

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


_ARCHITECTURES: dict[str, tuple[type[nn.Module], type[nn.Module]]] = {
    "conv": (ConvEncoder, ConvDecoder),
    "mlp": (MLPEncoder, MLPDecoder),
}


class VAE(nn.Module):
    """q(z|x) = N(μ, diag σ²), p(z) = N(0, I), p(x|z) the config's likelihood of the decoder's output."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        encoder, decoder = _ARCHITECTURES[config.arch]
        if config.arch == "conv" and config.image_shape[1] == CONV28_SIZE:
            encoder, decoder = Conv28Encoder, Conv28Decoder
        self.config = config
        self.likelihood = Likelihood(config.likelihood, config.gaussian_std)
        channels, height, width = config.image_shape
        out_shape = (channels * self.likelihood.outputs_per_channel, height, width)
        self.encoder = encoder(config.latent_dim, config.hidden_dim, config.image_shape)
        self.decoder = decoder(config.latent_dim, config.hidden_dim, out_shape)

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
