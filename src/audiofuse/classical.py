"""A classical baseline: hand-crafted PCG features + gradient-boosted trees.

This is the cheap, honest reference row for the main table. Each recording
(the first 5 s, as for the deep models, or every 5 s window of it) becomes a
fixed-length vector of hand-crafted features computed at a 2000 Hz analysis
rate, and scikit-learn's :class:`~sklearn.ensemble.HistGradientBoostingClassifier`
separates normal (0) from abnormal (1).

The features (see :data:`FEATURE_NAMES` for the exact list):

* **level and shape** of the waveform: log RMS, crest factor, skewness,
  kurtosis;
* **log-Mel band statistics below 1 kHz** (32 bands, 20-1000 Hz, 128 ms frames,
  10 ms hop) of the level-normalised clip: per-band mean, standard deviation
  and 10th / 90th percentiles. Low percentiles catch murmurs, which fill the
  gaps between the heart sounds;
* **MFCCs** (20, from the same sub-1 kHz log-Mel): mean and standard deviation,
  and the standard deviation of their deltas;
* **spectral shape**: centroid, bandwidth, 85 % roll-off and flatness (mean and
  standard deviation over frames), zero-crossing rate, frame-level RMS
  percentiles, energy fractions of the frame-averaged power spectrum in 0-25 / 25-150 / 150-400 /
  400-1000 Hz, its peak and median frequencies;
* **rhythm**: the autocorrelation of two envelopes, a spectral-flux onset
  envelope (:func:`librosa.onset.onset_strength`, 5 ms hop) and a smoothed
  Hilbert envelope of the 25-400 Hz band (10 ms hop). Over lags of
  0.3-2 s: the main peak's lag (and the heart rate it implies), its height,
  the ratio of the second-highest peak, the value at twice the lag, the peak-
  to-valley contrast, the number of peaks and the normalised entropy of the
  autocorrelation; plus the largest peak between 0.2 s and half the cycle
  (the systolic interval). Peaks picked on the Hilbert envelope give the mean,
  spread and coefficient of variation of the beat-to-beat intervals.

Fitting (:func:`fit_classical`) never sees test data: it carves a stratified
validation set out of the *training* rows, by record, fits the trees on the
rest, and keeps the validation scores so that the caller can choose a decision
threshold there.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from .config import FeatureConfig
from .data import AudioError, load_audio
from .features import fix_length, map_recordings, window_starts

__all__ = [
    "ANALYSIS_RATE",
    "FEATURE_NAMES",
    "FEATURE_VERSION",
    "DEFAULT_PARAMS",
    "clip_feature_vector",
    "featurize_table",
    "fit_classical",
    "ClassicalModel",
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


# ---------------------------------------------------------------------------
# a table of recordings


def _featurize_path(args) -> tuple[str, np.ndarray | None, np.ndarray | None, str | None]:
    """Worker: (path, features (k, d), window starts in s, error) for one file."""
    path, seconds, sample_rate, windows, hop_seconds = args
    try:
        samples = load_audio(path, sample_rate, max_seconds=None if windows else seconds)
        cfg = FeatureConfig(
            sample_rate=sample_rate, clip_seconds=seconds, window_hop_seconds=hop_seconds
        )
        n = cfg.clip_samples
        starts = window_starts(len(samples), cfg) if windows else np.array([0])
        rows = [clip_feature_vector(fix_length(samples, n, int(s)), sample_rate) for s in starts]
        return path, np.stack(rows), starts / sample_rate, None
    except AudioError as err:
        return path, None, None, err.reason
    except Exception as exc:  # one bad file must not sink the whole table
        return path, None, None, f"{type(exc).__name__}: {exc}"


def featurize_table(
    table: pd.DataFrame,
    *,
    seconds: float = 5.0,
    sample_rate: int = ANALYSIS_RATE,
    windows: bool = False,
    hop_seconds: float = 2.5,
    n_jobs: int | None = None,
    progress: bool = True,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Feature matrix of every recording in ``table`` (in parallel).

    Parameters
    ----------
    table : pandas.DataFrame
        An index from :mod:`audiofuse.data` (needs ``record, label, path``).
    seconds : float
        Clip length in seconds (the first ``seconds`` unless ``windows``).
    sample_rate : int
        Analysis rate; recordings are resampled to it with
        :func:`audiofuse.data.load_audio`.
    windows : bool
        False: one row per recording, its first ``seconds`` (zero-padded).
        True: one row per window of :func:`audiofuse.features.window_starts`
        (``seconds`` long, ``hop_seconds`` apart, the last one aligned to the
        end), covering the whole recording.
    hop_seconds : float
        Hop between windows.
    n_jobs : int, optional
        Worker processes (default: the number of CPU cores); 1 runs inline.
    progress : bool
        Show a tqdm bar and print the throughput and skipped files to stderr.

    Returns
    -------
    X : np.ndarray, shape (n_rows, len(FEATURE_NAMES)), float32
    meta : pandas.DataFrame
        One row per row of ``X``: the columns of ``table`` plus ``window``
        (index within the recording) and ``start_seconds``.
        ``meta.attrs["skipped"]`` lists ``(path, reason)`` for unreadable
        files, which are left out; ``meta.attrs["info"]`` holds the timing.

    Raises
    ------
    ValueError
        If ``table`` is empty or no file could be read.
    """
    if len(table) == 0:
        raise ValueError("no recordings to featurize (empty table)")
    n_jobs = n_jobs or os.cpu_count() or 1
    jobs = [
        (str(p), float(seconds), int(sample_rate), bool(windows), float(hop_seconds))
        for p in table["path"]
    ]
    t0 = time.perf_counter()
    desc = "classical features" + (" (windows)" if windows else "")
    results = map_recordings(
        _featurize_path, jobs, n_jobs=n_jobs, desc=desc, progress=progress, chunksize=4
    )
    elapsed = time.perf_counter() - t0

    base = table.reset_index(drop=True)
    blocks, metas, skipped = [], [], []
    for i, (path, feats, starts, error) in enumerate(results):
        if error is not None:
            skipped.append((path, error))
            continue
        blocks.append(feats)
        rows = base.iloc[[i] * len(feats)].copy()
        rows["window"] = np.arange(len(feats))
        rows["start_seconds"] = starts
        metas.append(rows)
    if not blocks:
        raise ValueError(f"every recording failed to load; first error: {skipped[0]}")
    X = np.concatenate(blocks).astype(np.float32)
    meta = pd.concat(metas, ignore_index=True)
    info = {
        "recordings": len(results) - len(skipped),
        "rows": len(meta),
        "seconds": round(elapsed, 3),
        "recordings_per_second": round(len(results) / max(elapsed, 1e-9), 2),
        "n_jobs": n_jobs,
        "windows": bool(windows),
        "feature_version": FEATURE_VERSION,
    }
    meta.attrs["skipped"] = skipped
    meta.attrs["info"] = info
    if progress:
        print(
            f"{desc}: {info['recordings']} recordings -> {info['rows']} rows x {X.shape[1]} "
            f"features in {elapsed:.1f} s ({info['recordings_per_second']:.1f} recordings/s, "
            f"{n_jobs} workers)" + (f"; skipped {len(skipped)}" if skipped else ""),
            file=sys.stderr,
        )
        for path, why in skipped:
            print(f"  skipped {path}: {why}", file=sys.stderr)
    return X, meta


# ---------------------------------------------------------------------------
# the classifier

#: Default settings of the HistGradientBoostingClassifier (``random_state`` is
#: the seed). A fixed number of boosting rounds rather than early stopping, so
#: that the validation carve-out stays an untouched estimate. Chosen by 5-fold
#: cross-validation on the PhysioNet *training* records (never the test set):
#: 300-600 rounds, 15-31 leaves and 30 % of the features per split were all
#: within 0.002 ROC-AUC of each other; feature subsampling (0.3 vs 1.0) and
#: class weighting ("balanced" vs none) helped the within-subset AUC most.
DEFAULT_PARAMS: dict = {
    "learning_rate": 0.05,
    "max_iter": 400,
    "max_leaf_nodes": 15,
    "min_samples_leaf": 20,
    "l2_regularization": 1.0,
    "max_features": 0.3,
    "class_weight": "balanced",
    "early_stopping": False,
}


def _fit_bins(X: np.ndarray, max_bins: int = 255) -> list[np.ndarray]:
    """Per-feature quantile bin edges of the rows the trees are fitted on.

    :class:`~sklearn.ensemble.HistGradientBoostingClassifier` bins its inputs
    into at most 255 quantile bins anyway. Doing it here, without sample
    weights, gives the same kind of bins but keeps scikit-learn from computing
    *weighted* percentiles when ``class_weight`` is set, which costs about
    ``n_features x 255`` slow calls (tens of seconds per fit).
    """
    levels = np.linspace(0.0, 100.0, max_bins + 1)[1:-1]
    edges = np.percentile(np.asarray(X, dtype=np.float64), levels, axis=0)
    return [np.unique(edges[:, j]) for j in range(edges.shape[1])]


def _apply_bins(X: np.ndarray, edges: list[np.ndarray]) -> np.ndarray:
    """Bin index of every value (0 .. len(edges)), as float32 for the trees."""
    X = np.asarray(X, dtype=np.float64)
    out = np.empty(X.shape, dtype=np.float32)
    for j, e in enumerate(edges):
        out[:, j] = np.searchsorted(e, X[:, j], side="right")
    return out


@dataclass
class ClassicalModel:
    """A fitted classical baseline.

    Attributes
    ----------
    estimator : sklearn.ensemble.HistGradientBoostingClassifier
    feature_names : list of str
        The columns it was fitted on (:data:`FEATURE_NAMES`).
    val_labels, val_scores : np.ndarray
        Labels and P(abnormal) of the validation carve-out, one per row (per
        window in window mode); choose the decision threshold on these.
    val_groups : np.ndarray
        The record of each validation row (to aggregate windows).
    seed : int
    bin_edges : list of np.ndarray
        Per-feature quantile bin edges applied before the trees.
    params : dict
        The estimator's settings.
    info : dict
        Row counts, fit time, feature version.
    """

    estimator: object
    feature_names: list
    val_labels: np.ndarray
    val_scores: np.ndarray
    val_groups: np.ndarray
    seed: int
    bin_edges: list = field(default_factory=list)
    params: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    def predict_proba(self, X, *, n_threads: int | None = 1) -> np.ndarray:
        """P(abnormal) for each row of ``X``, shape (n,).

        ``n_threads`` caps the OpenMP threads, as in :func:`fit_classical`.
        """
        from threadpoolctl import threadpool_limits

        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != len(self.feature_names):
            raise ValueError(f"expected X of shape (n, {len(self.feature_names)}), got {X.shape}")
        classes = list(self.estimator.classes_)
        binned = _apply_bins(X, self.bin_edges)
        with threadpool_limits(n_threads, user_api="openmp"):
            proba = self.estimator.predict_proba(binned)
        return proba[:, classes.index(1)].astype(np.float64)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the model with joblib, atomically (temporary file + rename)."""
        import joblib

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        try:
            joblib.dump(self, tmp)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> ClassicalModel:
        """Read a model written by :meth:`save`."""
        import joblib

        model = joblib.load(Path(path))
        if not isinstance(model, cls):
            raise TypeError(f"{path}: holds a {type(model).__name__}, not a ClassicalModel")
        if model.info.get("feature_version") != FEATURE_VERSION:
            raise ValueError(
                f"{path}: fitted on feature version {model.info.get('feature_version')}, "
                f"this code computes version {FEATURE_VERSION}"
            )
        return model


def _carve(
    groups: np.ndarray, y: np.ndarray, fraction: float, seed: int, strata=None
) -> np.ndarray:
    """Boolean mask of validation rows: a split of the groups stratified by
    ``strata`` (default: the label)."""
    from sklearn.model_selection import train_test_split

    per_group = pd.DataFrame({"g": groups, "y": y}).groupby("g", sort=True)["y"].max()
    if per_group.nunique() < 2:
        raise ValueError("the training rows hold a single class; need normal and abnormal")
    stratify = per_group.to_numpy()
    if strata is not None:
        stratify = pd.Series(np.asarray(strata), index=groups).groupby(level=0).first()
        stratify = stratify.loc[per_group.index].to_numpy()
    _, val_ids = train_test_split(
        per_group.index.to_numpy(), test_size=fraction, stratify=stratify, random_state=seed
    )
    return np.isin(groups, val_ids)


def fit_classical(
    X,
    y,
    *,
    groups=None,
    seed: int = 0,
    val_fraction: float = 0.15,
    params: dict | None = None,
    refit: bool = False,
    n_threads: int | None = 1,
    sample_weight=None,
    strata=None,
) -> ClassicalModel:
    """Fit the gradient-boosted-trees baseline on training rows.

    Parameters
    ----------
    X : array-like, shape (n, len(FEATURE_NAMES))
        Training features only (from :func:`featurize_table`).
    y : array-like of {0, 1}, shape (n,)
        Training labels, 1 = abnormal.
    groups : array-like, shape (n,), optional
        Record of each row (``meta["record"]``). Rows of one record always
        land on the same side of the carve-out; needed for window rows.
        Default: every row is its own record.
    seed : int
        Seeds the carve-out and the trees; the same seed gives the same model.
    val_fraction : float
        Fraction of the training *records* held out, stratified by label, for
        the validation scores.
    params : dict, optional
        Overrides of :data:`DEFAULT_PARAMS`.
    refit : bool
        False (default): the returned model is the one fitted without the
        carve-out, so ``val_scores`` are honest held-out scores *of that very
        model* and a threshold chosen on them applies as is. True: after
        scoring the carve-out, refit on every training row with the same
        settings (15 % more data; the threshold then comes from a sibling
        model).
    n_threads : int or None
        Cap on the OpenMP threads of the trees (via :mod:`threadpoolctl`);
        ``None`` leaves scikit-learn's choice (all cores). The default, 1, is
        deliberate: on a 2-core machine shared with other jobs, OpenMP threads
        spin-wait for each other, and one PhysioNet fit measured 4-15 s with 1
        thread against 60-110 s with 2. The result does not depend on it.
    sample_weight : array-like, shape (n,), optional
        Loss weight of each row, e.g. :func:`audiofuse.training.record_weights`
        with ``balance="subset"``. The weights must balance the classes
        themselves: ``class_weight`` is then switched off.
    strata : array-like, shape (n,), optional
        Stratum of each row for the carve-out (constant within a record), e.g.
        ``"subset/label"``; default: the label.

    Returns
    -------
    ClassicalModel
    """
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y).astype(np.int64).ravel()
    if X.ndim != 2 or X.shape[0] != y.size:
        raise ValueError(f"X {X.shape} and y {y.shape} do not match")
    if not set(np.unique(y)) <= {0, 1}:
        raise ValueError("labels must be 0 (normal) or 1 (abnormal)")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    groups = np.arange(y.size) if groups is None else np.asarray(groups)
    if groups.shape[0] != y.size:
        raise ValueError("groups and y differ in length")

    settings = {**DEFAULT_PARAMS, **(params or {}), "random_state": seed}
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, dtype=np.float64).ravel()
        if sample_weight.shape[0] != y.size:
            raise ValueError("sample_weight and y differ in length")
        settings["class_weight"] = None  # the weights balance the classes already
    is_val = _carve(groups, y, val_fraction, seed, strata)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(n_threads, user_api="openmp"):
        return _fit(X, y, groups, is_val, settings, seed, refit, sample_weight)


def _fit(X, y, groups, is_val, settings, seed, refit, sample_weight=None) -> ClassicalModel:
    from sklearn.ensemble import HistGradientBoostingClassifier

    t0 = time.perf_counter()
    weights = None if sample_weight is None else sample_weight[~is_val]
    edges = _fit_bins(X[~is_val])
    estimator = HistGradientBoostingClassifier(**settings)
    estimator.fit(_apply_bins(X[~is_val], edges), y[~is_val], sample_weight=weights)
    val_scores = estimator.predict_proba(_apply_bins(X[is_val], edges))
    val_scores = val_scores[:, list(estimator.classes_).index(1)]
    if refit:
        edges = _fit_bins(X)
        estimator = HistGradientBoostingClassifier(**settings).fit(
            _apply_bins(X, edges), y, sample_weight=sample_weight
        )
    info = {
        "n_train_rows": int((~is_val).sum()) if not refit else int(y.size),
        "n_val_rows": int(is_val.sum()),
        "n_val_groups": int(len(np.unique(groups[is_val]))),
        "refit": bool(refit),
        "fit_seconds": round(time.perf_counter() - t0, 3),
        "n_iter": int(estimator.n_iter_),
        "feature_version": FEATURE_VERSION,
    }
    return ClassicalModel(
        estimator=estimator,
        feature_names=list(FEATURE_NAMES)
        if X.shape[1] == len(FEATURE_NAMES)
        else [f"f{i}" for i in range(X.shape[1])],
        val_labels=y[is_val],
        val_scores=np.asarray(val_scores, dtype=np.float64),
        val_groups=groups[is_val],
        seed=seed,
        bin_edges=edges,
        params=settings,
        info=info,
    )
