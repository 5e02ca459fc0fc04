"""How a heart is recorded: sensor response, noise, wander, clicks; one whole PCG.

:func:`synthesize_pcg` draws a heart (:mod:`.sounds`) and passes it through
recording effects drawn independently of the label (:class:`.RecordingConditions`),
so that none of them gives the class away.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import signal as sps

from audiofuse.data.synthetic.conditions import (
    KINDS,
    NORMAL_KIND,
    PHYSIONET_CONDITIONS,
    SPECTRAL_KINDS,
    RecordingConditions,
)
from audiofuse.data.synthetic.sounds import (
    Heart,
    add_at,
    beat_schedule,
    heart_sounds_track,
    murmur_track,
)


def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    low, high = bounds
    return float(low) if low == high else float(rng.uniform(low, high))


def _log_uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    low, high = bounds
    return float(low) if low == high else float(np.exp(rng.uniform(np.log(low), np.log(high))))


def apply_sensor_response(
    samples: np.ndarray, sample_rate: int, conditions: RecordingConditions
) -> np.ndarray:
    """Filter a signal as the sensor of ``conditions`` would.

    A causal Butterworth band-pass of ``conditions.filter_order`` (a real
    device has phase shifts too), then, if ``conditions.resonance_hz`` is
    set, a resonance: the input plus a scaled 2nd-order peak filter, which
    gives ``resonance_gain_db`` at the centre and 0 dB far from it.

    Parameters
    ----------
    samples : np.ndarray, shape (n,)
    sample_rate : int
    conditions : RecordingConditions

    Returns
    -------
    np.ndarray, shape (n,), float64
    """
    sos = _sensor_band_pass(conditions.filter_order, *conditions.band_hz, sample_rate)
    filtered = sps.sosfilt(sos, samples)
    if conditions.resonance_hz is not None and conditions.resonance_hz < 0.45 * sample_rate:
        b, a = sps.iirpeak(conditions.resonance_hz, Q=2.0, fs=sample_rate)
        boost = 10.0 ** (conditions.resonance_gain_db / 20.0) - 1.0
        filtered = filtered + boost * sps.lfilter(b, a, filtered)
    return filtered


@functools.lru_cache(maxsize=32)
def _sensor_band_pass(order: int, low: float, high: float, sample_rate: int) -> np.ndarray:
    """Butterworth band-pass design, cached: it is the same for a whole dataset."""
    high = min(high, 0.45 * sample_rate)
    return sps.butter(order, [low, high], btype="bandpass", fs=sample_rate, output="sos")


def _coloured_noise(n_samples, sample_rate, corner_hz, rng) -> np.ndarray:
    """White noise through a one-pole low-pass at ``corner_hz``, unit RMS."""
    pole = np.exp(-2 * np.pi * min(corner_hz, 0.45 * sample_rate) / sample_rate)
    noise = sps.lfilter([1.0 - pole], [1.0, -pole], rng.standard_normal(n_samples))
    return noise / max(float(np.sqrt(np.mean(noise**2))), 1e-12)


def _friction_spikes(n_samples, sample_rate, duration_s, rate_hz, rng) -> np.ndarray:
    """Short broadband clicks (the chest piece rubbing skin or clothing)."""
    spikes = np.zeros(n_samples)
    for _ in range(rng.poisson(rate_hz * duration_s)):
        length = max(int(rng.uniform(0.002, 0.008) * sample_rate), 2)
        decay = np.exp(-np.arange(length) / (0.25 * length))
        click = rng.uniform(0.3, 1.5) * decay * rng.uniform(-1.0, 1.0, length)
        add_at(spikes, click, int(rng.integers(0, n_samples)))
    return spikes


def _record(
    heart: np.ndarray,
    sample_rate: int,
    conditions: RecordingConditions,
    rng: np.random.Generator,
    snr_db: float | None,
    reference_power: float,
) -> np.ndarray:
    """Turn clean heart sounds (S1 peak ~1) into a recording in [-1, 1].

    The noise level is set against ``reference_power``, the power of S1 and
    S2 alone, so that a murmur does not bring more noise with it (which
    would be a clue to the label).
    """
    n_samples = heart.size
    duration_s = n_samples / sample_rate
    if snr_db is None:
        snr_db = _uniform(rng, conditions.snr_db)
    noise = _coloured_noise(n_samples, sample_rate, _uniform(rng, conditions.noise_corner_hz), rng)
    noise *= np.sqrt(reference_power / 10.0 ** (snr_db / 10.0))
    heart = apply_sensor_response(heart, sample_rate, conditions)
    noise = apply_sensor_response(noise, sample_rate, conditions)
    # measure the heart's peak after the sensor, so that the gain sets its level
    heart_peak = max(float(np.max(np.abs(heart))), 1e-12)
    t = np.arange(n_samples) / sample_rate
    wander = (
        _uniform(rng, conditions.wander_level)
        * heart_peak
        * np.sin(2 * np.pi * rng.uniform(0.1, 0.8) * t + rng.uniform(0, 2 * np.pi))
    )
    spikes = heart_peak * _friction_spikes(
        n_samples, sample_rate, duration_s, _uniform(rng, conditions.spike_rate_hz), rng
    )
    gain = _log_uniform(rng, conditions.peak_level) / heart_peak
    return np.clip(gain * (heart + noise + wander + spikes), -1.0, 1.0)


def synthesize_pcg(
    duration_s: float,
    sample_rate: int,
    *,
    kind: str = NORMAL_KIND,
    rng: np.random.Generator,
    heart_rate_bpm: float | None = None,
    conditions: RecordingConditions = PHYSIONET_CONDITIONS,
    snr_db: float | None = None,
) -> np.ndarray:
    """Synthesize one phonocardiogram.

    Parameters
    ----------
    duration_s : float
        Length in seconds.
    sample_rate : int
        Samples per second. The heart sounds are the same at any rate (energy
        mostly below 1 kHz); only noise and clicks reach higher.
    kind : str
        :data:`NORMAL_KIND` or one of :data:`ABNORMAL_KINDS`.
    rng : numpy.random.Generator
        Source of every random choice (see :func:`record_rng`).
    heart_rate_bpm : float, optional
        Mean heart rate; drawn from 50-120 bpm when None.
    conditions : RecordingConditions
        Sensor, noise and level ranges (default: PhysioNet-like).
    snr_db : float, optional
        Fixes the signal-to-noise ratio instead of drawing it from
        ``conditions.snr_db``.

    Returns
    -------
    np.ndarray, shape (round(duration_s * sample_rate),), float32
        Finite samples within [-1, 1].

    Raises
    ------
    ValueError
        For an unknown ``kind``, or a non-positive duration or sample rate.

    Examples
    --------
    >>> import numpy as np
    >>> x = synthesize_pcg(5.0, 2000, kind="split_s2", rng=np.random.default_rng(0))
    >>> x.shape, x.dtype
    ((10000,), dtype('float32'))
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    if duration_s <= 0 or sample_rate <= 0:
        raise ValueError(
            f"duration_s and sample_rate must be positive, got {duration_s} and {sample_rate}"
        )
    n_samples = int(round(duration_s * sample_rate))
    if heart_rate_bpm is None:
        heart_rate_bpm = rng.uniform(50.0, 120.0)
    onsets, ectopic = beat_schedule(duration_s, heart_rate_bpm, kind=kind, rng=rng)
    heart = Heart.draw(rng, kind)
    clean, gaps = heart_sounds_track(n_samples, sample_rate, onsets, ectopic, heart, kind, rng)
    sounds_power = float(np.mean(clean**2))
    if kind in SPECTRAL_KINDS:
        clean += murmur_track(n_samples, sample_rate, gaps, onsets, kind, rng)
    recording = _record(clean, sample_rate, conditions, rng, snr_db, sounds_power)
    return recording.astype(np.float32)
