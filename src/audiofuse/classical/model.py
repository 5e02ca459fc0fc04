"""The classical classifier: gradient-boosted trees on the hand-crafted features.

:func:`fit_classical` never sees test data: it carves a stratified validation
set out of the *training* rows, by record, fits the trees on the rest, and
keeps the validation scores so that the caller can choose a decision
threshold there.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .clip_features import FEATURE_VERSION, feature_names

__all__ = ["DEFAULT_PARAMS", "ClassicalModel", "fit_classical"]


#: Default settings of the HistGradientBoostingClassifier (``random_state`` is
#: the seed). A fixed number of boosting rounds rather than early stopping, so
#: that the validation carve-out stays an untouched estimate. Chosen by 5-fold
#: cross-validation on the PhysioNet *training* records (never the test set):
#: 300-600 rounds, 15-31 leaves and 30 % of the features per split were all
#: within 0.002 ROC-AUC of each other; feature subsampling (0.3 vs 1.0) and
#: class weighting ("balanced" vs none) helped the within-subset AUC most.
DEFAULT_PARAMS: dict = {
    "learning_rate": 0.05,
    "max_iter": 400,
    "max_leaf_nodes": 15,
    "min_samples_leaf": 20,
    "l2_regularization": 1.0,
    "max_features": 0.3,
    "class_weight": "balanced",
    "early_stopping": False,
}


def _fit_bins(X: np.ndarray, max_bins: int = 255) -> list[np.ndarray]:
    """Per-feature quantile bin edges of the rows the trees are fitted on.

    :class:`~sklearn.ensemble.HistGradientBoostingClassifier` bins its inputs
    into at most 255 quantile bins anyway. Doing it here, without sample
    weights, gives the same kind of bins but keeps scikit-learn from computing
    *weighted* percentiles when ``class_weight`` is set, which costs about
    ``n_features x 255`` slow calls (tens of seconds per fit).
    """
    levels = np.linspace(0.0, 100.0, max_bins + 1)[1:-1]
    edges = np.percentile(np.asarray(X, dtype=np.float64), levels, axis=0)
    return [np.unique(edges[:, j]) for j in range(edges.shape[1])]


def _apply_bins(X: np.ndarray, edges: list[np.ndarray]) -> np.ndarray:
    """Bin index of every value (0 .. len(edges)), as float32 for the trees."""
    X = np.asarray(X, dtype=np.float64)
    out = np.empty(X.shape, dtype=np.float32)
    for j, e in enumerate(edges):
        out[:, j] = np.searchsorted(e, X[:, j], side="right")
    return out


@dataclass
class ClassicalModel:
    """A fitted classical baseline.

    Attributes
    ----------
    estimator : sklearn.ensemble.HistGradientBoostingClassifier
    feature_names : list of str
        The columns it was fitted on (:data:`FEATURE_NAMES`).
    val_labels, val_scores : np.ndarray
        Labels and P(abnormal) of the validation carve-out, one per row (per
        window in window mode); choose the decision threshold on these.
    val_groups : np.ndarray
        The record of each validation row (to aggregate windows).
    seed : int
    bin_edges : list of np.ndarray
        Per-feature quantile bin edges applied before the trees.
    params : dict
        The estimator's settings.
    info : dict
        Row counts, fit time, feature version.
    """

    estimator: object
    feature_names: list
    val_labels: np.ndarray
    val_scores: np.ndarray
    val_groups: np.ndarray
    seed: int
    bin_edges: list = field(default_factory=list)
    params: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    def predict_proba(self, X, *, n_threads: int | None = 1) -> np.ndarray:
        """P(abnormal) for each row of ``X``, shape (n,).

        ``n_threads`` caps the OpenMP threads, as in :func:`fit_classical`.
        """
        from threadpoolctl import threadpool_limits

        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != len(self.feature_names):
            raise ValueError(f"expected X of shape (n, {len(self.feature_names)}), got {X.shape}")
        classes = list(self.estimator.classes_)
        binned = _apply_bins(X, self.bin_edges)
        with threadpool_limits(n_threads, user_api="openmp"):
            proba = self.estimator.predict_proba(binned)
        return proba[:, classes.index(1)].astype(np.float64)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the model with joblib, atomically (temporary file + rename)."""
        import joblib

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        try:
            joblib.dump(self, tmp)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> ClassicalModel:
        """Read a model written by :meth:`save`."""
        import joblib

        model = joblib.load(Path(path))
        if not isinstance(model, cls):
            raise TypeError(f"{path}: holds a {type(model).__name__}, not a ClassicalModel")
        if model.info.get("feature_version") != FEATURE_VERSION:
            raise ValueError(
                f"{path}: fitted on feature version {model.info.get('feature_version')}, "
                f"this code computes version {FEATURE_VERSION}"
            )
        return model


def _carve(
    groups: np.ndarray, y: np.ndarray, fraction: float, seed: int, strata=None
) -> np.ndarray:
    """Boolean mask of validation rows: a split of the groups stratified by
    ``strata`` (default: the label)."""
    from audiofuse.data.splits import carve_records

    per_group = pd.DataFrame({"g": groups, "y": y}).groupby("g", sort=True)["y"].max()
    if per_group.nunique() < 2:
        raise ValueError("the training rows hold a single class; need normal and abnormal")
    stratify = per_group.to_numpy()
    if strata is not None:
        stratify = pd.Series(np.asarray(strata), index=groups).groupby(level=0).first()
        stratify = stratify.loc[per_group.index].to_numpy()
    _, val_ids = carve_records(per_group.index.to_numpy(), stratify, fraction, seed)
    return np.isin(groups, val_ids)


def fit_classical(
    X,
    y,
    *,
    groups=None,
    seed: int = 0,
    val_fraction: float = 0.15,
    params: dict | None = None,
    refit: bool = False,
    n_threads: int | None = 1,
    sample_weight=None,
    strata=None,
) -> ClassicalModel:
    """Fit the gradient-boosted-trees baseline on training rows.

    Parameters
    ----------
    X : array-like, shape (n, len(FEATURE_NAMES))
        Training features only (from :func:`featurize_table`).
    y : array-like of {0, 1}, shape (n,)
        Training labels, 1 = abnormal.
    groups : array-like, shape (n,), optional
        Record of each row (``meta["record"]``). Rows of one record always
        land on the same side of the carve-out; needed for window rows.
        Default: every row is its own record.
    seed : int
        Seeds the carve-out and the trees; the same seed gives the same model.
    val_fraction : float
        Fraction of the training *records* held out, stratified by label, for
        the validation scores.
    params : dict, optional
        Overrides of :data:`DEFAULT_PARAMS`.
    refit : bool
        False (default): the returned model is the one fitted without the
        carve-out, so ``val_scores`` are honest held-out scores *of that very
        model* and a threshold chosen on them applies as is. True: after
        scoring the carve-out, refit on every training row with the same
        settings (15 % more data; the threshold then comes from a sibling
        model).
    n_threads : int or None
        Cap on the OpenMP threads of the trees (via :mod:`threadpoolctl`);
        ``None`` leaves scikit-learn's choice (all cores). The default, 1, is
        deliberate: on a 2-core machine shared with other jobs, OpenMP threads
        spin-wait for each other, and a fit with 2 threads is several times
        slower than with 1. The result does not depend on it.
    sample_weight : array-like, shape (n,), optional
        Loss weight of each row, e.g. :func:`audiofuse.data.splits.record_weights`
        with ``balance="subset"``. The weights must balance the classes
        themselves: ``class_weight`` is then switched off.
    strata : array-like, shape (n,), optional
        Stratum of each row for the carve-out (constant within a record), e.g.
        ``"subset/label"``; default: the label.

    Returns
    -------
    ClassicalModel
    """
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y).astype(np.int64).ravel()
    if X.ndim != 2 or X.shape[0] != y.size:
        raise ValueError(f"X {X.shape} and y {y.shape} do not match")
    if not set(np.unique(y)) <= {0, 1}:
        raise ValueError("labels must be 0 (normal) or 1 (abnormal)")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    groups = np.arange(y.size) if groups is None else np.asarray(groups)
    if groups.shape[0] != y.size:
        raise ValueError("groups and y differ in length")

    settings = {**DEFAULT_PARAMS, **(params or {}), "random_state": seed}
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, dtype=np.float64).ravel()
        if sample_weight.shape[0] != y.size:
            raise ValueError("sample_weight and y differ in length")
        settings["class_weight"] = None  # the weights balance the classes already
    is_val = _carve(groups, y, val_fraction, seed, strata)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(n_threads, user_api="openmp"):
        return _fit(X, y, groups, is_val, settings, seed, refit, sample_weight)


def _fit(X, y, groups, is_val, settings, seed, refit, sample_weight=None) -> ClassicalModel:
    from sklearn.ensemble import HistGradientBoostingClassifier

    t0 = time.perf_counter()
    weights = None if sample_weight is None else sample_weight[~is_val]
    edges = _fit_bins(X[~is_val])
    estimator = HistGradientBoostingClassifier(**settings)
    estimator.fit(_apply_bins(X[~is_val], edges), y[~is_val], sample_weight=weights)
    val_scores = estimator.predict_proba(_apply_bins(X[is_val], edges))
    val_scores = val_scores[:, list(estimator.classes_).index(1)]
    if refit:
        edges = _fit_bins(X)
        estimator = HistGradientBoostingClassifier(**settings).fit(
            _apply_bins(X, edges), y, sample_weight=sample_weight
        )
    info = {
        "n_train_rows": int((~is_val).sum()) if not refit else int(y.size),
        "n_val_rows": int(is_val.sum()),
        "n_val_groups": int(len(np.unique(groups[is_val]))),
        "refit": bool(refit),
        "fit_seconds": round(time.perf_counter() - t0, 3),
        "n_iter": int(estimator.n_iter_),
        "feature_version": FEATURE_VERSION,
    }
    return ClassicalModel(
        estimator=estimator,
        feature_names=list(feature_names())
        if X.shape[1] == len(feature_names())
        else [f"f{i}" for i in range(X.shape[1])],
        val_labels=y[is_val],
        val_scores=np.asarray(val_scores, dtype=np.float64),
        val_groups=groups[is_val],
        seed=seed,
        bin_edges=edges,
        params=settings,
        info=info,
    )
