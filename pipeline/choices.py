"""`model.arch` and `model.likelihood` resolved against the dataset: `auto` picks what fits the data, and
an explicit choice that does not fit is a params error before any work starts."""

from __future__ import annotations

from vae.datasets import dataset_info

CONV_SIZE = 64  # the Burgess et al. conv net takes 64×64 images (vae.model.CONV_SIZE; no torch import here)


def resolve_arch(dataset: str, arch: str) -> str:
    """conv (Burgess et al. 2018) for 64×64 images, else the MLP, which takes any size."""
    if arch != "auto":
        return arch
    return "conv" if dataset_info(dataset).image_shape[1:] == (CONV_SIZE, CONV_SIZE) else "mlp"


def resolve_likelihood(dataset: str, likelihood: str) -> str:
    """Bernoulli for binary images; the continuous Bernoulli (a proper density on [0, 1]) for grey/colour."""
    if likelihood != "auto":
        return likelihood
    return "bernoulli" if dataset_info(dataset).binary else "continuous_bernoulli"


def check_model_fits_dataset(dataset: str, arch: str, likelihood: str) -> None:
    """Raise ValueError (one line, naming the param) if the model cannot be trained on the dataset."""
    info = dataset_info(dataset)
    _, height, width = info.image_shape
    if resolve_arch(dataset, arch) == "conv" and (height, width) != (CONV_SIZE, CONV_SIZE):
        raise ValueError(
            f"model.arch: conv needs {CONV_SIZE}×{CONV_SIZE} images but {dataset} is {height}×{width}; use mlp or auto"
        )
    if resolve_likelihood(dataset, likelihood) == "bernoulli" and not info.binary:
        raise ValueError(
            f"model.likelihood: bernoulli is for binary images but {dataset} is grey; "
            "use gaussian, gaussian_learned, continuous_bernoulli or auto"
        )
