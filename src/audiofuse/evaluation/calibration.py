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

import numpy as np

__all__ = [
    "apply_platt",
    "balanced_threshold",
    "brier_score",
    "expected_calibration_error",
    "fit_platt",
    "calibration_metrics",
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


def calibration_metrics(p, labels, threshold, weights=None) -> dict:
    """ROC-AUC, Brier score, ECE, sensitivity and specificity of ``p`` at ``threshold``."""
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
