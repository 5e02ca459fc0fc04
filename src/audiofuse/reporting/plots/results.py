"""Figures of results: ROC curves, confusion matrices, training and selection curves."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from audiofuse.evaluation import EvaluationError, binary_metrics, check_labels, check_pair
from audiofuse.reporting.plots.canvas import DPI, finish, new_axes, save_figure

__all__ = [
    "plot_roc_curves",
    "plot_confusion_matrix",
    "plot_training_curves",
    "plot_selection_curves",
]


def plot_roc_curves(
    curves: Mapping[str, tuple[Sequence, Sequence]],
    path: str | os.PathLike | None,
    *,
    title: str = "ROC curves",
    operating_points: Mapping[str, float] | None = None,
    ax: Axes | None = None,
    dpi: int = DPI,
) -> Path | Axes:
    """Several models' ROC curves on one set of axes.

    Parameters
    ----------
    curves : dict of str to (y_true, y_score)
        Model name -> its labels and abnormal-class probabilities. Each needs
        both classes.
    path : str or Path or None
        PNG to write; may be None only when ``ax`` is given.
    title : str
    operating_points : dict of str to float, optional
        Model name -> decision threshold; a marker shows its (1 - Sp, Se).
    ax : matplotlib Axes, optional
        Draw here instead of on a new figure.
    dpi : int

    Returns
    -------
    Path, or the Axes when ``path`` is None.

    Raises
    ------
    EvaluationError
        Bad labels or scores for one of the models (the message names it).
    """
    from sklearn.metrics import roc_curve

    if not curves:
        raise ValueError("curves is empty; give at least one model")
    fig, ax, owned = new_axes(ax, (5.5, 5.0))
    ax.plot([0, 1], [0, 1], linestyle="--", color="0.6", linewidth=1, label="Chance")
    for name, pair in curves.items():
        try:
            y_true, y_score = pair
            y, s = check_pair(y_true, y_score, need_both=True)
        except EvaluationError as err:
            raise EvaluationError(f"ROC curve of {name!r}: {err}") from None
        except (TypeError, ValueError):
            raise ValueError(f"curves[{name!r}] must be a (y_true, y_score) pair") from None
        fpr, tpr, _ = roc_curve(y, s)
        auc = binary_metrics(y, s)["roc_auc"]
        (line,) = ax.plot(fpr, tpr, linewidth=1.8, label=f"{name} (AUC = {auc:.3f})")
        if operating_points and name in operating_points:
            m = binary_metrics(y, s, operating_points[name])
            ax.plot(
                1 - m["specificity"],
                m["sensitivity"],
                marker="o",
                markersize=7,
                markeredgecolor="black",
                color=line.get_color(),
                linestyle="none",
            )
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("False positive rate (1 - specificity)")
    ax.set_ylabel("True positive rate (sensitivity)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    return finish(fig, ax, path, owned, dpi)


def plot_confusion_matrix(
    y_true,
    y_pred,
    path: str | os.PathLike | None,
    *,
    title: str = "Confusion matrix",
    labels: tuple[str, str] = ("Normal", "Abnormal"),
    cmap: str = "Blues",
    ax: Axes | None = None,
    dpi: int = DPI,
) -> Path | Axes:
    """A 2 x 2 confusion matrix with counts and row percentages.

    Parameters
    ----------
    y_true, y_pred : array-like of {0, 1}, shape (n,)
        True and predicted labels (``y_pred = y_score >= threshold``).
    path : str or Path or None
        PNG to write; may be None only when ``ax`` is given.
    title : str
    labels : (str, str)
        Names of class 0 and class 1.
    cmap : str
        Colour map; cells are coloured by their row fraction.
    ax : matplotlib Axes, optional
    dpi : int

    Returns
    -------
    Path, or the Axes when ``path`` is None.
    """
    import seaborn as sns

    y = check_labels(y_true, "y_true")
    p = check_labels(y_pred, "y_pred")
    if y.size != p.size:
        raise EvaluationError(f"y_true and y_pred differ in length ({y.size} vs {p.size})")
    if len(labels) != 2:
        raise ValueError(f"labels must name the two classes, got {labels!r}")
    counts = np.bincount(2 * y.astype(np.int64) + p, minlength=4).reshape(2, 2)
    totals = counts.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(totals > 0, counts / np.where(totals > 0, totals, 1), np.nan)
    annot = np.array(
        [
            [
                f"{c}\n({f:.1%})" if np.isfinite(f) else f"{c}"
                for c, f in zip(row_c, row_f, strict=True)
            ]
            for row_c, row_f in zip(counts, frac, strict=True)
        ]
    )
    fig, ax, owned = new_axes(ax, (4.6, 4.0))
    sns.heatmap(
        frac,
        annot=annot,
        fmt="",
        cmap=cmap,
        vmin=0.0,
        vmax=1.0,
        cbar=True,
        cbar_kws={"label": "Fraction of true class"},
        xticklabels=list(labels),
        yticklabels=list(labels),
        square=True,
        linewidths=0.5,
        linecolor="white",
        annot_kws={"fontsize": 11},
        ax=ax,
    )
    ax.set_xlabel("Predicted")
    ax.set_ylabel("True")
    ax.set_title(title)
    ax.tick_params(axis="y", rotation=0)
    return finish(fig, ax, path, owned, dpi)


_NOT_CURVES = {"epoch", "epochs", "lr", "learning_rate", "time", "seconds", "step"}


def plot_training_curves(
    history: Mapping[str, Sequence[float]] | pd.DataFrame,
    path: str | os.PathLike,
    *,
    title: str = "Training curves",
    dpi: int = DPI,
) -> Path:
    """Losses and monitored metrics against the epoch.

    Parameters
    ----------
    history : dict of str to list of float, or DataFrame
        A Keras ``History.history`` dict or a ``CSVLogger`` file read with
        pandas. Columns whose name contains ``loss`` go in the left panel,
        other numeric columns (``val_roc_auc``, ``accuracy``, ...) in the
        right one; ``epoch`` (used as the x axis when present, else 1..n) and
        ``lr`` are not drawn. The best epoch of ``val_roc_auc`` (or ``val_auc``)
        is marked.
    path : str or Path
    title : str
    dpi : int

    Returns
    -------
    Path
    """
    try:
        frame = history.copy() if isinstance(history, pd.DataFrame) else pd.DataFrame(dict(history))
    except ValueError as exc:
        raise ValueError(f"history: every series must have one value per epoch ({exc})") from None
    if frame.empty:
        raise ValueError("history is empty; nothing to plot")
    epochs = (
        pd.to_numeric(frame["epoch"], errors="coerce").to_numpy()
        if "epoch" in frame.columns
        else np.arange(1, len(frame) + 1)
    )
    numeric = [
        c
        for c in frame.columns
        if str(c).lower() not in _NOT_CURVES and pd.api.types.is_numeric_dtype(frame[c])
    ]
    losses = [c for c in numeric if "loss" in str(c).lower()]
    scores = [c for c in numeric if c not in losses]
    if not numeric:
        raise ValueError(f"history has no numeric series to plot; columns: {list(frame.columns)}")

    panels = [(cols, label) for cols, label in ((losses, "Loss"), (scores, "Metric")) if cols]
    fig = Figure(figsize=(5.0 * len(panels), 3.8), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (cols, label) in zip(axes, panels, strict=True):
        for col in cols:
            style = "--" if not str(col).startswith("val_") else "-"
            ax.plot(epochs, frame[col].to_numpy(dtype=float), style, marker=".", label=str(col))
        best = next((c for c in ("val_roc_auc", "val_auc") if c in cols), None)
        if best is not None and frame[best].notna().any():
            i = int(np.nanargmax(frame[best].to_numpy(dtype=float)))
            ax.plot(epochs[i], frame[best].iloc[i], "k*", markersize=12, label=f"best {best}")
        _epoch_axis(ax)
        ax.set_ylabel(label)
        ax.legend(fontsize="small")
    return _save_titled(fig, title, path, dpi)


def _epoch_axis(ax: Axes) -> None:
    """Integer epochs on the x axis, and a light grid."""
    ax.set_xlabel("Epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)


def _save_titled(fig: Figure, title: str, path, dpi: int) -> Path:
    """Title ``fig``, write it atomically, and free it."""
    fig.suptitle(title)
    out = save_figure(fig, path, dpi=dpi)
    fig.clear()
    return out


def plot_selection_curves(
    curves: Mapping[tuple[str, int], tuple[Sequence[float], Sequence[float]]],
    path: str | os.PathLike,
    *,
    title: str = "Validation carve-out vs test ROC-AUC per epoch (test: diagnostic only)",
    dpi: int = DPI,
) -> Path:
    """Validation and test ROC-AUC against the epoch, one panel per model and seed.

    Parameters
    ----------
    curves : dict
        ``{(model, seed): (val_roc_auc, test_roc_auc)}``, one value per epoch.
        The epoch the validation curve chose is marked on both curves (a
        circle on the test curve), and the best test epoch with a cross: the
        gap between the two is what choosing the epoch on the test list gains.
    path : str or Path
    title : str
    dpi : int

    Returns
    -------
    Path
    """
    if not curves:
        raise ValueError("no curves to plot")
    models = list(dict.fromkeys(model for model, _ in curves))
    seeds = sorted({seed for _, seed in curves})
    fig = Figure(figsize=(3.6 * len(seeds), 2.8 * len(models)), layout="constrained")
    axes = fig.subplots(len(models), len(seeds), squeeze=False, sharey=True)
    for (model, seed), (val, test) in curves.items():
        ax = axes[models.index(model)][seeds.index(seed)]
        epochs = np.arange(1, len(val) + 1)
        chosen, best = int(np.argmax(val)), int(np.argmax(test))
        ax.plot(epochs, val, "-", label="validation carve-out")
        ax.plot(epochs, test, "--", label="test (diagnostic)")
        ax.plot(epochs[chosen], val[chosen], "k*", markersize=10, label="chosen epoch")
        ax.plot(epochs[chosen], test[chosen], "ko", fillstyle="none")
        ax.plot(epochs[best], test[best], "rx", markersize=8, label="best test epoch")
        ax.set_title(f"{model}, seed {seed}", fontsize="small")
        _epoch_axis(ax)
    for row in axes:
        row[0].set_ylabel("ROC-AUC")
    axes[0][0].legend(fontsize="x-small", loc="lower right")
    return _save_titled(fig, title, path, dpi)
