"""Metrics, decision thresholds, bootstrap intervals and seed summaries.

Everything here is a pure function over arrays: ``y_true`` holds labels
(``1`` = abnormal, ``0`` = normal) and ``y_score`` the predicted probability of
the *abnormal* class. A record is predicted abnormal when
``y_score >= threshold``.

The paper reports ROC-AUC, MCC, the F1 score of the abnormal class and
accuracy. We add sensitivity (Se, recall of abnormal), specificity (Sp, recall
of normal) and the PhysioNet/CinC 2016 challenge score ``MAcc = (Se + Sp) / 2``.

The decision threshold must be chosen on *validation* data
(:func:`choose_threshold`) and then applied unchanged to the test set.

Bad inputs raise :class:`EvaluationError` with a message that says what is
wrong, instead of an error from deep inside scikit-learn.

The package: :mod:`.checks` (input checks), :mod:`.metrics` (metrics,
threshold, bootstrap) and :mod:`.summary` (seeds and windows).
"""

from __future__ import annotations

from .checks import EvaluationError, check_labels, check_pair, check_scores
from .metrics import (
    METRIC_LABELS,
    METRIC_NAMES,
    THRESHOLD_METHODS,
    binary_metrics,
    bootstrap_ci,
    choose_threshold,
    evaluate,
)
from .summary import aggregate_windows, summarize_seeds, within_seed_spread

__all__ = [
    "EvaluationError",
    "METRIC_NAMES",
    "METRIC_LABELS",
    "THRESHOLD_METHODS",
    "check_labels",
    "check_pair",
    "check_scores",
    "choose_threshold",
    "binary_metrics",
    "bootstrap_ci",
    "evaluate",
    "summarize_seeds",
    "within_seed_spread",
    "aggregate_windows",
]
