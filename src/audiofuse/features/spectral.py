"""librosa's STFT, Slaney mel filterbank and ``power_to_db``, in plain NumPy.

Why not call librosa: importing ``librosa.core.spectrum`` and
``librosa.filters`` pulls in scipy.signal and numba, which takes seconds on a
cold machine, longer than ``audiofuse predict`` needs for a whole
recording. These functions reproduce librosa 0.11's defaults (centred,
zero-padded, periodic Hann STFT; Slaney-style mel scale and area
normalisation; ``top_db=80``), and ``tests/test_spectral.py`` pins them to
librosa's output.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["stft_power", "mel_filterbank", "power_to_db"]

# Slaney's mel scale: linear below 1 kHz, logarithmic above.
_F_SP = 200.0 / 3
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    hz = np.asarray(hz, dtype=np.float64)
    mel = hz / _F_SP
    log_region = hz >= _MIN_LOG_HZ
    mel[log_region] = _MIN_LOG_MEL + np.log(hz[log_region] / _MIN_LOG_HZ) / _LOGSTEP
    return mel


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    hz = _F_SP * mel
    log_region = mel >= _MIN_LOG_MEL
    hz[log_region] = _MIN_LOG_HZ * np.exp(_LOGSTEP * (mel[log_region] - _MIN_LOG_MEL))
    return hz


@lru_cache(maxsize=16)
def mel_filterbank(
    sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float | None
) -> np.ndarray:
    """``librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax)`` (Slaney, area-normalised).

    Returns
    -------
    np.ndarray, shape (n_mels, 1 + n_fft // 2), float32
        Read-only (it is cached and shared).
    """
    fmax = sample_rate / 2.0 if fmax is None else float(fmax)
    fft_freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    low, high = _hz_to_mel(np.array([fmin, fmax]))
    edges = _mel_to_hz(np.linspace(low, high, n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    weights = weights.astype(np.float32)
    weights.setflags(write=False)
    return weights


def stft_power(clip: np.ndarray, n_fft: int, hop_length: int) -> np.ndarray:
    """``np.abs(librosa.stft(clip, n_fft=n_fft, hop_length=hop_length)) ** 2``.

    Centred frames (``n_fft // 2`` zeros on each side), periodic Hann window.

    Returns
    -------
    np.ndarray, shape (1 + n_fft // 2, frames), float32
    """
    clip = np.asarray(clip, dtype=np.float32)
    padded = np.pad(clip, n_fft // 2)
    n_frames = 1 + (len(padded) - n_fft) // hop_length
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop_length][:n_frames]
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)
    # librosa: float64 window times float32 frames, stored as complex64
    spectrum = np.fft.rfft(frames * window, axis=-1).astype(np.complex64)
    return (np.abs(spectrum) ** 2).T


def power_to_db(power: np.ndarray, amin: float = 1e-10, top_db: float = 80.0) -> np.ndarray:
    """``librosa.power_to_db(power, ref=np.max, amin=amin, top_db=top_db)``."""
    power = np.asarray(power)
    # librosa's own arithmetic, step for step, so dtypes (float32 in, float32 out) agree
    log_spec = 10.0 * np.log10(np.maximum(amin, power))
    log_spec -= 10.0 * np.log10(np.maximum(amin, np.max(power)))
    return np.maximum(log_spec, log_spec.max() - top_db)
