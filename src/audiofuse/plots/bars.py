"""Bar chart of one metric per model, with the paper's values beside ours."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ..evaluation import METRIC_LABELS
from .canvas import DPI, finish, new_axes

__all__ = ["plot_metric_bars"]


def plot_metric_bars(
    table: pd.DataFrame,
    metric: str,
    path: str | os.PathLike | None,
    *,
    label_col: str | Sequence[str] = "model",
    title: str | None = None,
    ylim: tuple[float, float] | None = None,
    ax: Axes | None = None,
    dpi: int = DPI,
) -> Path | Axes:
    """Bar chart of one metric per model: mean ± sd, and the paper's value.

    Parameters
    ----------
    table : DataFrame
        Usually :func:`audiofuse.evaluation.summarize_seeds` output, with
        ``<metric>_mean`` and ``<metric>_sd``; a plain ``<metric>`` column
        (one run per model) also works, without error bars. An optional
        ``paper_<metric>`` column is drawn as a black diamond per bar
        (NaN = no paper value).
    metric : str
        E.g. ``"roc_auc"``.
    path : str or Path or None
        PNG to write; may be None only when ``ax`` is given.
    label_col : str or sequence of str
        Column(s) naming each bar; several are joined with " / ".
    title : str, optional
        Defaults to the metric's pretty name.
    ylim : (float, float), optional
        Defaults to (0, 1) for metrics within [0, 1], else automatic.
    ax : matplotlib Axes, optional
    dpi : int

    Returns
    -------
    Path, or the Axes when ``path`` is None.
    """
    if not isinstance(table, pd.DataFrame) or table.empty:
        raise ValueError("table must be a non-empty DataFrame")
    means, sds = _means_and_sds(table, metric)
    names = _bar_names(table, label_col)
    fig, ax, owned = new_axes(ax, (max(4.0, 1.1 * len(names) + 2.0), 4.0))
    x = np.arange(len(names))
    err = np.where(np.isfinite(sds), sds, 0.0)
    _draw_bars(ax, x, means, sds, err)
    _draw_paper_values(ax, x, table, metric)
    pretty = METRIC_LABELS.get(metric, metric)
    tilt = len(names) > 3
    ax.set_xticks(x, names, rotation=20 if tilt else 0, ha="right" if tilt else "center")
    if tilt:
        for label in ax.get_xticklabels():
            label.set_rotation_mode("anchor")
    ax.set_ylabel(pretty)
    ax.set_title(title if title is not None else pretty)
    finite = means[np.isfinite(means)]
    if ylim is not None:
        ax.set_ylim(*ylim)
    elif finite.size and finite.min() >= 0 and (finite + err[np.isfinite(means)]).max() <= 1:
        ax.set_ylim(0.0, 1.12)
    if finite.size and finite.min() < 0:
        ax.axhline(0.0, color="black", linewidth=0.8)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper right", fontsize="small", ncols=2)
    return finish(fig, ax, path, owned, dpi)


def _means_and_sds(table: pd.DataFrame, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Bar heights and error bars: ``<metric>_mean`` / ``_sd``, or a plain ``<metric>``."""
    if f"{metric}_mean" in table.columns:
        means = table[f"{metric}_mean"].to_numpy(dtype=float)
        sds = (
            table[f"{metric}_sd"].to_numpy(dtype=float)
            if f"{metric}_sd" in table.columns
            else np.full(len(table), np.nan)
        )
        return means, sds
    if metric in table.columns:
        return table[metric].to_numpy(dtype=float), np.full(len(table), np.nan)
    raise ValueError(
        f"table has neither {metric}_mean nor {metric}; columns: {list(table.columns)}"
    )


def _bar_names(table: pd.DataFrame, label_col: str | Sequence[str]) -> list[str]:
    """One label per row: the ``label_col`` values joined with " / "."""
    cols = [label_col] if isinstance(label_col, str) else list(label_col)
    missing = [c for c in cols if c not in table.columns]
    if missing:
        raise ValueError(f"label column(s) {missing} not found; columns: {list(table.columns)}")
    return [" / ".join(str(v) for v in row) for row in table[cols].itertuples(index=False)]


def _draw_bars(ax: Axes, x: np.ndarray, means: np.ndarray, sds: np.ndarray, err) -> None:
    """Our bars (with error bars when any sd is known), each labelled with its value."""
    has_sd = bool(np.isfinite(sds).any())
    bars = ax.bar(
        x,
        means,
        yerr=err if has_sd else None,
        capsize=4,
        color="C0",
        alpha=0.85,
        label="Ours (mean ± sd)" if has_sd else "Ours",
    )
    for bar, mean in zip(bars, means, strict=True):
        if np.isfinite(mean):  # value printed inside the bar, clear of error bar and marker
            ax.annotate(
                f"{mean:.3f}",
                (bar.get_x() + bar.get_width() / 2, mean),
                xytext=(0, -4 if mean >= 0 else 4),
                textcoords="offset points",
                ha="center",
                va="top" if mean >= 0 else "bottom",
                color="white",
                fontsize="small",
                fontweight="bold",
            )


def _draw_paper_values(ax: Axes, x: np.ndarray, table: pd.DataFrame, metric: str) -> None:
    """The paper's value of each bar as a black diamond (``paper_<metric>``, NaN = none)."""
    paper_col = f"paper_{metric}"
    if paper_col not in table.columns:
        return
    paper = pd.to_numeric(table[paper_col], errors="coerce").to_numpy(dtype=float)
    if np.isfinite(paper).any():
        ax.plot(
            x,
            paper,
            marker="D",
            markerfacecolor="white",
            markeredgecolor="black",
            markeredgewidth=1.5,
            markersize=7,
            linestyle="none",
            label="Paper",
        )
