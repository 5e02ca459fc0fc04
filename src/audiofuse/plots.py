"""Figures for the report and the notebooks, saved as PNG files.

Every function takes arrays or data frames and an output ``path``, draws one
figure, writes it atomically (to a temporary file in the same folder, then
:func:`os.replace`, so a reader never sees half a PNG), and returns the
:class:`~pathlib.Path` written.

The figures are built with :class:`matplotlib.figure.Figure` directly and
rendered by the Agg backend; they are never registered with :mod:`pyplot`, so
nothing needs a display, no pyplot state is touched, and no figure stays open.

Functions that draw on a single set of axes also accept ``ax=``: they then draw
onto that axes (for example inside a notebook figure), save the whole figure
only when ``path`` is given, and return the axes when it is not.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from audiofuse.evaluation import (
    METRIC_LABELS,
    EvaluationError,
    _check_labels,
    _check_pair,
    binary_metrics,
)

__all__ = [
    "save_figure",
    "plot_roc_curves",
    "plot_confusion_matrix",
    "plot_training_curves",
    "plot_metric_bars",
    "plot_example",
]

DPI = 150


def save_figure(fig: Figure, path: str | os.PathLike, *, dpi: int = DPI) -> Path:
    """Write ``fig`` to ``path`` as PNG, atomically; create missing folders.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : str or Path
        Destination; the ``.png`` format is used whatever the suffix.
    dpi : int

    Returns
    -------
    path : Path
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            fig.savefig(handle, format="png", dpi=dpi, bbox_inches="tight")
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _new_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes, bool]:
    if ax is not None:
        return ax.figure, ax, False
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot(), True


def _finish(fig: Figure, ax: Axes, path, owned: bool, dpi: int):
    if path is None:
        if owned:
            raise ValueError("path is required unless you pass ax=")
        return ax
    out = save_figure(fig, path, dpi=dpi)
    if owned:
        fig.clear()  # release artists now; the figure is not registered with pyplot
    return out


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
    fig, ax, owned = _new_axes(ax, (5.5, 5.0))
    ax.plot([0, 1], [0, 1], linestyle="--", color="0.6", linewidth=1, label="Chance")
    for name, pair in curves.items():
        try:
            y_true, y_score = pair
            y, s = _check_pair(y_true, y_score, need_both=True)
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
    return _finish(fig, ax, path, owned, dpi)


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

    y = _check_labels(y_true, "y_true")
    p = _check_labels(y_pred, "y_pred")
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
    fig, ax, owned = _new_axes(ax, (4.6, 4.0))
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
    return _finish(fig, ax, path, owned, dpi)


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
        ax.set_xlabel("Epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    fig.suptitle(title)
    out = save_figure(fig, path, dpi=dpi)
    fig.clear()
    return out


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
    if f"{metric}_mean" in table.columns:
        means = table[f"{metric}_mean"].to_numpy(dtype=float)
        sds = (
            table[f"{metric}_sd"].to_numpy(dtype=float)
            if f"{metric}_sd" in table.columns
            else np.full(len(table), np.nan)
        )
    elif metric in table.columns:
        means = table[metric].to_numpy(dtype=float)
        sds = np.full(len(table), np.nan)
    else:
        raise ValueError(
            f"table has neither {metric}_mean nor {metric}; columns: {list(table.columns)}"
        )
    cols = [label_col] if isinstance(label_col, str) else list(label_col)
    missing = [c for c in cols if c not in table.columns]
    if missing:
        raise ValueError(f"label column(s) {missing} not found; columns: {list(table.columns)}")
    names = [" / ".join(str(v) for v in row) for row in table[cols].itertuples(index=False)]

    fig, ax, owned = _new_axes(ax, (max(4.0, 1.1 * len(names) + 2.0), 4.0))
    x = np.arange(len(names))
    err = np.where(np.isfinite(sds), sds, 0.0)
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
    paper_col = f"paper_{metric}"
    if paper_col in table.columns:
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
    return _finish(fig, ax, path, owned, dpi)


def plot_example(
    waveform,
    spectrogram,
    sample_rate: int,
    path: str | os.PathLike,
    title: str | None = None,
    *,
    dpi: int = DPI,
) -> Path:
    """A waveform above its log-Mel spectrogram image.

    Parameters
    ----------
    waveform : array-like, shape (n,)
        Samples at ``sample_rate`` (a trailing channel axis of 1 is fine).
    spectrogram : array-like, shape (n_mels, n_frames)
        The model's spectrogram input in dB, low frequencies in row 0 (a
        trailing channel axis of 1 is fine). It is stretched over the
        waveform's duration, so resized images are drawn correctly too.
    sample_rate : int
    path : str or Path
    title : str, optional
    dpi : int

    Returns
    -------
    Path
    """
    wave = np.asarray(waveform, dtype=float).squeeze()
    spec = np.asarray(spectrogram, dtype=float)
    if spec.ndim == 3 and spec.shape[-1] == 1:
        spec = spec[..., 0]
    if wave.ndim != 1 or wave.size == 0:
        raise ValueError(f"waveform must be a non-empty 1-D array, got shape {np.shape(waveform)}")
    if spec.ndim != 2 or spec.size == 0:
        raise ValueError(f"spectrogram must be a 2-D array, got shape {np.shape(spectrogram)}")
    if not sample_rate or sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate!r}")
    duration = wave.size / float(sample_rate)

    fig = Figure(figsize=(8.0, 5.5), layout="constrained")
    ax_wave, ax_spec = fig.subplots(2, 1, sharex=True, height_ratios=(1, 2))
    ax_wave.plot(np.arange(wave.size) / sample_rate, wave, linewidth=0.6, color="C0")
    ax_wave.set_ylabel("Amplitude")
    ax_wave.set_xlim(0, duration)
    ax_wave.grid(alpha=0.3)
    image = ax_spec.imshow(
        spec,
        origin="lower",
        aspect="auto",
        extent=(0.0, duration, 0, spec.shape[0]),
        cmap="magma",
        interpolation="nearest",
    )
    fig.colorbar(image, ax=ax_spec, label="dB")
    ax_spec.set_xlabel("Time (s)")
    ax_spec.set_ylabel("Mel bin")
    if title:
        fig.suptitle(title)
    out = save_figure(fig, path, dpi=dpi)
    fig.clear()
    return out
