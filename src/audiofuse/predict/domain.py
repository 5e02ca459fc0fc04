"""Domain-shift check: is this recording unlike the ones the model was trained on?

A model trained on one set of recording chains (stethoscope, amplifier,
sample rate, site) gives confident numbers on recordings from another, and
those numbers can mislead. This module describes a recording by a few
model-independent numbers (level, peak, DC offset, the shape of its spectrum
below 1 kHz, its noise floor) and measures how far that description lies from
the training recordings' with a robust, shrunk Mahalanobis distance.

Every descriptor is computed on the recording resampled to
:data:`ANALYSIS_RATE` (the content below 1 kHz, which every profile keeps), so
the same fitted statistics serve models of any sample rate.

The fitted statistics live in ``domain.json`` beside a model's ``config.json``
(written by ``scripts/fit_domain_shift.py``); :class:`DomainModel` reads them.
"""

from __future__ import annotations

import itertools
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "ANALYSIS_RATE",
    "DESCRIPTORS",
    "DOMAIN_FILE",
    "DomainModel",
    "UNLIKE_TRAINING",
    "describe_recording",
    "fit_domain_model",
]

ANALYSIS_RATE = 2000
"""Hz; descriptors see 0-1 kHz, where heart sounds and every profile's input live."""
DOMAIN_FILE = "domain.json"
UNLIKE_TRAINING = "unlike the training recordings"
FRAME = 256
"""Samples per spectral frame at :data:`ANALYSIS_RATE` (128 ms, 7.8 Hz bins)."""
LEVEL_FRAME = 100
"""Samples per level frame at :data:`ANALYSIS_RATE` (50 ms): the noise floor's resolution."""
CHUNK = 1 << 20
"""Samples summed at a time: no full-length float64 copy of a long recording."""
BAND_EDGES_HZ = (0.0, 25.0, 50.0, 100.0, 200.0, 400.0, 1000.0)
BANDS = tuple(itertools.pairwise(BAND_EDGES_HZ))
FLOOR = 1e-12

DESCRIPTORS = (
    "level_db",
    "peak_db",
    "dc_ratio_log",
    "clipped_log",
    "centroid_hz",
    "spread_hz",
    "rolloff_hz",
    "flatness_log",
    *(f"share_{int(lo)}_{int(hi)}_log" for lo, hi in BANDS),
    "floor_db",
    "ceiling_db",
)
"""The descriptor names, in the order :func:`describe_recording` returns them."""


def _power_spectrum(samples: np.ndarray) -> np.ndarray:
    """Mean Hann-windowed power spectrum of half-overlapping :data:`FRAME`-sample frames.

    Frames are transformed in blocks, so memory stays flat for hours of audio.
    """
    window = np.hanning(FRAME)
    hop = FRAME // 2
    if len(samples) < FRAME:
        samples = np.pad(samples, (0, FRAME - len(samples)))
    n_frames = 1 + (len(samples) - FRAME) // hop
    total = np.zeros(FRAME // 2 + 1)
    block = 4096
    for first in range(0, n_frames, block):
        starts = np.arange(first, min(first + block, n_frames)) * hop
        frames = samples[starts[:, None] + np.arange(FRAME)].astype(np.float64)
        frames -= frames.mean(axis=1, keepdims=True)
        total += (np.abs(np.fft.rfft(frames * window, axis=1)) ** 2).sum(axis=0)
    return total / n_frames


def describe_recording(
    samples: np.ndarray, sample_rate: int, *, clipped_fraction: float = 0.0
) -> np.ndarray:
    """The recording's descriptors, in the order of :data:`DESCRIPTORS`.

    Parameters
    ----------
    samples : np.ndarray, shape (n,)
        Mono samples, full scale 1.0, at ``sample_rate``.
    sample_rate : int
    clipped_fraction : float
        Share of the native samples at the signal's extreme
        (:func:`audiofuse.predict.quality.clipped_fraction`), measured before
        resampling rounded off the flat tops.

    Returns
    -------
    np.ndarray, shape (len(DESCRIPTORS),)
        Level and peak in dB of full scale; the DC offset relative to the RMS
        (log10); the clipped share (log10); spectral centroid, spread and 85 %
        roll-off in Hz; spectral flatness and the energy share of each band
        of :data:`BAND_EDGES_HZ` (log10); the 10th and 90th percentiles of the
        50 ms level, in dB relative to its median (noise floor and bursts).
    """
    x = np.asarray(samples, dtype=np.float32)
    if sample_rate != ANALYSIS_RATE:
        from audiofuse.data.audio import resample

        x = resample(x, sample_rate, ANALYSIS_RATE)
    # float32 samples, float64 sums: no full-length float64 copy of a long recording
    mean = float(x.mean(dtype=np.float64)) if len(x) else 0.0
    chunks = [x[i : i + CHUNK] for i in range(0, len(x), CHUNK)]
    squares = sum(float(np.dot(c64, c64)) for c64 in (c.astype(np.float64) for c in chunks))
    rms = float(np.sqrt(squares / len(x))) if len(x) else 0.0
    peak = max(float(x.max()), -float(x.min())) if len(x) else 0.0
    power = _power_spectrum(x)
    freqs = np.fft.rfftfreq(FRAME, 1.0 / ANALYSIS_RATE)
    total = float(power.sum()) + FLOOR
    weights = power / total
    centroid = float((weights * freqs).sum())
    spread = float(np.sqrt((weights * (freqs - centroid) ** 2).sum()))
    rolloff = float(freqs[min(np.searchsorted(np.cumsum(weights), 0.85), len(freqs) - 1)])
    flatness = float(np.exp(np.mean(np.log(power + FLOOR))) / (power.mean() + FLOOR))
    shares = []
    for lo, hi in BANDS:
        in_band = (freqs >= lo) & (freqs < hi) if hi < BAND_EDGES_HZ[-1] else freqs >= lo
        shares.append(np.log10(float(power[in_band].sum()) / total + 1e-6))
    n_level = len(x) // LEVEL_FRAME
    if n_level >= 3:
        frames = x[: n_level * LEVEL_FRAME].reshape(n_level, LEVEL_FRAME)
        step = 1 << 14  # frames at a time: no full-length temporary copies
        power_per_frame = np.concatenate(
            [
                np.mean(np.square(block - np.float32(mean)), axis=1, dtype=np.float64)
                for block in (frames[i : i + step] for i in range(0, n_level, step))
            ]
        )
        level = 10 * np.log10(power_per_frame + FLOOR)
        median = np.median(level)
        floor_db, ceiling_db = np.percentile(level, 10) - median, np.percentile(level, 90) - median
    else:
        floor_db = ceiling_db = 0.0
    return np.array(
        [
            20 * np.log10(rms + 1e-9),
            20 * np.log10(peak + 1e-9),
            np.log10(abs(mean) / (rms + 1e-9) + 1e-4),
            np.log10(clipped_fraction + 1e-4),
            centroid,
            spread,
            rolloff,
            np.log10(flatness + 1e-6),
            *shares,
            floor_db,
            ceiling_db,
        ],
        dtype=np.float64,
    )


@dataclass
class DomainModel:
    """Robust standardisation plus a shrunk precision matrix, and a threshold.

    Attributes
    ----------
    names : list of str
        The descriptors, in order.
    centre, scale : np.ndarray
        Median and MAD-based scale of each descriptor on the fitting records.
    precision : np.ndarray
        Inverse of the shrunk covariance of the standardised descriptors.
    threshold : float
        Distance above which a recording is called unlike the training ones.
    info : dict
        Where the statistics came from (records, percentile), stored as given.
    """

    names: list[str]
    centre: np.ndarray
    scale: np.ndarray
    precision: np.ndarray
    threshold: float = float("inf")
    info: dict | None = None

    def standardise(self, descriptors: np.ndarray) -> np.ndarray:
        """``(descriptors - centre) / scale``, for one row or a table of rows."""
        return (np.asarray(descriptors, dtype=np.float64) - self.centre) / self.scale

    def distance(self, descriptors: np.ndarray) -> np.ndarray | float:
        """Mahalanobis distance of one descriptor row (a float) or of each row of a table."""
        z = self.standardise(descriptors)
        d = np.sqrt(np.maximum(np.einsum("...i,ij,...j->...", z, self.precision, z), 0.0))
        return float(d) if np.ndim(d) == 0 else d

    def is_unlike(self, descriptors: np.ndarray) -> bool:
        """True when the distance of one recording exceeds :attr:`threshold`."""
        return bool(self.distance(descriptors) > self.threshold)

    def to_dict(self) -> dict:
        """JSON-ready form (see :meth:`from_dict`)."""
        return {
            "descriptors": list(self.names),
            "analysis_rate": ANALYSIS_RATE,
            "centre": [round(float(v), 8) for v in self.centre],
            "scale": [round(float(v), 8) for v in self.scale],
            "precision": [[round(float(v), 8) for v in row] for row in self.precision],
            "threshold": round(float(self.threshold), 6),
            "info": self.info or {},
        }

    @classmethod
    def from_dict(cls, data: dict) -> DomainModel:
        """Read :meth:`to_dict`'s form; ``ValueError`` when it does not fit :data:`DESCRIPTORS`."""
        names = list(data["descriptors"])
        if names != list(DESCRIPTORS):
            raise ValueError(f"descriptors {names} differ from this version's {list(DESCRIPTORS)}")
        n = len(names)
        centre = np.asarray(data["centre"], dtype=np.float64)
        scale = np.asarray(data["scale"], dtype=np.float64)
        precision = np.asarray(data["precision"], dtype=np.float64)
        if centre.shape != (n,) or scale.shape != (n,) or precision.shape != (n, n):
            raise ValueError("centre, scale and precision do not match the descriptors")
        return cls(names, centre, scale, precision, float(data["threshold"]), data.get("info"))

    @classmethod
    def load(cls, folder: str | os.PathLike) -> DomainModel | None:
        """The statistics in ``folder/domain.json``; ``None`` when the folder has none."""
        path = Path(folder) / DOMAIN_FILE
        if not path.exists():
            return None
        from audiofuse.files import read_json_object

        try:
            return cls.from_dict(read_json_object(path))
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{path}: unusable domain statistics ({err})") from None

    def save(self, folder: str | os.PathLike) -> Path:
        """Write ``folder/domain.json``."""
        from audiofuse.files import write_text_atomic

        path = Path(folder) / DOMAIN_FILE
        write_text_atomic(path, json.dumps(self.to_dict(), indent=1) + "\n")
        return path


def fit_domain_model(
    descriptors: np.ndarray,
    *,
    shrinkage: float = 0.1,
    names: list[str] | None = None,
    min_scale: float = 1e-3,
) -> DomainModel:
    """Fit the standardisation and shrunk precision on a table of descriptors.

    Parameters
    ----------
    descriptors : np.ndarray, shape (n_records, n_descriptors)
    shrinkage : float
        Weight of the identity in the covariance of the standardised
        descriptors: ``(1 - shrinkage) * S + shrinkage * I``. Keeps the
        precision stable when descriptors are nearly collinear.
    names : list of str, optional
        Default :data:`DESCRIPTORS`.
    min_scale : float
        Floor of each descriptor's scale, so a descriptor that is constant on
        the fitting records (a share of clipped samples that is always zero)
        does not divide by zero.

    Returns
    -------
    DomainModel
        With an infinite threshold: the caller sets it on records not used here.
    """
    x = np.asarray(descriptors, dtype=np.float64)
    centre = np.median(x, axis=0)
    mad = 1.4826 * np.median(np.abs(x - centre), axis=0)
    # a descriptor with a zero MAD but some spread keeps a scale from its spread
    spread = x.std(axis=0)
    scale = np.where(mad > min_scale, mad, np.maximum(spread, min_scale))
    z = (x - centre) / scale
    # covariance of winsorised scores: a few extreme training records do not set the shape
    z = np.clip(z, -5.0, 5.0)
    cov = np.cov(z, rowvar=False)
    shrunk = (1 - shrinkage) * cov + shrinkage * np.eye(cov.shape[0])
    return DomainModel(
        list(names or DESCRIPTORS), centre, scale, np.linalg.inv(shrunk), float("inf"), None
    )
