"""Every metric the evaluate stage writes, in one place: its name (the eval/metrics.json key and the MLflow
metric name), which way is better, how it is estimated, its label and units, and whether it needs
ground-truth factors. Evaluate refuses to write a key that is not here; the CLI's lines, the report (tables,
figures, sentences, summary.csv) and the MLflow UI's saved view read their names, labels and order from here.

Adding a score is one entry here plus its function (metrics/) and its call in pipeline/stages/scores.py.
Light on purpose (no numpy, torch or MLflow): the CLI and the report import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

NATS = "nats per image"


@dataclass(frozen=True)
class Metric:
    name: str
    label: str  # in tables, sentences and the CLI: "DCI disentanglement"
    title: str  # a figure's title
    axis: str  # a figure's axis label, with the units
    better: Literal["higher", "lower"] | None  # None: neither (a rate, a count, a term of a trade-off)
    estimator: str  # what computes it: the published estimator and where it is wired in
    needs_factors: bool = False  # only on datasets with ground-truth factors (the dSprites family)
    reported: bool = True  # in the report's per-β tables, figures and summary.csv
    decimals: int = 1  # as tables and sentences print it
    per: Literal["latent", "factor"] | None = None  # a mapping, logged as `name.<latent or factor>`


def _score(name: str, label: str, axis_unit: str, estimator: str, title: str | None = None) -> Metric:
    """A disentanglement score on [0, 1] (higher is better), computed where the data set has factors."""
    return Metric(name, label, title or label, f"{label} [{axis_unit}]", "higher", estimator, True, decimals=3)


def _code_score(
    name: str, label: str, axis: str, estimator: str, title: str | None = None, reported: bool = True
) -> Metric:
    """An unsupervised score of the codes alone (0 for independent latents; lower: more nearly independent),
    computed on every dataset."""
    return Metric(name, label, title or label, axis, "lower", estimator, reported=reported, decimals=3)


_ALL = (
    Metric(
        "elbo",
        "ELBO",
        "ELBO (higher is better)",
        f"ELBO [{NATS}]",
        "higher",
        "held-out mean of −recon − KL, one posterior sample per image",
    ),
    Metric(
        "recon",
        "reconstruction",
        "Reconstruction error",
        f"reconstruction −log p(x|z) [{NATS}]",
        "lower",
        "held-out mean NLL of one posterior sample under the decoder's likelihood",
    ),
    Metric(
        "kl", "KL", "KL (rate)", f"KL(q(z|x) ‖ p(z)) [{NATS}]", None, "held-out mean of the closed-form Gaussian KL"
    ),
    _score(
        "mig",
        "MIG",
        "fraction of factor entropy, 0–1",
        "Chen et al. 2018 as in disentanglement_lib: 20-bin histograms of eval.mig_points held-out means",
        "Mutual information gap (disentanglement)",
    ),
    Metric(
        "active_units",
        "active units",
        "Active latent units",
        "active units [latent dimensions]",
        None,
        "latents whose posterior mean varies over the held-out set by more than eval.active_threshold",
        decimals=0,
    ),
    Metric(
        "iwae",
        "IWAE bound",
        "IWAE bound (higher is better)",
        f"IWAE bound [{NATS}]",
        "higher",
        "Burda et al. 2016 with eval.iwae_k samples on eval.iwae_points held-out images",
    ),
    _score(
        "dci_disentanglement",
        "DCI disentanglement",
        "0–1",
        "Eastwood & Williams 2018 with gradient-boosted trees, as disentanglement_lib",
    ),
    _score("dci_completeness", "DCI completeness", "0–1", "Eastwood & Williams 2018, as disentanglement_lib"),
    _score(
        "dci_informativeness",
        "DCI informativeness",
        "test accuracy",
        "Eastwood & Williams 2018: the trees' test accuracy, as disentanglement_lib",
    ),
    _score("sap", "SAP", "accuracy gap", "Kumar et al. 2018, as disentanglement_lib", "SAP score"),
    _score(
        "factor_vae", "FactorVAE score", "accuracy", "Kim & Mnih 2018: majority-vote classifier, as disentanglement_lib"
    ),
    _score(
        "beta_vae",
        "BetaVAE score",
        "accuracy",
        "Higgins et al. 2017: logistic regression on code differences, as disentanglement_lib",
    ),
    _score(
        "modularity",
        "modularity",
        "0–1",
        "Ridgeway & Zemel 2018 as in disentanglement_lib: eval.mig_bins-bin mutual information of each latent "
        "with each factor on eval.modularity.num_train fresh samples",
    ),
    _score(
        "explicitness",
        "explicitness",
        "test ROC-AUC",
        "Ridgeway & Zemel 2018 as in disentanglement_lib: one-vs-rest logistic regression per factor, mean "
        "ROC-AUC on eval.modularity.num_test fresh samples",
    ),
    _score(
        "irs",
        "IRS",
        "0–1",
        "Suter et al. 2019 as in disentanglement_lib: eval.irs.diff_quantile quantile of each latent's deviation "
        "with one factor fixed, over eval.irs.num_train fresh samples",
        "Interventional robustness score (IRS)",
    ),
    # The unsupervised scores of Locatello et al. 2019: the codes alone, so on every dataset.
    _code_score(
        "gaussian_total_correlation",
        "Gaussian TC",
        "Gaussian TC [nats]",
        "disentanglement_lib: KL of a Gaussian fitted to eval.unsupervised_points held-out means from the "
        "product of its marginals",
        "Gaussian total correlation of the means",
    ),
    _code_score(
        "gaussian_wasserstein_correlation",
        "Gaussian Wasserstein correlation",
        "Gaussian W₂² [squared latent units]",
        "disentanglement_lib: squared 2-Wasserstein distance between that Gaussian and the product of its marginals",
        reported=False,
    ),
    _code_score(
        "gaussian_wasserstein_correlation_norm",
        "normalised Gaussian Wasserstein correlation",
        "Gaussian W₂² / total variance",
        "disentanglement_lib: gaussian_wasserstein_correlation over the trace of the fitted covariance",
        "Gaussian Wasserstein correlation of the means (normalised)",
    ),
    _code_score(
        "mutual_info_score",
        "mean latent MI",
        "mean MI between latents [nats]",
        "disentanglement_lib's mutual_info_score: eval.mig_bins-bin mutual information of every pair of "
        "latents on eval.unsupervised_points held-out means, averaged",
        "Mutual information between latents",
    ),
    Metric(  # written by the report, not evaluate: it needs every seed of a setting (pipeline/report/udr.py)
        "udr",
        "UDR",
        "UDR (model selection without labels)",
        "UDR [agreement with the other seeds, 0–1]",
        "higher",
        "Duan et al. 2020 as disentanglement_lib (Lasso, KL filter 0.01 nats): the report, across a setting's "
        "seeds, from each seed's codes of eval.udr_points held-out images (eval/codes.npz)",
        decimals=3,
    ),
    # The objective's value and the KL's parts on held-out codes (every objective; pipeline/stages/evaluate.py).
    Metric(
        "loss",
        "loss",
        "The objective",
        f"loss [{NATS}]",
        "lower",
        "the objective's own value on the held-out terms",
        reported=False,
    ),
    Metric(
        "mi",
        "MI",
        "Index-code mutual information",
        f"MI [{NATS}]",
        None,
        "Chen et al. 2018: one code from each of eval.tc_points posteriors against the mixture of all held-out posteriors",
        reported=False,
    ),
    Metric("tc", "TC", "Total correlation", f"TC [{NATS}]", "lower", "as mi", reported=False),
    Metric(
        "dim_kl",
        "dimension-wise KL",
        "Dimension-wise KL",
        f"Σ_d KL(q(z_d) ‖ p(z_d)) [{NATS}]",
        "lower",
        "as mi",
        reported=False,
    ),
    Metric(
        "disc_tc",
        "discriminator TC",
        "Discriminator TC",
        f"TC [{NATS}]",
        "lower",
        "factor_vae only: mean logit of the trained discriminator on eval.tc_points held-out codes",
        reported=False,
    ),
    Metric(
        "capacity",
        "capacity C",
        "Target capacity",
        f"C [{NATS}]",
        None,
        "capacity only: the target KL at train.steps",
        reported=False,
    ),
    Metric(
        "kl_dim",
        "KL per latent",
        "KL per latent dimension",
        f"KL [{NATS}]",
        None,
        "held-out mean KL of each latent",
        reported=False,
        per="latent",
    ),
    Metric(
        "mig_gap",
        "MIG gap per factor",
        "MIG per factor",
        "gap [fraction of factor entropy]",
        "higher",
        "MIG's normalised gap for each varying factor",
        needs_factors=True,
        reported=False,
        decimals=3,
        per="factor",
    ),
)

CATALOGUE: dict[str, Metric] = {metric.name: metric for metric in _ALL}
REPORTED: tuple[str, ...] = tuple(m.name for m in _ALL if m.reported)
"""The report's metrics in its order: tables, figures, summary.csv columns."""
FACTOR_SCORES: tuple[str, ...] = tuple(m.name for m in _ALL if m.needs_factors and m.per is None)
"""The disentanglement scores (MIG first), computed where the data set has ground-truth factors."""
CODE_SCORES: tuple[str, ...] = (
    "gaussian_total_correlation",
    "gaussian_wasserstein_correlation_norm",
    "mutual_info_score",
)
"""The reported unsupervised scores (the codes alone), computed on every dataset."""
BOUNDS: tuple[str, ...] = tuple(
    m.name for m in _ALL if m.reported and m.axis.endswith(f"[{NATS}]") and m.better == "higher"
)
"""Likelihood bounds (ELBO, IWAE): nats per image, comparable only under one likelihood."""


def label(name: str) -> str:
    return CATALOGUE[name].label if name in CATALOGUE else name


def unknown_keys(metrics: dict[str, object]) -> list[str]:
    """Keys of a metrics.json that the catalogue lacks (a mapping must be a `per` entry, a number must not)."""
    return [
        key
        for key, value in metrics.items()
        if key not in CATALOGUE or (isinstance(value, dict) != (CATALOGUE[key].per is not None))
    ]
