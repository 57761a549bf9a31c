"""Names and labels of the scores evaluate adds beside MIG, in one light module (no torch, no scikit-learn):
the evaluate stage writes them, the CLI prints them and the report shows them under these names."""

SCORE_LABELS: dict[str, str] = {
    "iwae": "IWAE bound",
    "dci_disentanglement": "DCI disentanglement",
    "dci_completeness": "DCI completeness",
    "dci_informativeness": "DCI informativeness",
    "sap": "SAP",
    "factor_vae": "FactorVAE score",
    "beta_vae": "BetaVAE score",
}
DISENTANGLEMENT_SCORES: tuple[str, ...] = tuple(name for name in SCORE_LABELS if name != "iwae")
"""The scores on [0, 1] computed where the data set has factors (metrics.json keys, MLflow metric names)."""
