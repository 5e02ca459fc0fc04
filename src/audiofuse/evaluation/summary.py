"""Summaries: metrics over seeds (mean ± sd) and window scores over a recording."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .checks import EvaluationError, as_1d, check_scores
from .metrics import METRIC_NAMES

__all__ = ["summarize_seeds", "aggregate_windows", "within_seed_spread"]


def summarize_seeds(
    rows: Iterable[Mapping] | pd.DataFrame,
    group_cols: str | Sequence[str] = ("model",),
    metrics: Sequence[str] | None = None,
    *,
    decimals: int = 3,
) -> pd.DataFrame:
    """Mean and standard deviation of each metric over seeds.

    Parameters
    ----------
    rows : list of dict or DataFrame
        One row per run (model x seed), e.g. rows returned by :func:`evaluate`
        with ``model`` and ``seed`` added.
    group_cols : str or sequence of str
        Columns identifying a configuration; each group is summarised.
    metrics : sequence of str, optional
        Metric columns to summarise. By default every column of
        :data:`METRIC_NAMES` present in ``rows``.
    decimals : int
        Decimals of the formatted column.

    Returns
    -------
    summary : DataFrame
        One row per group, in order of first appearance: the group columns,
        ``n_seeds``, then for each metric ``<metric>_mean``, ``<metric>_sd``
        (sample standard deviation, ``ddof=1``; NaN for a single seed) and
        ``<metric>_fmt``, e.g. ``"0.861 ± 0.012"`` (just ``"0.861"`` when the
        sd is undefined). NaN metric values are ignored.

    Raises
    ------
    EvaluationError
        No rows, missing columns or non-numeric metric values.
    """
    frame = rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    if frame.empty:
        raise EvaluationError("no rows to summarise")
    group_cols = [group_cols] if isinstance(group_cols, str) else list(group_cols)
    missing = [c for c in group_cols if c not in frame.columns]
    if missing:
        raise EvaluationError(
            f"group column(s) {missing} not found; columns are {list(frame.columns)}"
        )
    if metrics is None:
        metrics = [m for m in METRIC_NAMES if m in frame.columns]
        if not metrics:
            raise EvaluationError(
                f"no metric columns found; expected some of {list(METRIC_NAMES)}, "
                f"got {list(frame.columns)}"
            )
    else:
        metrics = [metrics] if isinstance(metrics, str) else list(metrics)
        missing = [m for m in metrics if m not in frame.columns]
        if missing:
            raise EvaluationError(
                f"metric column(s) {missing} not found; columns are {list(frame.columns)}"
            )
    for m in metrics:
        try:
            frame[m] = pd.to_numeric(frame[m])
        except (TypeError, ValueError):
            raise EvaluationError(f"metric column {m!r} holds non-numeric values") from None

    grouped = frame.groupby(group_cols, sort=False, dropna=False)
    summary = grouped.size().rename("n_seeds").to_frame()
    for m in metrics:
        summary[f"{m}_mean"] = grouped[m].mean()
        summary[f"{m}_sd"] = grouped[m].std(ddof=1)
        summary[f"{m}_fmt"] = [
            _fmt(mean, sd, decimals)
            for mean, sd in zip(summary[f"{m}_mean"], summary[f"{m}_sd"], strict=True)
        ]
    return summary.reset_index()


def _fmt(mean: float, sd: float, decimals: int) -> str:
    if not np.isfinite(mean):
        return "n/a"
    if not np.isfinite(sd):
        return f"{mean:.{decimals}f}"
    return f"{mean:.{decimals}f} ± {sd:.{decimals}f}"


def within_seed_spread(
    reference: pd.DataFrame,
    retrained: pd.DataFrame,
    group_cols: Sequence[str] = ("model", "evaluation"),
    metric: str = "roc_auc",
) -> pd.DataFrame:
    """Does a retrained table's mean stay within the reference's seed spread?

    For a change that must not move quality (a faster path, say): both tables
    hold one row per run (per-seed CSVs). Per group: the reference's mean, sd,
    lowest and highest seed, the retrained mean and sd, their difference, and
    whether the retrained mean lies between the reference's lowest and highest
    seed (``within_range``) and within one sd of its mean (``within_1sd``).
    Groups missing from either table are left out.
    """
    cols = list(group_cols)

    def stats(frame):
        return frame.groupby(cols, sort=False)[metric].agg(["mean", "std", "min", "max", "count"])

    ref, new = stats(reference), stats(retrained)
    both = ref.join(new, how="inner", lsuffix="_reference", rsuffix="_retrained")
    out = pd.DataFrame(
        {
            "seeds_reference": both["count_reference"],
            "mean_reference": both["mean_reference"],
            "sd_reference": both["std_reference"],
            "lowest_seed_reference": both["min_reference"],
            "highest_seed_reference": both["max_reference"],
            "seeds_retrained": both["count_retrained"],
            "mean_retrained": both["mean_retrained"],
            "sd_retrained": both["std_retrained"],
        }
    )
    out["difference"] = out["mean_retrained"] - out["mean_reference"]
    out["within_range"] = out["mean_retrained"].between(
        out["lowest_seed_reference"], out["highest_seed_reference"]
    )
    out["within_1sd"] = out["difference"].abs() <= out["sd_reference"]
    return out.reset_index()


def aggregate_windows(
    window_scores, record_ids, how: str = "mean"
) -> tuple[np.ndarray, np.ndarray]:
    """Combine per-window probabilities into one score per recording.

    Parameters
    ----------
    window_scores : array-like of float, shape (n_windows,)
        Abnormal-class probability of each window (``(n, 1)`` is fine).
    record_ids : array-like, shape (n_windows,)
        The recording each window came from.
    how : {"mean", "median", "max"}
        How to combine the windows of one recording.

    Returns
    -------
    unique_ids : np.ndarray
        Recording ids in order of first appearance.
    scores : np.ndarray of float64
        The combined score of each recording, aligned with ``unique_ids``.

    Examples
    --------
    >>> ids, scores = aggregate_windows([0.2, 0.9, 0.4, 0.7], ["b", "a", "b", "a"])
    >>> ids.tolist(), scores.round(2).tolist()
    (['b', 'a'], [0.3, 0.8])
    """
    if how not in ("mean", "median", "max"):
        raise EvaluationError(f"unknown aggregation {how!r}; choose 'mean', 'median' or 'max'")
    s = check_scores(window_scores, "window_scores")
    ids = as_1d(record_ids, "record_ids")
    if ids.size != s.size:
        raise EvaluationError(
            f"window_scores and record_ids differ in length ({s.size} vs {ids.size})"
        )
    codes, uniques = pd.factorize(ids, sort=False, use_na_sentinel=False)
    uniques = np.asarray(uniques)
    if how == "mean":
        scores = np.bincount(codes, weights=s) / np.bincount(codes)
    else:
        grouped = pd.Series(s).groupby(codes, sort=True)
        scores = (grouped.median() if how == "median" else grouped.max()).to_numpy()
    return uniques, scores.astype(np.float64)
