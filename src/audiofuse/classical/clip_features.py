"""Hand-crafted features of one PCG clip, one small function per feature group.

Each group function returns ``(names, values)``, two lists of the same
length, in the spirit of librosa's one-function-per-feature API; the names
live next to the code that computes their values, so the two cannot drift
apart. :func:`clip_features` runs every group in a fixed order and
:func:`clip_feature_vector` returns just the values, in the order of
:data:`FEATURE_NAMES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = [
    "ANALYSIS_RATE",
    "FEATURE_VERSION",
    "feature_names",
    "ClipSpectrum",
    "clip_features",
    "clip_feature_vector",
    "level_and_shape",
    "mel_band_stats",
    "mfcc_stats",
    "spectral_shape",
    "zero_crossings",
    "frame_levels",
    "band_energies",
    "onset_envelope",
    "hilbert_envelope",
    "rhythm",
    "beat_intervals",
]

ANALYSIS_RATE = 2000
FEATURE_VERSION = 1

# analysis settings, in seconds / Hz so that they scale with the sample rate
_N_MELS = 32
_N_MFCC = 20
_FMIN, _FMAX = 20.0, 1000.0
_FRAME_SECONDS = 0.128  # 256 samples at 2 kHz
_HOP_SECONDS = 0.010
_ONSET_FRAME_SECONDS = 0.064
_ONSET_HOP_SECONDS = 0.005
_ENV_HOP_SECONDS = 0.010
_ENV_BAND = (25.0, 400.0)
_ENV_SMOOTH_HZ = 15.0
_LAG_RANGE = (0.3, 2.0)  # heart rates of 30-200 bpm
_SYSTOLE_MIN = 0.2
_BANDS = ((0.0, 25.0), (25.0, 150.0), (150.0, 400.0), (400.0, 1000.0))
_EPS = 1e-10

Features = tuple[list[str], list[float]]


def _n_fft(sample_rate: int, seconds: float) -> int:
    return int(2 ** max(4, round(np.log2(seconds * sample_rate))))


@lru_cache(maxsize=8)
def _mel_basis(sr: int, n_fft: int) -> np.ndarray:
    import librosa

    fmax = min(_FMAX, sr / 2)
    return librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=_N_MELS, fmin=_FMIN, fmax=fmax)


@lru_cache(maxsize=8)
def _filters(sr: int) -> tuple[np.ndarray, np.ndarray]:
    """(band-pass 25-400 Hz, envelope low-pass) second-order sections."""
    from scipy.signal import butter

    band_hi = min(_ENV_BAND[1], 0.45 * sr)
    band = butter(4, [_ENV_BAND[0], band_hi], btype="bandpass", fs=sr, output="sos")
    smooth = butter(2, _ENV_SMOOTH_HZ, btype="lowpass", fs=sr, output="sos")
    return band, smooth


def _power(z: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    import librosa

    return np.abs(librosa.stft(z, n_fft=n_fft, hop_length=hop)) ** 2


def _stats(values: np.ndarray, stats=("mean", "std")) -> list[float]:
    out = []
    for s in stats:
        if values.size == 0:
            out.append(0.0)
        elif s == "mean":
            out.append(float(np.mean(values)))
        elif s == "std":
            out.append(float(np.std(values)))
    return out


# ---------------------------------------------------------------------------
# the clip and its spectrum


@dataclass(frozen=True)
class ClipSpectrum:
    """A clip prepared for the feature groups: level-normalised, with its STFT.

    Attributes
    ----------
    rms : float
        RMS of the (padded, mean-removed) clip.
    z : np.ndarray
        The clip divided by ``rms`` (zeros for a silent clip).
    silent : bool
    sample_rate : int
    seconds : float
        Length after padding to the shortest analysable clip.
    n_fft, hop : int
        STFT frame and hop (128 ms and 10 ms).
    power : np.ndarray, (n_fft // 2 + 1, frames)
        Power spectrogram of ``z``.
    freqs : np.ndarray
        Frequency of each row of ``power``.
    log_mel : np.ndarray, (32, frames)
        Log-Mel (dB) below 1 kHz.
    """

    rms: float
    z: np.ndarray
    silent: bool
    sample_rate: int
    seconds: float
    n_fft: int
    hop: int
    power: np.ndarray
    freqs: np.ndarray
    log_mel: np.ndarray

    @classmethod
    def of(cls, clip: np.ndarray, sample_rate: int) -> ClipSpectrum:
        """Clean (non-finite -> 0), pad, centre and normalise ``clip``; take its STFT."""
        import librosa

        sr = int(sample_rate)
        x = np.asarray(clip, dtype=np.float64).ravel()
        x = np.where(np.isfinite(x), x, 0.0)
        min_len = max(_n_fft(sr, _FRAME_SECONDS), int(0.5 * sr))
        if x.size < min_len:
            x = np.pad(x, (0, min_len - x.size))
        seconds = x.size / sr
        x = x - x.mean()
        rms = float(np.sqrt(np.mean(x**2)))
        silent = rms < 1e-8
        z = np.zeros_like(x) if silent else x / rms
        n_fft = _n_fft(sr, _FRAME_SECONDS)
        hop = max(1, int(round(_HOP_SECONDS * sr)))
        power = _power(z, n_fft, hop)
        freqs = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
        log_mel = 10.0 * np.log10(_mel_basis(sr, n_fft) @ power + _EPS)
        return cls(rms, z, silent, sr, seconds, n_fft, hop, power, freqs, log_mel)


# ---------------------------------------------------------------------------
# level, spectrum and cepstrum


def level_and_shape(spec: ClipSpectrum) -> Features:
    """Log RMS, crest factor, skewness and excess kurtosis of the waveform."""
    z, silent = spec.z, spec.silent
    names = ["log_rms", "crest_factor", "skewness", "kurtosis"]
    values = [
        float(np.log10(spec.rms + 1e-8)),
        0.0 if silent else float(np.max(np.abs(z))),
        float(np.mean(z**3)),  # skewness (z has mean 0, std 1)
        float(np.mean(z**4) - 3.0) if not silent else 0.0,  # excess kurtosis
    ]
    return names, values


def mel_band_stats(spec: ClipSpectrum) -> Features:
    """Per-band mean, standard deviation, 10th and 90th percentile of the log-Mel."""
    log_mel = spec.log_mel
    p10, p90 = np.percentile(log_mel, [10, 90], axis=1)
    per_stat = {"mean": log_mel.mean(axis=1), "std": log_mel.std(axis=1), "p10": p10, "p90": p90}
    names, values = [], []
    for stat, per_band in per_stat.items():
        names += [f"mel{b:02d}_{stat}" for b in range(len(per_band))]
        values += per_band.tolist()
    return names, values


def mfcc_stats(spec: ClipSpectrum) -> Features:
    """Mean and standard deviation of 20 MFCCs, and the standard deviation of their deltas."""
    import librosa

    mfcc = librosa.feature.mfcc(S=spec.log_mel, n_mfcc=_N_MFCC)
    width = min(9, mfcc.shape[1] - (1 - mfcc.shape[1] % 2))
    delta = librosa.feature.delta(mfcc, width=width) if width >= 3 else np.zeros_like(mfcc)
    names, values = [], []
    for name, per_coef in (
        ("mfcc{:02d}_mean", mfcc.mean(axis=1)),
        ("mfcc{:02d}_std", mfcc.std(axis=1)),
        ("dmfcc{:02d}_std", delta.std(axis=1)),
    ):
        names += [name.format(i) for i in range(len(per_coef))]
        values += per_coef.tolist()
    return names, values


def spectral_shape(spec: ClipSpectrum) -> Features:
    """Centroid, bandwidth, 85 % roll-off and flatness below 1 kHz (mean, std over frames)."""
    keep = spec.freqs <= min(_FMAX, spec.sample_rate / 2)
    p = spec.power[keep]
    f = spec.freqs[keep][:, None]
    frame_energy = p.sum(axis=0)
    active = frame_energy > _EPS
    if active.any():
        pa = p[:, active]
        ea = frame_energy[active]
        centroid = (f * pa).sum(axis=0) / ea
        bandwidth = np.sqrt(((f - centroid) ** 2 * pa).sum(axis=0) / ea)
        cumulative = np.cumsum(pa, axis=0) / ea
        rolloff = spec.freqs[keep][np.argmax(cumulative >= 0.85, axis=0)]
        flatness = np.exp(np.mean(np.log(pa + _EPS), axis=0)) / (np.mean(pa, axis=0) + _EPS)
    else:
        centroid = bandwidth = rolloff = flatness = np.zeros(0)
    names, values = [], []
    per_frame_values = {
        "centroid": centroid,
        "bandwidth": bandwidth,
        "rolloff": rolloff,
        "flatness": flatness,
    }
    for what, per_frame in per_frame_values.items():
        names += [f"{what}_mean", f"{what}_std"]
        values += _stats(per_frame)
    return names, values


def zero_crossings(spec: ClipSpectrum) -> Features:
    """Zero-crossing rate over the STFT frames (mean, std)."""
    import librosa

    zcr = librosa.feature.zero_crossing_rate(spec.z, frame_length=spec.n_fft, hop_length=spec.hop)
    return ["zcr_mean", "zcr_std"], _stats(zcr[0])


def frame_levels(spec: ClipSpectrum) -> Features:
    """Frame level in dB: mean, std, 10th / 50th / 90th percentile and the 10-90 range."""
    frame_db = 10.0 * np.log10(spec.power.sum(axis=0) / spec.n_fft + _EPS)
    q = np.percentile(frame_db, [10, 50, 90])
    names = [f"frame_db_{s}" for s in ("mean", "std", "p10", "p50", "p90", "range")]
    values = [float(frame_db.mean()), float(frame_db.std()), *map(float, q), float(q[2] - q[0])]
    return names, values


def band_energies(spec: ClipSpectrum) -> Features:
    """Energy fractions of the frame-averaged power spectrum per band; its peak and median."""
    psd_f, psd = spec.freqs, spec.power.mean(axis=1)
    total = psd.sum()
    names = [f"band_{int(lo)}_{int(hi)}_frac" for lo, hi in _BANDS]
    values = []
    for lo, hi in _BANDS:
        band = (psd_f >= lo) & (psd_f < hi) if hi < _FMAX else (psd_f >= lo) & (psd_f <= hi)
        values.append(float(psd[band].sum() / total) if total > 0 else 0.0)
    names += ["psd_peak_hz", "psd_median_hz"]
    if total > 0:
        values.append(float(psd_f[np.argmax(psd)]))
        values.append(float(psd_f[np.searchsorted(np.cumsum(psd) / total, 0.5)]))
    else:
        values += [0.0, 0.0]
    return names, values


# ---------------------------------------------------------------------------
# rhythm


def onset_envelope(spec: ClipSpectrum) -> tuple[np.ndarray, float]:
    """Spectral-flux onset strength (5 ms hop) and its frame rate."""
    import librosa

    sr = spec.sample_rate
    o_fft = _n_fft(sr, _ONSET_FRAME_SECONDS)
    o_hop = max(1, int(round(_ONSET_HOP_SECONDS * sr)))
    o_mel = _mel_basis(sr, o_fft) @ _power(spec.z, o_fft, o_hop)
    onset = librosa.onset.onset_strength(S=10.0 * np.log10(o_mel + _EPS), sr=sr, hop_length=o_hop)
    return onset, sr / o_hop


def hilbert_envelope(spec: ClipSpectrum) -> tuple[np.ndarray, float]:
    """Smoothed Hilbert envelope of the 25-400 Hz band (10 ms frames) and its frame rate."""
    from scipy.signal import hilbert, sosfiltfilt

    sr = spec.sample_rate
    band, smooth = _filters(sr)
    banded = sosfiltfilt(band, spec.z) if not spec.silent else spec.z
    envelope = sosfiltfilt(smooth, np.abs(hilbert(banded)))
    e_hop = max(1, int(round(_ENV_HOP_SECONDS * sr)))
    n_env = envelope.size // e_hop
    return envelope[: n_env * e_hop].reshape(n_env, e_hop).mean(axis=1), sr / e_hop


def _autocorrelation(envelope: np.ndarray, size: int) -> np.ndarray:
    """Autocorrelation of the centred envelope, normalised to 1 at lag 0, ``size`` lags."""
    import librosa

    e = np.asarray(envelope, dtype=np.float64)
    e = e - e.mean()
    acf = np.zeros(size)
    if e.size > 1 and np.any(e):
        raw = librosa.autocorrelate(e, max_size=min(size, e.size))
        if raw[0] > 0:
            acf[: raw.size] = raw / raw[0]
    return acf


def _main_peak(seg: np.ndarray) -> tuple[np.ndarray, int, float, float]:
    """(peaks, index of the highest, its height, second-highest / highest) in ``seg``."""
    from scipy.signal import find_peaks

    peaks, _ = find_peaks(seg)
    if not peaks.size:
        best = int(np.argmax(seg))
        return peaks, best, float(seg[best]), 0.0
    heights = seg[peaks]
    order = np.argsort(heights)[::-1]
    peak = float(heights[order[0]])
    second = float(heights[order[1]]) if peaks.size > 1 else 0.0
    return peaks, int(peaks[order[0]]), peak, second / peak if peak > 1e-6 else 0.0


def _entropy(seg: np.ndarray) -> float:
    """Normalised entropy of the positive part of ``seg`` (1 when none is positive)."""
    positive = np.clip(seg, 0.0, None)
    total = positive.sum()
    if total <= 0:
        return 1.0
    p = positive[positive > 0] / total
    return float(-(p * np.log(p)).sum() / np.log(seg.size))


def rhythm(envelope: np.ndarray, frame_rate: float, prefix: str) -> Features:
    """Rhythm from the autocorrelation of an envelope over lags of 0.3-2 s (10 values).

    The main peak's lag (and the heart rate it implies), its height, the ratio
    of the second-highest peak, the value at twice the lag, the peak-to-valley
    contrast, the number of peaks, the normalised entropy, and the largest
    value between 0.2 s and half the cycle (the systolic interval).
    """
    lo = max(1, int(round(_LAG_RANGE[0] * frame_rate)))
    hi = int(round(_LAG_RANGE[1] * frame_rate))
    size = 2 * hi + 3
    acf = _autocorrelation(envelope, size)
    seg = acf[lo : hi + 1]
    peaks, best, peak, second_ratio = _main_peak(seg)
    lag = lo + best
    lag_s = lag / frame_rate
    double_lo, double_hi = max(0, 2 * lag - 2), min(size, 2 * lag + 3)
    double = float(acf[double_lo:double_hi].max()) if double_hi > double_lo else 0.0
    # systolic interval: the largest value between 0.2 s and half the cycle
    s_lo = max(1, int(round(_SYSTOLE_MIN * frame_rate)))
    s_hi = max(s_lo + 1, lag // 2 + 1)
    sys_seg = acf[s_lo:s_hi]
    sys_idx = int(np.argmax(sys_seg)) if sys_seg.size else 0
    sys_peak = float(sys_seg[sys_idx]) if sys_seg.size else 0.0
    values = {
        "acf_lag_s": lag_s,
        "acf_bpm": 60.0 / lag_s,
        "acf_peak": peak,
        "acf_second_ratio": second_ratio,
        "acf_double": double,
        "acf_contrast": peak - float(seg.min()),
        "acf_npeaks": float(peaks.size),
        "acf_entropy": _entropy(seg),
        "sys_lag_s": (s_lo + sys_idx) / frame_rate,
        "sys_peak": sys_peak,
    }
    return [f"{prefix}_{name}" for name in values], list(values.values())


def beat_intervals(envelope: np.ndarray, frame_rate: float, seconds: float) -> Features:
    """Beat-to-beat interval statistics from peaks of an envelope (5 values)."""
    from scipy.signal import find_peaks

    names = [
        "beat_interval_mean",
        "beat_interval_std",
        "beat_interval_cv",
        "beats_per_second",
        "beat_height_cv",
    ]
    e = np.asarray(envelope, dtype=np.float64)
    spread = float(np.percentile(e, 95) - np.percentile(e, 5)) if e.size else 0.0
    if spread <= 0:
        return names, [0.0, 0.0, 0.0, 0.0, 0.0]
    peaks, _ = find_peaks(e, distance=max(1, int(0.15 * frame_rate)), prominence=0.25 * spread)
    rate = peaks.size / max(seconds, 1e-6)
    if peaks.size < 3:
        return names, [0.0, 0.0, 0.0, rate, 0.0]
    intervals = np.diff(peaks) / frame_rate
    mean = float(intervals.mean())
    std = float(intervals.std())
    heights = e[peaks]
    height_cv = float(heights.std() / (heights.mean() + _EPS))
    return names, [mean, std, std / (mean + _EPS), rate, height_cv]


# ---------------------------------------------------------------------------
# every group


def clip_features(clip: np.ndarray, sample_rate: int) -> Features:
    """Names and values of every hand-crafted feature of one PCG clip, in order.

    Parameters
    ----------
    clip : np.ndarray, shape (n,)
        Mono samples (float). Meant for a 5 s clip at :data:`ANALYSIS_RATE`;
        other lengths and rates work (the analysis windows are set in
        seconds, and bands above the Nyquist frequency are empty).
    sample_rate : int
        Rate of ``clip`` in Hz.

    Returns
    -------
    names : list of str
    values : list of float
        Apart from ``log_rms`` they do not depend on the clip's level.
    """
    spec = ClipSpectrum.of(clip, sample_rate)
    groups = [
        level_and_shape(spec),
        mel_band_stats(spec),
        mfcc_stats(spec),
        spectral_shape(spec),
        zero_crossings(spec),
        frame_levels(spec),
        band_energies(spec),
        rhythm(*onset_envelope(spec), "onset"),
    ]
    envelope, frame_rate = hilbert_envelope(spec)
    groups += [
        rhythm(envelope, frame_rate, "hilbert"),
        beat_intervals(envelope, frame_rate, spec.seconds),
    ]
    names = [name for group_names, _ in groups for name in group_names]
    values = [value for _, group_values in groups for value in group_values]
    return names, values


def clip_feature_vector(clip: np.ndarray, sample_rate: int) -> np.ndarray:
    """Hand-crafted feature vector of one PCG clip (the values of :func:`clip_features`).

    Returns
    -------
    np.ndarray, shape (len(FEATURE_NAMES),), float64
        Finite features, in the order of :data:`FEATURE_NAMES`. A silent clip
        gives a vector of defaults, not NaNs.
    """
    _, values = clip_features(clip, sample_rate)
    return np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)


@lru_cache(maxsize=1)
def feature_names() -> tuple[str, ...]:
    """Names of the entries of :func:`clip_feature_vector`, in order.

    They do not depend on the clip, so a silent one gives them. Also
    available as :data:`FEATURE_NAMES` (a list, computed on first use so that
    importing this module stays cheap).
    """
    return tuple(clip_features(np.zeros(ANALYSIS_RATE), ANALYSIS_RATE)[0])


def __getattr__(name: str):
    if name == "FEATURE_NAMES":
        return list(feature_names())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
