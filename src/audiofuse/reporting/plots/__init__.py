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

The package: :mod:`.canvas` (figures and atomic PNG files), :mod:`.results`
(ROC, confusion, training curves) and :mod:`.examples` (a recording's
waveform and spectrogram).
"""

from __future__ import annotations

from audiofuse.reporting.plots.canvas import DPI, save_figure
from audiofuse.reporting.plots.examples import plot_example
from audiofuse.reporting.plots.results import (
    plot_confusion_matrix,
    plot_roc_curves,
    plot_selection_curves,
    plot_training_curves,
)

__all__ = [
    "DPI",
    "save_figure",
    "plot_roc_curves",
    "plot_confusion_matrix",
    "plot_training_curves",
    "plot_selection_curves",
    "plot_example",
]
