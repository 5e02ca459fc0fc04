"""A frozen copy of the classical features as they were before the per-group split.

Kept only for tests/test_classical.py, which checks that the names and the
values of :func:`audiofuse.classical.clip_feature_vector` stay bit-identical
to this one (feature version 1). Do not edit; when the features change on
purpose, bump ``FEATURE_VERSION`` and delete this file with its test.
"""
# ruff: noqa

from __future__ import annotations

from functools import lru_cache

import numpy as np

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


def _names() -> list[str]:
    names = ["log_rms", "crest_factor", "skewness", "kurtosis"]
    for stat in ("mean", "std", "p10", "p90"):
        names += [f"mel{b:02d}_{stat}" for b in range(_N_MELS)]
    names += [f"mfcc{i:02d}_mean" for i in range(_N_MFCC)]
    names += [f"mfcc{i:02d}_std" for i in range(_N_MFCC)]
    names += [f"dmfcc{i:02d}_std" for i in range(_N_MFCC)]
    for what in ("centroid", "bandwidth", "rolloff", "flatness", "zcr"):
        names += [f"{what}_mean", f"{what}_std"]
    names += [f"frame_db_{s}" for s in ("mean", "std", "p10", "p50", "p90", "range")]
    names += [f"band_{int(lo)}_{int(hi)}_frac" for lo, hi in _BANDS]
    names += ["psd_peak_hz", "psd_median_hz"]
    for env in ("onset", "hilbert"):
        names += [
            f"{env}_acf_lag_s",
            f"{env}_acf_bpm",
            f"{env}_acf_peak",
            f"{env}_acf_second_ratio",
            f"{env}_acf_double",
            f"{env}_acf_contrast",
            f"{env}_acf_npeaks",
            f"{env}_acf_entropy",
            f"{env}_sys_lag_s",
            f"{env}_sys_peak",
        ]
    names += [
        "beat_interval_mean",
        "beat_interval_std",
        "beat_interval_cv",
        "beats_per_second",
        "beat_height_cv",
    ]
    return names


#: Names of the entries of :func:`clip_feature_vector`, in order.
FEATURE_NAMES: list[str] = _names()


# ---------------------------------------------------------------------------
# features of one clip


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


def _acf_features(envelope: np.ndarray, frame_rate: float) -> list[float]:
    """Rhythm features from the autocorrelation of an envelope (10 values)."""
    import librosa
    from scipy.signal import find_peaks

    e = np.asarray(envelope, dtype=np.float64)
    e = e - e.mean()
    lo = max(1, int(round(_LAG_RANGE[0] * frame_rate)))
    hi = int(round(_LAG_RANGE[1] * frame_rate))
    size = 2 * hi + 3
    acf = np.zeros(size)
    if e.size > 1 and np.any(e):
        raw = librosa.autocorrelate(e, max_size=min(size, e.size))
        if raw[0] > 0:
            acf[: raw.size] = raw / raw[0]
    seg = acf[lo : hi + 1]
    peaks, _ = find_peaks(seg)
    if peaks.size:
        heights = seg[peaks]
        order = np.argsort(heights)[::-1]
        best = int(peaks[order[0]])
        peak = float(heights[order[0]])
        second = float(heights[order[1]]) if peaks.size > 1 else 0.0
        second_ratio = second / peak if peak > 1e-6 else 0.0
    else:
        best = int(np.argmax(seg))
        peak = float(seg[best])
        second_ratio = 0.0
    lag = lo + best
    lag_s = lag / frame_rate
    double_lo, double_hi = max(0, 2 * lag - 2), min(size, 2 * lag + 3)
    double = float(acf[double_lo:double_hi].max()) if double_hi > double_lo else 0.0
    contrast = peak - float(seg.min())
    positive = np.clip(seg, 0.0, None)
    total = positive.sum()
    if total > 0:
        p = positive[positive > 0] / total
        entropy = float(-(p * np.log(p)).sum() / np.log(seg.size))
    else:
        entropy = 1.0
    # systolic interval: the largest value between 0.2 s and half the cycle
    s_lo = max(1, int(round(_SYSTOLE_MIN * frame_rate)))
    s_hi = max(s_lo + 1, lag // 2 + 1)
    sys_seg = acf[s_lo:s_hi]
    sys_idx = int(np.argmax(sys_seg)) if sys_seg.size else 0
    sys_peak = float(sys_seg[sys_idx]) if sys_seg.size else 0.0
    sys_lag_s = (s_lo + sys_idx) / frame_rate
    return [
        lag_s,
        60.0 / lag_s,
        peak,
        second_ratio,
        double,
        contrast,
        float(peaks.size),
        entropy,
        sys_lag_s,
        sys_peak,
    ]


def _beat_features(envelope: np.ndarray, frame_rate: float, seconds: float) -> list[float]:
    """Beat-to-beat interval statistics from peaks of an envelope (5 values)."""
    from scipy.signal import find_peaks

    e = np.asarray(envelope, dtype=np.float64)
    spread = float(np.percentile(e, 95) - np.percentile(e, 5)) if e.size else 0.0
    if spread <= 0:
        return [0.0, 0.0, 0.0, 0.0, 0.0]
    peaks, props = find_peaks(e, distance=max(1, int(0.15 * frame_rate)), prominence=0.25 * spread)
    rate = peaks.size / max(seconds, 1e-6)
    if peaks.size < 3:
        return [0.0, 0.0, 0.0, rate, 0.0]
    intervals = np.diff(peaks) / frame_rate
    mean = float(intervals.mean())
    std = float(intervals.std())
    heights = e[peaks]
    height_cv = float(heights.std() / (heights.mean() + _EPS))
    return [mean, std, std / (mean + _EPS), rate, height_cv]


def clip_feature_vector(clip: np.ndarray, sample_rate: int) -> np.ndarray:
    """Hand-crafted feature vector of one PCG clip.

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
    np.ndarray, shape (len(FEATURE_NAMES),), float64
        Finite features, in the order of :data:`FEATURE_NAMES`. Apart from
        ``log_rms`` they do not depend on the clip's level. A silent clip
        gives a vector of defaults, not NaNs.
    """
    import librosa
    from scipy.signal import hilbert, sosfiltfilt

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

    feats: list[float] = [
        float(np.log10(rms + 1e-8)),
        0.0 if silent else float(np.max(np.abs(z))),
        float(np.mean(z**3)),  # skewness (z has mean 0, std 1)
        float(np.mean(z**4) - 3.0) if not silent else 0.0,  # excess kurtosis
    ]

    # --- STFT, log-Mel below 1 kHz -----------------------------------------
    n_fft = _n_fft(sr, _FRAME_SECONDS)
    hop = max(1, int(round(_HOP_SECONDS * sr)))
    fmax = min(_FMAX, sr / 2)
    power = _power(z, n_fft, hop)
    freqs = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    log_mel = 10.0 * np.log10(_mel_basis(sr, n_fft) @ power + _EPS)
    feats += log_mel.mean(axis=1).tolist()
    feats += log_mel.std(axis=1).tolist()
    p10, p90 = np.percentile(log_mel, [10, 90], axis=1)
    feats += p10.tolist()
    feats += p90.tolist()

    mfcc = librosa.feature.mfcc(S=log_mel, n_mfcc=_N_MFCC)
    width = min(9, mfcc.shape[1] - (1 - mfcc.shape[1] % 2))
    delta = librosa.feature.delta(mfcc, width=width) if width >= 3 else np.zeros_like(mfcc)
    feats += mfcc.mean(axis=1).tolist()
    feats += mfcc.std(axis=1).tolist()
    feats += delta.std(axis=1).tolist()

    # --- spectral shape (0 - fmax) -------------------------------------------
    keep = freqs <= fmax
    p = power[keep]
    f = freqs[keep][:, None]
    frame_energy = p.sum(axis=0)
    active = frame_energy > _EPS
    if active.any():
        pa = p[:, active]
        ea = frame_energy[active]
        centroid = (f * pa).sum(axis=0) / ea
        bandwidth = np.sqrt(((f - centroid) ** 2 * pa).sum(axis=0) / ea)
        cumulative = np.cumsum(pa, axis=0) / ea
        rolloff = freqs[keep][np.argmax(cumulative >= 0.85, axis=0)]
        flatness = np.exp(np.mean(np.log(pa + _EPS), axis=0)) / (np.mean(pa, axis=0) + _EPS)
    else:
        centroid = bandwidth = rolloff = flatness = np.zeros(0)
    for values in (centroid, bandwidth, rolloff, flatness):
        feats += _stats(values)
    zcr = librosa.feature.zero_crossing_rate(z, frame_length=n_fft, hop_length=hop)[0]
    feats += _stats(zcr)
    frame_db = 10.0 * np.log10(power.sum(axis=0) / n_fft + _EPS)
    q = np.percentile(frame_db, [10, 50, 90])
    feats += [float(frame_db.mean()), float(frame_db.std()), *map(float, q), float(q[2] - q[0])]

    # Welch-style PSD: the frame-averaged power spectrum
    psd_f, psd = freqs, power.mean(axis=1)
    total = psd.sum()
    for lo, hi in _BANDS:
        band = (psd_f >= lo) & (psd_f < hi) if hi < _FMAX else (psd_f >= lo) & (psd_f <= hi)
        feats.append(float(psd[band].sum() / total) if total > 0 else 0.0)
    if total > 0:
        feats.append(float(psd_f[np.argmax(psd)]))
        feats.append(float(psd_f[np.searchsorted(np.cumsum(psd) / total, 0.5)]))
    else:
        feats += [0.0, 0.0]

    # --- rhythm ----------------------------------------------------------------
    o_fft = _n_fft(sr, _ONSET_FRAME_SECONDS)
    o_hop = max(1, int(round(_ONSET_HOP_SECONDS * sr)))
    o_mel = _mel_basis(sr, o_fft) @ _power(z, o_fft, o_hop)
    onset = librosa.onset.onset_strength(S=10.0 * np.log10(o_mel + _EPS), sr=sr, hop_length=o_hop)
    feats += _acf_features(onset, sr / o_hop)

    band, smooth = _filters(sr)
    banded = sosfiltfilt(band, z) if not silent else z
    envelope = np.abs(hilbert(banded))
    envelope = sosfiltfilt(smooth, envelope)
    e_hop = max(1, int(round(_ENV_HOP_SECONDS * sr)))
    n_env = envelope.size // e_hop
    envelope = envelope[: n_env * e_hop].reshape(n_env, e_hop).mean(axis=1)
    feats += _acf_features(envelope, sr / e_hop)
    feats += _beat_features(envelope, sr / e_hop, seconds)

    vector = np.asarray(feats, dtype=np.float64)
    if vector.size != len(FEATURE_NAMES):  # pragma: no cover - a programming error
        raise RuntimeError(f"{vector.size} features but {len(FEATURE_NAMES)} names")
    return np.nan_to_num(vector, nan=0.0, posinf=0.0, neginf=0.0)
