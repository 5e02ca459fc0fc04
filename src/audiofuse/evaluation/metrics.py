"""Metrics of binary scores: point estimates, the decision threshold, bootstrap intervals.

Everything here is a pure function over arrays: ``y_true`` holds labels
(``1`` = abnormal, ``0`` = normal) and ``y_score`` the predicted probability of
the *abnormal* class. A record is predicted abnormal when
``y_score >= threshold``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from .checks import (
    EvaluationError,
    check_pair,
    check_threshold,
    require_both_classes,
)

__all__ = [
    "METRIC_NAMES",
    "METRIC_LABELS",
    "THRESHOLD_METHODS",
    "choose_threshold",
    "binary_metrics",
    "bootstrap_ci",
    "evaluate",
]

METRIC_NAMES: tuple[str, ...] = (
    "roc_auc",
    "mcc",
    "f1_abnormal",
    "accuracy",
    "sensitivity",
    "specificity",
    "macc",
)
"""The metrics reported for every model, in table order."""

METRIC_LABELS: dict[str, str] = {
    "roc_auc": "ROC-AUC",
    "mcc": "MCC",
    "f1_abnormal": "F1 (abnormal)",
    "accuracy": "Accuracy",
    "sensitivity": "Se",
    "specificity": "Sp",
    "macc": "MAcc",
}
"""Pretty names of :data:`METRIC_NAMES`, for tables and figure axes."""

THRESHOLD_METHODS = ("youden", "fixed")

_TIE_TOL = 1e-12


def _check_metric_names(metrics) -> tuple[str, ...]:
    if metrics is None:
        return METRIC_NAMES
    if isinstance(metrics, str):
        metrics = (metrics,)
    metrics = tuple(metrics)
    unknown = [m for m in metrics if m not in METRIC_NAMES]
    if unknown:
        raise EvaluationError(f"unknown metric(s) {unknown}; choose from {list(METRIC_NAMES)}")
    if not metrics:
        raise EvaluationError(f"metrics is empty; choose from {list(METRIC_NAMES)}")
    return metrics


# ---------------------------------------------------------------------------
# metric kernel, shared by point estimates and the bootstrap


def _metrics_from_weights(
    weights: np.ndarray, y: np.ndarray, pred: np.ndarray, levels: np.ndarray, n_levels: int
) -> dict[str, np.ndarray]:
    """All metrics for each row of ``weights`` (how often each record is drawn).

    ``levels`` is the rank of each record's score among the distinct scores, so
    ROC-AUC is the Mann-Whitney statistic with ties counted as one half.
    Rows holding a single class get NaN for every metric.
    """
    w = weights.astype(np.float64, copy=False)
    pos = y.astype(bool)
    pred = pred.astype(bool)
    tp = w @ (pos & pred)
    fn = w @ (pos & ~pred)
    fp = w @ (~pos & pred)
    tn = w @ (~pos & ~pred)
    n_pos = tp + fn
    n_neg = tn + fp
    valid = (n_pos > 0) & (n_neg > 0)

    with np.errstate(divide="ignore", invalid="ignore"):
        se = tp / n_pos
        sp = tn / n_neg
        acc = (tp + tn) / (n_pos + n_neg)
        f1_den = 2 * tp + fp + fn
        f1 = np.where(f1_den > 0, 2 * tp / np.where(f1_den > 0, f1_den, 1), 0.0)
        mcc_den = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        mcc = np.where(mcc_den > 0, (tp * tn - fp * fn) / np.where(mcc_den > 0, mcc_den, 1), 0.0)

        # ROC-AUC: weight of positives and negatives at each distinct score level
        rows = np.arange(w.shape[0])[:, None]
        pos_lv = np.zeros((w.shape[0], n_levels))
        neg_lv = np.zeros((w.shape[0], n_levels))
        np.add.at(pos_lv, (rows, levels[pos][None, :]), w[:, pos])
        np.add.at(neg_lv, (rows, levels[~pos][None, :]), w[:, ~pos])
        neg_below = np.cumsum(neg_lv, axis=1) - neg_lv
        auc = (pos_lv * (neg_below + 0.5 * neg_lv)).sum(axis=1) / (n_pos * n_neg)

    out = {
        "roc_auc": auc,
        "mcc": mcc,
        "f1_abnormal": f1,
        "accuracy": acc,
        "sensitivity": se,
        "specificity": sp,
        "macc": (se + sp) / 2,
    }
    return {k: np.where(valid, v, np.nan) for k, v in out.items()}


def _score_levels(s: np.ndarray) -> tuple[np.ndarray, int]:
    uniq, levels = np.unique(s, return_inverse=True)
    return levels.ravel(), uniq.size


# ---------------------------------------------------------------------------
# public API


def choose_threshold(y_true, y_score, method: str = "youden") -> float:
    """Choose the decision threshold on validation data.

    Parameters
    ----------
    y_true : array-like of {0, 1}, shape (n,)
        Validation labels, ``1`` = abnormal.
    y_score : array-like of float, shape (n,)
        Validation probabilities of the abnormal class.
    method : {"youden", "fixed"}
        ``"youden"`` maximises Youden's J = Se + Sp - 1 over the ROC
        thresholds (the distinct scores). Among thresholds with the same J the
        one closest to 0.5 wins, and if two are equally close, the larger.
        ``"fixed"`` returns 0.5 (the paper's rule) after checking the inputs.

    Returns
    -------
    threshold : float
        Predict abnormal when ``score >= threshold``. The infinite first
        threshold of :func:`sklearn.metrics.roc_curve` (predict nothing
        abnormal) is clamped to 1.0 for probability scores.

    Raises
    ------
    EvaluationError
        Bad inputs, an unknown ``method``, or (for ``"youden"``) a single class.

    Notes
    -----
    Never call this on the test set: the test metrics would be optimistic.

    Examples
    --------
    >>> choose_threshold([0, 0, 1, 1], [0.1, 0.3, 0.2, 0.8])
    0.8
    """
    if method not in THRESHOLD_METHODS:
        raise EvaluationError(
            f"unknown threshold method {method!r}; choose from {THRESHOLD_METHODS}"
        )
    y, s = check_pair(y_true, y_score, need_both=False)
    if method == "fixed":
        return 0.5
    require_both_classes(y, "Youden's threshold")
    from sklearn.metrics import roc_curve

    fpr, tpr, thresholds = roc_curve(y, s, drop_intermediate=False)
    probabilities = bool(s.min() >= 0.0 and s.max() <= 1.0)
    above = 1.0 if probabilities else float(np.nextafter(s.max(), np.inf))
    below = 0.0 if probabilities else float(s.min())
    thresholds = np.where(np.isposinf(thresholds), above, thresholds)
    thresholds = np.where(np.isneginf(thresholds), below, thresholds)
    if probabilities:
        thresholds = np.clip(thresholds, 0.0, 1.0)

    j = tpr - fpr
    best = np.flatnonzero(j >= j.max() - _TIE_TOL)
    dist = np.abs(thresholds[best] - 0.5)
    closest = best[dist <= dist.min() + _TIE_TOL]
    return float(thresholds[closest].max())


def binary_metrics(y_true, y_score, threshold: float = 0.5) -> dict:
    """Point estimates of every metric at one decision threshold.

    Parameters
    ----------
    y_true : array-like of {0, 1}, shape (n,)
        Labels, ``1`` = abnormal. Both classes must be present.
    y_score : array-like of float, shape (n,)
        Probabilities of the abnormal class (a Keras ``(n, 1)`` output is fine).
    threshold : float
        Predict abnormal when ``y_score >= threshold``.

    Returns
    -------
    metrics : dict
        ``roc_auc``, ``mcc``, ``f1_abnormal``, ``accuracy``, ``sensitivity``,
        ``specificity``, ``macc`` (floats), ``threshold`` (float), ``n`` and
        ``n_abnormal`` (ints). They agree with scikit-learn's
        ``roc_auc_score``, ``matthews_corrcoef``, ``f1_score(pos_label=1)``,
        ``accuracy_score`` and ``recall_score`` for each class.

    Raises
    ------
    EvaluationError
        Empty, mismatched or non-finite inputs, labels other than 0/1, or a
        single class.
    """
    y, s = check_pair(y_true, y_score, need_both=True)
    threshold = check_threshold(threshold)
    levels, n_levels = _score_levels(s)
    values = _metrics_from_weights(np.ones((1, y.size)), y, s >= threshold, levels, n_levels)
    out: dict = {name: float(values[name][0]) for name in METRIC_NAMES}
    out["threshold"] = threshold
    out["n"] = int(y.size)
    out["n_abnormal"] = int(y.sum())
    return out


def bootstrap_ci(
    y_true,
    y_score,
    threshold: float,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    metrics: Sequence[str] | None = None,
    stratified: bool = True,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap confidence intervals over records.

    Parameters
    ----------
    y_true, y_score : array-like, shape (n,)
        Labels and abnormal-class probabilities; both classes must be present.
    threshold : float
        Fixed decision threshold (chosen beforehand on validation data).
    n_boot : int
        Number of resamples.
    seed : int
        Seed of :func:`numpy.random.default_rng`; equal seeds give equal CIs.
    alpha : float
        ``1 - alpha`` is the coverage: 0.05 gives 95 % intervals.
    metrics : sequence of str, optional
        Subset of :data:`METRIC_NAMES`; all of them by default.
    stratified : bool
        When True (default), abnormal and normal records are resampled
        separately, so each resample keeps the test set's class counts. When
        False, records are drawn from the whole set; resamples that happen to
        hold a single class are skipped for every metric.

    Returns
    -------
    ci : dict of str to (float, float)
        ``metric -> (low, high)``, the ``alpha/2`` and ``1 - alpha/2``
        percentiles of the resampled metric.

    Raises
    ------
    EvaluationError
        Bad inputs (see :func:`binary_metrics`) or bad ``n_boot``/``alpha``.

    Notes
    -----
    All resamples are scored at once from a matrix of draw counts, so 1000
    resamples of 301 records take a few tens of milliseconds.
    """
    y, s = check_pair(y_true, y_score, need_both=True)
    threshold = check_threshold(threshold)
    names = _check_metric_names(metrics)
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise EvaluationError(f"n_boot must be a positive integer, got {n_boot!r}")
    if not 0.0 < float(alpha) < 1.0:
        raise EvaluationError(f"alpha must lie strictly between 0 and 1, got {alpha!r}")

    rng = np.random.default_rng(seed)
    n = y.size
    if stratified:
        pos_idx, neg_idx = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
        draws = np.concatenate(
            [
                rng.choice(pos_idx, size=(n_boot, pos_idx.size), replace=True),
                rng.choice(neg_idx, size=(n_boot, neg_idx.size), replace=True),
            ],
            axis=1,
        )
    else:
        draws = rng.integers(0, n, size=(n_boot, n))
    offsets = (np.arange(n_boot) * n)[:, None]
    weights = np.bincount((draws + offsets).ravel(), minlength=n_boot * n).reshape(n_boot, n)

    levels, n_levels = _score_levels(s)
    values = _metrics_from_weights(weights, y, s >= threshold, levels, n_levels)
    n_valid = int(np.isfinite(values["accuracy"]).sum())
    if n_valid == 0:
        raise EvaluationError(
            f"all {n_boot} bootstrap resamples held a single class; use stratified=True"
        )
    if n_valid < 0.9 * n_boot:
        warnings.warn(
            f"{n_boot - n_valid} of {n_boot} bootstrap resamples held a single class and "
            "were skipped; the intervals may be unreliable (try stratified=True)",
            stacklevel=2,
        )
    q = [100 * alpha / 2, 100 * (1 - alpha / 2)]
    out = {}
    for name in names:
        low, high = np.nanpercentile(values[name], q)
        out[name] = (float(low), float(high))
    return out


def evaluate(
    y_true,
    y_score,
    threshold: float,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    stratified: bool = True,
) -> dict:
    """Metrics with bootstrap confidence intervals, as one flat row.

    Parameters
    ----------
    y_true, y_score, threshold
        See :func:`binary_metrics`.
    n_boot, seed, alpha, stratified
        See :func:`bootstrap_ci`. ``n_boot=0`` skips the bootstrap and leaves
        the interval keys out.

    Returns
    -------
    row : dict
        Everything :func:`binary_metrics` returns, plus ``<metric>_ci_low`` and
        ``<metric>_ci_high`` for every metric of :data:`METRIC_NAMES`, and
        ``n_boot``. Ready for ``pandas.DataFrame([row, ...])``.
    """
    row = binary_metrics(y_true, y_score, threshold)
    row["n_boot"] = int(n_boot)
    if n_boot == 0:
        return row
    ci = bootstrap_ci(
        y_true, y_score, threshold, n_boot=n_boot, seed=seed, alpha=alpha, stratified=stratified
    )
    for name in METRIC_NAMES:
        row[f"{name}_ci_low"], row[f"{name}_ci_high"] = ci[name]
    return row
