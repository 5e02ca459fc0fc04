"""A picture of one prediction: waveform, log-Mel spectrogram, P(abnormal) over time.

``audiofuse predict --plot DIR`` writes one PNG per recording with this.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["plot_prediction"]


def _log_mel(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    import librosa

    mel = librosa.feature.melspectrogram(
        y=samples, sr=sample_rate, n_fft=256, hop_length=64, n_mels=64, fmax=sample_rate / 2
    )
    return librosa.power_to_db(mel, ref=np.max)


def plot_prediction(
    samples: np.ndarray, sample_rate: int, result: dict, out: str | os.PathLike
) -> Path:
    """Write the figure of one :meth:`Predictor.predict_file` result to ``out`` (PNG).

    Parameters
    ----------
    samples : np.ndarray
        The recording at ``sample_rate`` (the model's rate).
    sample_rate : int
    result : dict
        Needs ``window_p_abnormal``, ``window_start_s``, ``window_seconds``,
        ``threshold``, ``p_abnormal``, ``label`` and ``file``.
    out : path
        The PNG to write (written atomically).

    Returns
    -------
    Path
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seconds = np.arange(len(samples)) / sample_rate
    fig, axes = plt.subplots(3, 1, figsize=(10, 7), sharex=True)
    axes[0].plot(seconds, samples, lw=0.4, color="k")
    axes[0].set_ylabel("waveform")
    mel = _log_mel(np.asarray(samples, dtype=np.float32), sample_rate)
    axes[1].imshow(
        mel, origin="lower", aspect="auto", cmap="magma",
        extent=(0, len(samples) / sample_rate, 0, mel.shape[0]),
    )
    axes[1].set_ylabel("log-Mel band")
    starts = np.asarray(result["window_start_s"], dtype=float)
    centres = starts + result["window_seconds"] / 2
    axes[2].plot(centres, result["window_p_abnormal"], "o-", label="window P(abnormal)")
    axes[2].axhline(result["threshold"], color="r", ls="--", label="threshold")
    axes[2].set_ylim(0, 1)
    axes[2].set_ylabel("P(abnormal)")
    axes[2].set_xlabel("time (s)")
    axes[2].legend(loc="upper right", fontsize=8)
    quality = result.get("quality", "ok")
    title = f"{Path(result['file']).name}: P(abnormal) {result['p_abnormal']:.3f}, {result['label']}"
    fig.suptitle(title if quality == "ok" else f"{title} ({quality})", fontsize=10)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, out)
    return out
