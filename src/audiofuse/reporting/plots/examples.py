"""A recording as the models see it: its waveform above its log-Mel image."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from audiofuse.reporting.plots.canvas import DPI, save_figure

__all__ = ["plot_example"]


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
