"""A picture of one prediction: waveform, spectrogram, P(abnormal) over time.

``audiofuse predict --plot DIR`` (and ``audiofuse app``) write one PNG per
recording with this. It is drawn for a reader who is not an ML engineer: the
spectrogram's axis is in Hz with a colour bar in dB, the amplitude is in units
of the file's full scale, the threshold's value is written on its line, each
window's point sits at the centre of the part of it the recording fills, and
the title says the verdict, the footer the model and that it is a research
model.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["plot_prediction", "RESEARCH_LINE"]

RESEARCH_LINE = "Research model, not a medical device: not for diagnosis."
MAX_SPECTROGRAM_FRAMES = 4000
"""Spectrogram columns drawn at most (the hop grows for long recordings)."""
MAX_WAVEFORM_POINTS = 200_000
"""Waveform points drawn at most; longer recordings are drawn as a min/max envelope."""
MAX_SHOWN_HZ = 2000.0
"""Highest frequency drawn: heart sounds and murmurs lie below about 1 kHz."""
COLOURS = {"normal": "#1a7f37", "abnormal": "#c62828", "unsure": "#8a6d00"}


def _spectrogram_db(samples: np.ndarray, sample_rate: int) -> tuple[np.ndarray, int]:
    """Power spectrogram in dB re. its maximum (80 dB range), and the hop used."""
    from audiofuse.features.spectral import power_to_db, stft_power

    n_fft = 256 if sample_rate <= 4000 else 1024
    hop = max(n_fft // 8, int(np.ceil(len(samples) / MAX_SPECTROGRAM_FRAMES)))
    return power_to_db(stft_power(samples, n_fft, hop)), hop


def _draw_waveform(ax, samples: np.ndarray, sample_rate: int) -> None:
    if len(samples) <= MAX_WAVEFORM_POINTS:
        ax.plot(np.arange(len(samples)) / sample_rate, samples, lw=0.5, color="k")
        return
    # one vertical min-max stroke per bucket: the look of every sample, a fraction of the points
    bucket = int(np.ceil(len(samples) / (MAX_WAVEFORM_POINTS // 2)))
    n = len(samples) // bucket
    blocks = samples[: n * bucket].reshape(n, bucket)
    t = (np.arange(n) + 0.5) * bucket / sample_rate
    ax.fill_between(t, blocks.min(axis=1), blocks.max(axis=1), color="k", lw=0.3)


def plot_prediction(
    samples: np.ndarray,
    sample_rate: int,
    result: dict,
    out: str | os.PathLike,
    *,
    model: str = "",
) -> Path:
    """Write the figure of one :meth:`Predictor.predict_file` result to ``out`` (PNG).

    Parameters
    ----------
    samples : np.ndarray
        The recording at ``sample_rate`` (the model's rate).
    sample_rate : int
    result : dict
        Needs ``window_p_abnormal``, ``window_start_s``, ``window_seconds``,
        ``threshold``, ``p_abnormal``, ``label`` and ``file``; uses
        ``window_centre_s``, ``reason`` and ``model`` when present.
    out : path
        The PNG to write (written atomically).
    model : str, optional
        How the footer names the model (default: ``result["model"]``).

    Returns
    -------
    Path
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = np.asarray(samples, dtype=np.float32)
    duration = len(samples) / sample_rate
    label = result["label"]
    threshold = float(result["threshold"])
    scores = np.asarray(result["window_p_abnormal"], dtype=float)
    starts = np.asarray(result["window_start_s"], dtype=float)
    ends = np.minimum(starts + float(result["window_seconds"]), duration)
    centres = np.asarray(result.get("window_centre_s") or (starts + ends) / 2, dtype=float)

    fig = plt.figure(figsize=(10, 7.6))
    grid = fig.add_gridspec(
        3, 2, width_ratios=[60, 1], height_ratios=[1, 1.3, 1], hspace=0.12, wspace=0.02,
        left=0.08, right=0.91, top=0.93, bottom=0.2,
    )
    wave_ax = fig.add_subplot(grid[0, 0])
    spec_ax = fig.add_subplot(grid[1, 0], sharex=wave_ax)
    bar_ax = fig.add_subplot(grid[1, 1])
    prob_ax = fig.add_subplot(grid[2, 0], sharex=wave_ax)

    _draw_waveform(wave_ax, samples, sample_rate)
    wave_ax.set_ylabel("amplitude\n(full scale = 1)")
    wave_ax.tick_params(labelbottom=False)

    spec, _ = _spectrogram_db(samples, sample_rate)
    top_hz = min(sample_rate / 2, MAX_SHOWN_HZ)
    bin_hz = (sample_rate / 2) / (spec.shape[0] - 1)
    rows = int(round(top_hz / bin_hz)) + 1
    image = spec_ax.imshow(
        spec[:rows], origin="lower", aspect="auto", cmap="magma", interpolation="nearest",
        extent=(0, duration, 0, (rows - 1) * bin_hz),
    )
    spec_ax.set_ylabel("frequency (Hz)")
    spec_ax.tick_params(labelbottom=False)
    fig.colorbar(image, cax=bar_ax).set_label("power (dB re. max)")

    # each window's span as a faint bar, its score at the span's centre
    prob_ax.hlines(scores, starts, ends, color="tab:blue", alpha=0.25, lw=3)
    prob_ax.plot(centres, scores, "o-", color="tab:blue", ms=4,
                 label="P(abnormal) of each 5 s window (at its centre; bar: its span)")
    prob_ax.axhline(threshold, color="tab:red", ls="--", lw=1.2,
                    label=f"decision threshold {threshold:.3f}")
    prob_ax.text(
        duration, threshold, f"threshold {threshold:.3f} ", color="tab:red", fontsize=8,
        ha="right", va="bottom",
    )
    prob_ax.axhline(result["p_abnormal"], color="0.35", ls=":", lw=1.2,
                    label=f"recording P(abnormal) {result['p_abnormal']:.3f} (window mean)"
                    + (" - not a verdict" if label == "unsure" else ""))
    prob_ax.set_ylim(-0.02, 1.02)
    prob_ax.set_ylabel("P(abnormal)")
    prob_ax.set_xlabel("time (s)")
    prob_ax.set_xlim(0, duration)
    prob_ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.32), ncol=2, fontsize=8,
                   frameon=False)

    name = Path(result["file"]).name
    if label == "unsure":
        title = f"{name}: UNSURE, no verdict ({result.get('reason') or result.get('quality')})"
    else:
        title = (f"{name}: {label.upper()}  (P(abnormal) {result['p_abnormal']:.3f}, "
                 f"threshold {threshold:.3f})")
    fig.suptitle(title, y=0.985, fontsize=11, color=COLOURS.get(label, "k"), fontweight="bold", wrap=True)
    footer = (
        f"model {model or result.get('model', '')}; {len(scores)} window"
        f"{'s' if len(scores) != 1 else ''} of {result['window_seconds']:g} s over "
        f"{duration:.1f} s.  {RESEARCH_LINE}"
    )
    fig.text(0.5, 0.015, footer, ha="center", fontsize=8, color="0.25", wrap=True)

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, out)
    return out
