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

The package: :mod:`.clip_features` (one function per feature group),
:mod:`.table` (a table of recordings, in parallel) and :mod:`.model` (the trees).
"""

from __future__ import annotations

from .clip_features import (
    ANALYSIS_RATE,
    FEATURE_VERSION,
    clip_feature_vector,
    clip_features,
    feature_names,
)
from .model import DEFAULT_PARAMS, ClassicalModel, fit_classical
from .table import featurize_table

__all__ = [
    "ANALYSIS_RATE",
    "FEATURE_NAMES",
    "FEATURE_VERSION",
    "DEFAULT_PARAMS",
    "clip_feature_vector",
    "clip_features",
    "feature_names",
    "featurize_table",
    "fit_classical",
    "ClassicalModel",
]


def __getattr__(name: str):
    if name == "FEATURE_NAMES":  # computed on first use (see clip_features.feature_names)
        return list(feature_names())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
