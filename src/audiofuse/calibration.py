"""Probabilities that mean something: Platt scaling, Brier score, ECE, threshold.

The model's raw P(abnormal) is trained under a reweighting (classes balanced
within each subset), so its numbers are scores, not frequencies. Platt
scaling (a logistic regression on the logit of the score) is fitted on the
*validation carve-out* of the training records under the same balance, and
the decision threshold is chosen there so that sensitivity and specificity
are equal when the classes are balanced within each subset, as in
PhysioNet's test list. The test records are never used to fit anything.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "apply_platt",
    "balanced_threshold",
    "brier_score",
    "expected_calibration_error",
    "fit_platt",
    "calibrate_model",
    "score_records",
]

_EPS = 1e-6


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def fit_platt(scores, labels, weights=None, iterations: int = 50) -> tuple[float, float]:
    """Weighted logistic regression ``P = sigmoid(a * logit(score) + b)``.

    Parameters
    ----------
    scores : array of float in [0, 1]
    labels : array of {0, 1}
    weights : array of float, optional
        Per-record weights (e.g. the training balance); default all 1.
    iterations : int
        Newton steps (the problem is convex and two-dimensional).

    Returns
    -------
    (a, b) : tuple of float
    """
    x = _logit(scores)
    y = np.asarray(labels, dtype=np.float64)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64)
    design = np.stack([x, np.ones_like(x)], axis=1)
    theta = np.zeros(2)
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-(design @ theta)))
        gradient = design.T @ (w * (p - y))
        hessian = design.T @ (design * (w * p * (1 - p))[:, None]) + 1e-9 * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        theta -= step
        if np.max(np.abs(step)) < 1e-10:
            break
    return float(theta[0]), float(theta[1])


def apply_platt(scores, a: float, b: float) -> np.ndarray:
    """Calibrated P(abnormal) from raw scores and fitted ``(a, b)``."""
    return 1 / (1 + np.exp(-(a * _logit(scores) + b)))


def brier_score(p, labels, weights=None) -> float:
    """(Weighted) mean squared difference between P(abnormal) and the label."""
    p, y = np.asarray(p, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    return float(np.average((p - y) ** 2, weights=weights))


def expected_calibration_error(p, labels, weights=None, n_bins: int = 10) -> float:
    """(Weighted) gap between mean P and observed frequency, over 10 equal-width bins."""
    p, y = np.asarray(p, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    w = np.ones_like(p) if weights is None else np.asarray(weights, dtype=np.float64)
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    total, error = w.sum(), 0.0
    for k in range(n_bins):
        inside = bins == k
        if w[inside].sum() > 0:
            gap = np.average(p[inside], weights=w[inside]) - np.average(y[inside], weights=w[inside])
            error += w[inside].sum() / total * abs(gap)
    return float(error)


def balanced_threshold(p, labels, weights=None) -> float:
    """Threshold where weighted sensitivity and specificity are closest to equal.

    Ties are broken towards the larger ``min(Se, Sp)``; the threshold is the
    midpoint between neighbouring scores, so it does not sit on a record.
    """
    p, y = np.asarray(p, dtype=np.float64), np.asarray(labels)
    w = np.ones_like(p) if weights is None else np.asarray(weights, dtype=np.float64)
    values = np.unique(p)
    candidates = np.concatenate([[values[0] - _EPS], (values[1:] + values[:-1]) / 2])
    best, best_key = 0.5, None
    for t in candidates:
        called = p >= t
        se = w[called & (y == 1)].sum() / w[y == 1].sum()
        sp = w[~called & (y == 0)].sum() / w[y == 0].sum()
        key = (abs(se - sp), -min(se, sp))
        if best_key is None or key < best_key:
            best, best_key = float(t), key
    return best


def score_records(predictor, table: pd.DataFrame) -> pd.DataFrame:
    """Raw full-recording P(abnormal) (before calibration) for every row of ``table``."""
    rows = []
    for row in table.itertuples(index=False):
        result = predictor.predict_file(row.path, calibrated=False)
        rows.append({"record": row.record, "subset": row.subset, "label": int(row.label),
                     "score": result["p_abnormal_raw"], "quality": result["quality"]})
    return pd.DataFrame(rows)


def _metrics(p, labels, threshold, weights=None) -> dict:
    from sklearn.metrics import roc_auc_score

    y = np.asarray(labels)
    called = np.asarray(p) >= threshold
    return {
        "roc_auc": round(float(roc_auc_score(y, p)), 4),
        "brier": round(brier_score(p, y, weights), 4),
        "ece": round(expected_calibration_error(p, y, weights), 4),
        "sensitivity": round(float(called[y == 1].mean()), 4),
        "specificity": round(float((~called[y == 0]).mean()), 4),
    }


def calibrate_model(folder: str | Path, physionet_root: str | Path) -> dict:
    """Fit Platt scaling and the balanced threshold on the model's carve-out.

    Scores the ``val_records`` named in ``folder/config.json`` (real training
    records), fits there under the subset balance, stores ``calibration`` and
    the new ``threshold`` in ``config.json``, and only then scores the test
    records to report (never to fit).

    Returns
    -------
    dict
        The stored calibration and the before/after metrics on both sets.
    """
    from .data import index_physionet, physionet_split
    from .predict import Predictor, write_model_card
    from .reporting import read_json_object
    from .splits import record_weights

    folder = Path(folder)
    predictor = Predictor.load(folder)  # first: it gives the one-line errors for a bad folder
    config = read_json_object(folder / "config.json")
    train, test = physionet_split(index_physionet(physionet_root, probe=False))
    val = train[train["record"].isin(set(config["val_records"]))]
    val_scores = score_records(predictor, val)
    weights = record_weights(val_scores, "subset")
    a, b = fit_platt(val_scores["score"], val_scores["label"], weights)
    val_p = apply_platt(val_scores["score"], a, b)
    threshold = balanced_threshold(val_p, val_scores["label"], weights)
    test_scores = score_records(predictor, test)
    test_p = apply_platt(test_scores["score"], a, b)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    calibration = {
        "method": "platt", "a": round(a, 6), "b": round(b, 6),
        "fitted_on": f"validation carve-out, {len(val_scores)} real training records, "
        "classes balanced within each subset",
        "threshold_rule": "Se = Sp on the carve-out, classes balanced within each subset",
        "threshold_uncalibrated": config.get("threshold"), "commit": commit,
    }
    report = {
        "calibration": calibration, "threshold": round(threshold, 6),
        "carveout_raw": _metrics(val_scores["score"], val_scores["label"],
                                 config.get("threshold", 0.5), weights),
        "carveout_calibrated": _metrics(val_p, val_scores["label"], threshold, weights),
        "test_raw": _metrics(test_scores["score"], test_scores["label"],
                             config.get("threshold", 0.5)),
        "test_calibrated": _metrics(test_p, test_scores["label"], threshold),
        "test_unsure": int((test_scores["quality"] != "ok").sum()),
    }
    write_model_card(folder, {"calibration": calibration, "threshold": round(threshold, 6),
                              "calibration_report": {k: v for k, v in report.items()
                                                     if k not in ("calibration", "threshold")}})
    return report
