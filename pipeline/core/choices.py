"""`model.arch` and `model.likelihood` resolved against the dataset: `auto` picks what fits the data, and
an explicit choice that does not fit is a params error before any work starts."""

from __future__ import annotations

from vae.datasets import dataset_info

CONV_SIZES = (64, 28)  # Burgess et al.'s conv net (64×64) and the small one (28×28): vae.model, without torch


def resolve_arch(dataset: str, arch: str) -> str:
    """conv for 64×64 (Burgess et al. 2018) and 28×28 images, else the MLP, which takes any size."""
    if arch != "auto":
        return arch
    _, height, width = dataset_info(dataset).image_shape
    return "conv" if height == width and height in CONV_SIZES else "mlp"


def resolve_likelihood(dataset: str, likelihood: str) -> str:
    """Bernoulli for binary images; the continuous Bernoulli (a proper density on [0, 1]) for grey/colour."""
    if likelihood != "auto":
        return likelihood
    return "bernoulli" if dataset_info(dataset).binary else "continuous_bernoulli"


def check_model_fits_dataset(dataset: str, arch: str, likelihood: str) -> None:
    """Raise ValueError (one line, naming the param) if the model cannot be trained on the dataset."""
    info = dataset_info(dataset)
    _, height, width = info.image_shape
    if resolve_arch(dataset, arch) == "conv" and not (height == width and height in CONV_SIZES):
        raise ValueError(
            f"model.arch: conv needs 64×64 or 28×28 images but {dataset} is {height}×{width}; use mlp or auto"
        )
    if resolve_likelihood(dataset, likelihood) == "bernoulli" and not info.binary:
        raise ValueError(
            f"model.likelihood: bernoulli is for binary images but {dataset} is grey; "
            "use gaussian, gaussian_learned, continuous_bernoulli or auto"
        )
