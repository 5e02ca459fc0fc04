"""Figures without pyplot, and their atomic PNG files: what every plot here shares."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = ["DPI", "save_figure", "new_axes", "finish"]

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


def new_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes, bool]:
    """``(figure, axes, owned)``: the given axes, or a new figure of ``figsize`` that we own."""
    if ax is not None:
        return ax.figure, ax, False
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot(), True


def finish(fig: Figure, ax: Axes, path, owned: bool, dpi: int):
    """Save ``fig`` to ``path`` and return the path; without a path, return ``ax``."""
    if path is None:
        if owned:
            raise ValueError("path is required unless you pass ax=")
        return ax
    out = save_figure(fig, path, dpi=dpi)
    if owned:
        fig.clear()  # release artists now; the figure is not registered with pyplot
    return out
