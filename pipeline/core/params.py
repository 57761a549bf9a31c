"""The one schema for params.yaml: every stage, the CLI and the sweep read params through `load_params`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    ValidationError,
    model_validator,
)

from pipeline.core.errors import ParamsError
from pipeline.core.objectives import OBJECTIVE_NAMES

PARAMS_FILE = "params.yaml"


class _Section(BaseModel):
    # inf and NaN are never meaningful values here (β = .inf trains a NaN model): every float is finite.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class DataParams(_Section):
    dataset: Literal[
        "dsprites",
        "color_dsprites",
        "noisy_dsprites",
        "scream_dsprites",
        "digits",
        "mnist",
        "fashion_mnist",
        "shapes3d",
        "mpi3d_toy",
        "mpi3d_realistic",
        "mpi3d_real",
        "smallnorb",
        "cars3d",
    ] = "dsprites"
    source: Path | None = None
    root: Path = Path("data/torchvision")
    download: bool = False
    subsample: int | None = Field(default=None, ge=2)
    test_size: int = Field(default=10_000, ge=1)
    split_seed: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _test_smaller_than_data(self) -> DataParams:
        if self.subsample is not None and self.test_size >= self.subsample:
            raise ValueError(f"test_size ({self.test_size}) must be smaller than subsample ({self.subsample})")
        from vae.datasets import takes_source

        if self.source is not None and not takes_source(self.dataset):
            raise ValueError(
                f"source is DeepMind's dSprites file, a local dataset's copy or scream-dSprites' image; dataset {self.dataset} takes no source"
            )
        return self


ObjectiveName = Literal[OBJECTIVE_NAMES]  # pipeline/core/objectives.py: the registry


class ModelParams(_Section):
    arch: Literal["auto", "conv", "mlp"] = "auto"
    latent_dim: int = Field(default=10, ge=1)
    hidden_dim: int = Field(default=256, ge=1)
    likelihood: Literal["auto", "bernoulli", "gaussian", "gaussian_learned", "continuous_bernoulli"] = "auto"
    gaussian_std: float = Field(default=0.1, gt=0)
    objective: ObjectiveName = "beta_vae"


class CapacityParams(_Section):
    """γ is not the paper's 1000: at the default budget that pins the KL to C(t) while the reconstruction stays
    at the blank image's, and 10 learns there (measured in docs/objectives.md)."""

    gamma: float = Field(default=10.0, ge=0)
    c_max: float = Field(default=25.0, ge=0)
    anneal_steps: int = Field(default=10_000, ge=1)


class TCVAEParams(_Section):
    alpha: float = Field(default=1.0, ge=0)
    gamma: float = Field(default=1.0, ge=0)
    sampling: Literal["mws", "mss"] = "mws"


class FactorVAEParams(_Section):
    gamma: float = Field(default=10.0, ge=0)
    disc_hidden: int = Field(default=1000, ge=1)
    disc_layers: int = Field(default=6, ge=1)
    disc_lr: float = Field(default=1e-4, gt=0)
    disc_beta1: float = Field(default=0.5, ge=0, lt=1)
    disc_beta2: float = Field(default=0.9, ge=0, lt=1)


class ObjectiveParams(_Section):
    """Each objective's own hyperparameters; β-VAE's and β-TCVAE's β is the top-level `beta`."""

    capacity: CapacityParams = CapacityParams()
    tc_vae: TCVAEParams = TCVAEParams()
    factor_vae: FactorVAEParams = FactorVAEParams()


class TrainParams(_Section):
    steps: int = Field(default=12_000, ge=1)
    batch_size: int = Field(default=64, ge=1)
    lr: float = Field(default=5e-4, gt=0)
    lr_schedule: Literal["constant", "cosine"] = "constant"
    log_every: int = Field(default=50, ge=1)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    compile: bool | Literal["auto"] = "auto"
    checkpoint_every: int = Field(default=1000, ge=0)  # steps between resumable checkpoints; 0: by time only
    checkpoint_minutes: float = Field(default=10.0, ge=0)  # and at least this often; 0: by steps only


class SplitScoreParams(_Section):
    """A score fitted on `num_train` fresh samples and tested on `num_test` more (DCI, SAP)."""

    num_train: int = Field(default=1_000, ge=2)
    num_test: int = Field(default=500, ge=1)


class VotingScoreParams(_Section):
    """A score over points that each encode a batch of fresh samples (FactorVAE, BetaVAE scores)."""

    batch_size: int = Field(default=64, ge=2)
    num_train: int = Field(default=300, ge=2)
    num_eval: int = Field(default=150, ge=1)


class FactorVAEScoreParams(VotingScoreParams):
    num_variance_estimate: int = Field(default=1_000, ge=2)
    prune_threshold: float = Field(default=0.05, ge=0)


class IRSScoreParams(_Section):
    """IRS over `num_train` fresh samples; `diff_quantile` of each group's deviations (1.0: the paper's maximum)."""

    num_train: int = Field(default=1_000, ge=2)
    diff_quantile: float = Field(default=0.99, ge=0, le=1)


class EvalParams(_Section):
    batch_size: int = Field(default=64, ge=1)
    mig_points: int = Field(default=10_000, ge=2)
    mig_bins: int = Field(default=20, ge=2)
    active_threshold: float = Field(default=0.01, ge=0)
    tc_points: int = Field(default=1000, ge=1)
    iwae_k: int = Field(default=50, ge=1)
    iwae_points: int = Field(default=500, ge=1)
    udr_points: int = Field(default=1000, ge=2)
    dci: SplitScoreParams = SplitScoreParams()
    sap: SplitScoreParams = SplitScoreParams()
    factor_vae: FactorVAEScoreParams = FactorVAEScoreParams()
    beta_vae: VotingScoreParams = VotingScoreParams()
    modularity: SplitScoreParams = SplitScoreParams()
    irs: IRSScoreParams = IRSScoreParams()
    unsupervised_points: int = Field(default=10_000, ge=2)


class PlotParams(_Section):
    n_images: int = Field(default=8, ge=1, le=32)
    n_samples: int = Field(default=64, ge=1, le=256)
    traversal_steps: int = Field(default=9, ge=2, le=25)
    traversal_range: float = Field(default=2.5, gt=0)


class SweepParams(_Section):
    """The grid: `beta` and `seed` lists, plus any other param as `dotted.key: [values]`."""

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)

    beta: list[NonNegativeFloat] = Field(default_factory=lambda: [0.0, 1.0, 2.0, 4.0, 8.0, 16.0], min_length=1)
    seed: list[NonNegativeInt] = Field(default_factory=lambda: [0], min_length=1)


class Params(_Section):
    beta: float = Field(default=4.0, ge=0)
    seed: int = Field(default=0, ge=0)
    data: DataParams = DataParams()
    model: ModelParams = ModelParams()
    objective: ObjectiveParams = ObjectiveParams()
    train: TrainParams = TrainParams()
    eval: EvalParams = EvalParams()
    plot: PlotParams = PlotParams()
    sweep: SweepParams = SweepParams()

    @model_validator(mode="after")
    def _tc_vae_needs_pairs(self) -> Params:
        if self.model.objective == "tc_vae" and self.train.batch_size < 2:
            raise ValueError(f"model.objective tc_vae needs train.batch_size >= 2 (got {self.train.batch_size})")
        return self

    @model_validator(mode="after")
    def _model_fits_dataset(self) -> Params:
        from pipeline.core.choices import check_model_fits_dataset

        check_model_fits_dataset(self.data.dataset, self.model.arch, self.model.likelihood)
        return self

    @model_validator(mode="after")
    def _sweep_keys_are_params(self) -> Params:
        known = flatten(self.model_dump(mode="json", exclude={"sweep"}))
        for key, values in (self.sweep.model_extra or {}).items():
            if key not in known:
                raise ValueError(f"sweep.{key}: not a param of params.yaml")
            if not isinstance(values, list) or not values:
                raise ValueError(f"sweep.{key}: expected a non-empty list of values")
        return self

    def flat(self) -> dict[str, Any]:
        """Dotted keys (`train.steps`), as DVC's `-S` and MLflow's params name them."""
        return flatten(self.model_dump(mode="json"))


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def _one_line(error: ValidationError, source: str) -> str:
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    elif first["type"] != "missing" and not isinstance(first.get("input"), dict):
        message += f" (got {first['input']!r})"
    more = len(error.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    where = f"{source}: {key}" if key else source
    return f"{where}: {message}{suffix}"


def parse_params(raw: Any, source: str = PARAMS_FILE) -> Params:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ParamsError(f"{source}: expected a mapping of keys, got {type(raw).__name__}")
    try:
        return Params.model_validate(raw)
    except ValidationError as error:
        raise ParamsError(_one_line(error, source)) from None


def load_params(path: Path) -> Params:
    """Validate before any work starts, so a typo never costs a training run."""
    try:
        text = path.read_text()
    except OSError as error:
        raise ParamsError(f"{path}: cannot read params file ({error.strerror})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ParamsError(f"{path}: not valid YAML{where}") from None
    return parse_params(raw, str(path))
