"""Input checks of the evaluation functions: one clear error instead of a deep one.

Every function here returns its input as a clean NumPy array, or raises
:class:`EvaluationError` with a message that says what is wrong (and, where
it helps, how to fix it), before scikit-learn or NumPy could fail obscurely.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "EvaluationError",
    "as_1d",
    "check_labels",
    "check_scores",
    "check_pair",
    "require_both_classes",
    "check_threshold",
]


class EvaluationError(ValueError):
    """Inputs that cannot be evaluated; the message says why."""


def as_1d(values, name: str) -> np.ndarray:
    """``values`` as a 1-D array (a Keras ``(n, 1)`` output is flattened)."""
    try:
        arr = np.asarray(values)
    except Exception as exc:  # ragged lists and the like
        raise EvaluationError(f"{name}: cannot convert to an array ({exc})") from None
    if arr.ndim == 2 and arr.shape[1] == 1:  # Keras ``model.predict`` output
        arr = arr[:, 0]
    if arr.ndim == 0:
        raise EvaluationError(f"{name}: expected a 1-D array, got a scalar")
    if arr.ndim != 1:
        hint = (
            "; pass the probability of the abnormal class only, e.g. proba[:, 1]"
            if name == "y_score"
            else ""
        )
        raise EvaluationError(f"{name}: expected a 1-D array, got shape {arr.shape}{hint}")
    return arr


def check_labels(y_true, name: str = "y_true") -> np.ndarray:
    """Labels as int8 0/1; booleans are accepted, anything else is an error."""
    arr = as_1d(y_true, name)
    if arr.size == 0:
        raise EvaluationError(f"{name} is empty; nothing to evaluate")
    if arr.dtype == bool:
        return arr.astype(np.int8)
    try:
        num = arr.astype(np.float64)
    except (TypeError, ValueError):
        raise EvaluationError(
            f"{name}: labels must be 0 (normal) or 1 (abnormal), got values of type {arr.dtype}"
        ) from None
    bad = ~np.isin(num, (0.0, 1.0))  # NaN is never in the set
    if bad.any():
        found = np.unique(arr[bad])[:5].tolist()
        hint = " (PhysioNet's -1 means normal: map it to 0)" if -1 in found else ""
        raise EvaluationError(
            f"{name}: labels must be 0 (normal) or 1 (abnormal); "
            f"found {int(bad.sum())} other value(s), e.g. {found}{hint}"
        )
    return num.astype(np.int8)


def check_scores(y_score, name: str = "y_score") -> np.ndarray:
    """Scores as finite float64."""
    arr = as_1d(y_score, name)
    if arr.size == 0:
        raise EvaluationError(f"{name} is empty; nothing to evaluate")
    try:
        num = arr.astype(np.float64)
    except (TypeError, ValueError):
        raise EvaluationError(f"{name}: scores must be numbers, got dtype {arr.dtype}") from None
    finite = np.isfinite(num)
    if not finite.all():
        first = int(np.flatnonzero(~finite)[0])
        raise EvaluationError(
            f"{name}: {int((~finite).sum())} of {num.size} scores are NaN or infinite "
            f"(first at index {first}: {num[first]})"
        )
    return num


def check_pair(y_true, y_score, *, need_both: bool) -> tuple[np.ndarray, np.ndarray]:
    """Checked labels and scores of the same length (``need_both``: both classes present)."""
    y = check_labels(y_true)
    s = check_scores(y_score)
    if y.size != s.size:
        raise EvaluationError(
            f"y_true and y_score differ in length ({y.size} labels vs {s.size} scores)"
        )
    if need_both:
        require_both_classes(y)
    return y, s


def require_both_classes(y: np.ndarray, what: str = "ROC-AUC, Se, Sp and MCC") -> None:
    """Raise unless ``y`` holds both normal (0) and abnormal (1) records."""
    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == y.size:
        only = "abnormal (1)" if n_pos else "normal (0)"
        raise EvaluationError(
            f"only one class is present ({y.size} records, all {only}); "
            f"{what} need both normal (0) and abnormal (1) records"
        )


def check_threshold(threshold) -> float:
    """The threshold as a finite float."""
    try:
        value = float(threshold)
    except (TypeError, ValueError):
        raise EvaluationError(f"threshold must be a number, got {threshold!r}") from None
    if not np.isfinite(value):
        raise EvaluationError(f"threshold must be finite, got {value}")
    return value
