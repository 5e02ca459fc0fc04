"""Synthetic heart-sound datasets: the project's embedded, offline default.

Every command and notebook of AudioFuse can run without downloading anything:
this module writes stand-ins for PhysioNet/CinC 2016 and PASCAL in exactly the
folder layouts that :func:`audiofuse.data.index_physionet` and
:func:`audiofuse.data.index_pascal` read, and marks them with a ``SYNTHETIC``
file (see :func:`audiofuse.data.is_synthetic`) so that no result computed on
them can be mistaken for a real-data result.

**This is no substitute for real data.** The generator is a caricature of a
phonocardiogram (PCG); numbers measured on it say that the code runs and
learns *something*, not how well AudioFuse classifies real heart sounds.

Design
------
A recording is a train of heart beats. Each beat has an S1 and an S2, short
(20-40 ms) damped low-frequency bursts (a 30-160 Hz sinusoid under a gamma
envelope), S2 starting 0.30-0.40 of the cycle after S1. The heart rate is
50-120 bpm with a few percent of beat-to-beat variability (respiratory sinus
arrhythmia plus jitter).

The dataset is designed so that **both views carry information**, and neither
view alone sees every abnormality:

* *spectral* kinds (``systolic_murmur``, ``diastolic_murmur``) add
  band-limited noise (roughly 120-650 Hz) between the heart sounds. Its
  amplitude is 4-10 % of the S1 peak (13-24 dB below S1 in a 20 ms energy
  envelope), so the waveform's energy envelope keeps the shape of a normal
  one, while the spectrogram gains energy in bands where a normal recording
  has only noise;
* *temporal* kinds (``premature_beat``, ``split_s2``, ``gallop``,
  ``irregular_rhythm``) re-use the normal sounds and only change *when* they
  happen (or add a soft, low-pitched S3/S4 in the same band as S1/S2), so the
  time-averaged spectrum stays close to normal while the rhythm, visible in
  the waveform, does not.

Recording effects are drawn independently of the label so that none of them
gives the class away: additive coloured noise at a random SNR, a sensor
band-pass (optionally with a resonance), baseline wander (< 1 Hz), occasional
friction spikes (short broadband clicks), and a random gain; the output is
clipped to [-1, 1]. The PASCAL-like set adds a domain shift: other sample
rates (44.1 kHz and 4 kHz), other sensor responses, more noise and shorter
recordings (2-15 s, so some are under 5 s).

Everything is deterministic given a seed. Record ``i`` of a dataset draws its
random numbers from ``np.random.default_rng([seed, stream, i])`` (see
:func:`record_rng`), so each recording is reproducible on its own, whatever
the order in which recordings are generated.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal as sps

from .data import SYNTHETIC_MARKER

__all__ = [
    "NORMAL_KIND",
    "SPECTRAL_KINDS",
    "TEMPORAL_KINDS",
    "ABNORMAL_KINDS",
    "KINDS",
    "GENERATOR_VERSION",
    "RecordingConditions",
    "PHYSIONET_CONDITIONS",
    "PASCAL_A_CONDITIONS",
    "PASCAL_B_CONDITIONS",
    "ARTIFACT_CONDITIONS",
    "record_rng",
    "heart_sound",
    "beat_schedule",
    "band_limited_noise",
    "apply_sensor_response",
    "synthesize_pcg",
    "write_physionet_like",
    "write_pascal_like",
    "make_synthetic_datasets",
    "read_synthetic_params",
]

NORMAL_KIND = "normal"
SPECTRAL_KINDS = ("systolic_murmur", "diastolic_murmur")
TEMPORAL_KINDS = ("premature_beat", "split_s2", "gallop", "irregular_rhythm")
ABNORMAL_KINDS = SPECTRAL_KINDS + TEMPORAL_KINDS
KINDS = (NORMAL_KIND,) + ABNORMAL_KINDS

# Bump when the generated audio changes, so cached folders are rewritten.
GENERATOR_VERSION = 1

# Streams keep the random numbers of different datasets (and of the plan of a
# dataset versus its recordings) apart even when they share a seed.
_PLAN_STREAM = 0
_PHYSIONET_STREAM = 1
_PASCAL_STREAM = 2

_MARKER_NOTE = (
    "Synthetic heart sounds written by audiofuse.synthetic: for running the code "
    "offline, NOT real data; results on it say nothing about real PCG classification."
)


# ---------------------------------------------------------------------------
# Recording conditions
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordingConditions:
    """How a device and a setting alter the heart sounds.

    Every range is ``(low, high)``; one value is drawn uniformly from it per
    recording (log-uniformly for ``peak_level``). Give ``(x, x)`` to fix it.

    Attributes
    ----------
    snr_db : (float, float)
        S1 and S2 (murmurs not counted) versus additive noise, in dB,
        measured before the sensor.
    noise_corner_hz : (float, float)
        Corner of the one-pole low-pass that colours the white noise: body
        and room noise is mostly low-pitched.
    spike_rate_hz : (float, float)
        Mean number of friction spikes per second (Poisson).
    wander_level : (float, float)
        Amplitude of the baseline wander relative to the S1 peak.
    peak_level : (float, float)
        Peak of the heart sounds after the random gain (full scale = 1).
    band_hz : (float, float)
        Sensor band-pass edges in Hz; the upper edge is lowered to 0.45 of
        the sample rate when needed.
    filter_order : int
        Order of the sensor's Butterworth band-pass.
    resonance_hz : float or None
        Centre of a resonance of the sensor (None: no resonance).
    resonance_gain_db : float
        Gain at ``resonance_hz``.
    """

    snr_db: tuple[float, float] = (8.0, 30.0)
    noise_corner_hz: tuple[float, float] = (150.0, 600.0)
    spike_rate_hz: tuple[float, float] = (0.0, 0.15)
    wander_level: tuple[float, float] = (0.0, 0.15)
    peak_level: tuple[float, float] = (0.15, 0.7)
    band_hz: tuple[float, float] = (20.0, 900.0)
    filter_order: int = 2
    resonance_hz: float | None = None
    resonance_gain_db: float = 0.0

    def replace(self, **changes) -> RecordingConditions:
        """Return a copy with some fields changed."""
        return dataclasses.replace(self, **changes)


#: Clinical electronic stethoscopes, 2 kHz: PhysioNet/CinC 2016.
PHYSIONET_CONDITIONS = RecordingConditions()
#: iStethoscope on an iPhone (PASCAL set A): thin on lows, a mid resonance, noisier.
PASCAL_A_CONDITIONS = RecordingConditions(
    snr_db=(2.0, 20.0),
    noise_corner_hz=(300.0, 2000.0),
    spike_rate_hz=(0.0, 0.5),
    wander_level=(0.0, 0.3),
    band_hz=(45.0, 2000.0),
    filter_order=2,
    resonance_hz=250.0,
    resonance_gain_db=6.0,
)
#: DigiScope in a clinical trial (PASCAL set B): steep low-pass, noisier.
PASCAL_B_CONDITIONS = RecordingConditions(
    snr_db=(4.0, 22.0),
    spike_rate_hz=(0.0, 0.3),
    wander_level=(0.0, 0.2),
    band_hz=(25.0, 500.0),
    filter_order=4,
)
#: PASCAL's ``artifact`` class: heart sounds buried in noise and clicks.
ARTIFACT_CONDITIONS = PASCAL_A_CONDITIONS.replace(
    snr_db=(-12.0, -2.0), spike_rate_hz=(1.0, 4.0), wander_level=(0.2, 0.8)
)


def record_rng(seed: int, index: int, stream: int = 0) -> np.random.Generator:
    """The random generator of one recording of a dataset.

    Parameters
    ----------
    seed : int
        Base seed of the dataset.
    index : int
        Index of the recording within the dataset.
    stream : int
        Separates datasets (or purposes) that share a base seed.

    Returns
    -------
    numpy.random.Generator
        Depends only on ``(seed, stream, index)``, so recordings can be
        generated in any order, or alone, with identical results.
    """
    return np.random.default_rng([int(seed), int(stream), int(index)])


def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    low, high = bounds
    return float(low) if low == high else float(rng.uniform(low, high))


def _log_uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    low, high = bounds
    return float(low) if low == high else float(np.exp(rng.uniform(np.log(low), np.log(high))))


# ---------------------------------------------------------------------------
# Heart sounds and rhythm
# ---------------------------------------------------------------------------


def heart_sound(
    sample_rate: int, *, freq_hz: float, duration_s: float, phase: float = 0.0
) -> np.ndarray:
    """One heart sound: a damped low-frequency burst with unit peak.

    A sinusoid whose pitch falls by 20 % over the burst (as S1 and S2 do),
    under a gamma envelope ``(t/tau)^2 exp(2 (1 - t/tau))`` with
    ``tau = duration_s / 5``: a fast attack and a slower decay, down to
    under 1 % of the peak at ``duration_s``.

    Parameters
    ----------
    sample_rate : int
        Samples per second.
    freq_hz : float
        Starting pitch of the burst.
    duration_s : float
        Audible length of the burst, in seconds.
    phase : float
        Starting phase of the sinusoid, in radians.

    Returns
    -------
    np.ndarray, shape (round(duration_s * sample_rate),), float64
    """
    t = np.arange(max(int(round(duration_s * sample_rate)), 2)) / sample_rate
    tau = duration_s / 5.0
    envelope = (t / tau) ** 2 * np.exp(2.0 * (1.0 - t / tau))
    # instantaneous frequency f(t) = f0 (1 - 0.2 t / T), integrated for the phase
    cycles = freq_hz * (t - 0.1 * t**2 / duration_s)
    burst = envelope * np.sin(2 * np.pi * cycles + phase)
    return burst / np.max(np.abs(burst))


def beat_schedule(
    duration_s: float, heart_rate_bpm: float, *, kind: str, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Times of the S1 onsets of a recording.

    Parameters
    ----------
    duration_s : float
        Length of the recording.
    heart_rate_bpm : float
        Mean heart rate.
    kind : str
        One of :data:`KINDS`. ``irregular_rhythm`` draws independent RR
        intervals with a 15-30 % coefficient of variation (as in atrial
        fibrillation); ``premature_beat`` makes 20-35 % of the beats come
        early (55-75 % of the RR interval) followed by a compensatory pause,
        with at least one in the first 3 s so that a 4-5 s clip shows it.
        Every other kind has a regular rhythm: respiratory sinus arrhythmia
        (2-5 %) plus 1-2.5 % jitter.
    rng : numpy.random.Generator

    Returns
    -------
    onsets : np.ndarray of float
        S1 onsets in seconds; the first is at or before 0 (the recording
        starts mid-cycle) and the last is after the end.
    ectopic : np.ndarray of bool
        True for the premature beats.
    """
    mean_rr = 60.0 / heart_rate_bpm
    n_beats = int(np.ceil(duration_s / (0.5 * mean_rr))) + 3  # enough even for short RRs
    beat_index = np.arange(n_beats)
    ectopic = np.zeros(n_beats, dtype=bool)
    if kind == "irregular_rhythm":
        cv = rng.uniform(0.15, 0.30)
        rr = mean_rr * np.exp(rng.normal(0.0, cv, n_beats))
        # the shortest intervals still leave room for S2 before the next S1
        rr = np.clip(rr, 0.55 * mean_rr, 1.8 * mean_rr)
    else:
        rsa_depth = rng.uniform(0.02, 0.05)
        breath_s = rng.uniform(3.0, 6.0)
        breath_phase = rng.uniform(0, 2 * np.pi)
        jitter = rng.uniform(0.01, 0.025)
        approx_time = beat_index * mean_rr
        rr = mean_rr * (
            1.0
            + rsa_depth * np.sin(2 * np.pi * approx_time / breath_s + breath_phase)
            + jitter * rng.standard_normal(n_beats)
        )
    if kind == "premature_beat":
        ectopic = _premature_beats(n_beats, mean_rr, rng)
        for i in np.flatnonzero(ectopic):
            # rr[i - 1] ends at the ectopic beat; the pause after it compensates
            normal_pair = rr[i - 1] + rr[i]
            rr[i - 1] *= rng.uniform(0.55, 0.75)
            rr[i] = normal_pair - rr[i - 1]
    start = -rng.uniform(0.0, mean_rr)
    onsets = start + np.concatenate([[0.0], np.cumsum(rr[:-1])])
    return onsets, ectopic


def _premature_beats(n_beats: int, mean_rr: float, rng: np.random.Generator) -> np.ndarray:
    """Which beats come early: never two in a row, never the first two."""
    ectopic = np.zeros(n_beats, dtype=bool)
    probability = rng.uniform(0.20, 0.35)
    for i in range(2, n_beats - 1):
        ectopic[i] = not ectopic[i - 1] and rng.random() < probability
    # beats 2..k start within ~3 s of the start (which is at most one RR late)
    early = np.arange(2, max(3, int(3.0 / mean_rr)))
    early = early[early < n_beats - 1]
    if early.size and not ectopic[early].any():
        forced = int(rng.choice(early))
        ectopic[forced] = True
        ectopic[forced - 1] = ectopic[forced + 1] = False
    return ectopic


def _add_at(track: np.ndarray, burst: np.ndarray, start: int) -> None:
    """Add ``burst`` into ``track`` at sample ``start``, cut at both ends."""
    first = max(start, 0)
    last = min(start + burst.size, track.size)
    if last > first:
        track[first:last] += burst[first - start : last - start]


@dataclass(frozen=True)
class _Heart:
    """Per-recording character of the heart sounds (drawn once)."""

    s1_freq_hz: float
    s2_freq_hz: float
    s1_duration_s: float
    s2_duration_s: float
    s2_level: float
    systole_fraction: float
    a2_p2_split_s: float
    p2_level: float

    @classmethod
    def draw(cls, rng: np.random.Generator, kind: str) -> _Heart:
        s1_freq = rng.uniform(35.0, 90.0)
        split_s2 = kind == "split_s2"
        return cls(
            s1_freq_hz=s1_freq,
            s2_freq_hz=min(s1_freq * rng.uniform(1.2, 1.9), 160.0),  # S2 is higher-pitched
            s1_duration_s=rng.uniform(0.028, 0.040),
            s2_duration_s=rng.uniform(0.020, 0.030),
            s2_level=rng.uniform(0.5, 0.9),
            systole_fraction=rng.uniform(0.30, 0.40),
            # a physiological A2-P2 split (< 15 ms) merges into one sound
            a2_p2_split_s=rng.uniform(0.030, 0.060) if split_s2 else rng.uniform(0.0, 0.015),
            p2_level=rng.uniform(0.6, 1.0) if split_s2 else rng.uniform(0.3, 0.5),
        )


def _heart_sounds_track(
    n_samples: int,
    sample_rate: int,
    onsets: np.ndarray,
    ectopic: np.ndarray,
    heart: _Heart,
    kind: str,
    rng: np.random.Generator,
) -> tuple[np.ndarray, list[tuple[float, float, float]]]:
    """S1, S2 (and S3/S4 for ``gallop``) of every beat, in one track.

    Returns the track (S1 peaks near 1) and, per beat, ``(s1_end, s2_start,
    s2_end)`` in seconds, where murmurs fit in.
    """
    track = np.zeros(n_samples)
    mean_rr = float(np.median(np.diff(onsets)))
    beat_level_spread = 0.25 if kind == "irregular_rhythm" else 0.05  # AF: variable S1
    extra = _draw_extra_sound(rng) if kind == "gallop" else None
    gaps = []
    for i, s1_onset in enumerate(onsets[:-1]):
        next_onset = onsets[i + 1]
        level = max(0.3, 1.0 + beat_level_spread * rng.standard_normal())
        systole = heart.systole_fraction * mean_rr
        s2_level = heart.s2_level
        if ectopic[i]:
            # an early beat fills the ventricle less: shorter systole, softer S2
            level *= rng.uniform(0.7, 1.4)
            systole *= 0.85
            s2_level *= 0.6
        s2_onset = s1_onset + systole
        s1 = heart_sound(
            sample_rate,
            freq_hz=heart.s1_freq_hz,
            duration_s=heart.s1_duration_s,
            phase=rng.uniform(0, 2 * np.pi),
        )
        _add_at(track, level * s1, int(round(s1_onset * sample_rate)))
        s2_end = _add_s2(track, sample_rate, s2_onset, level * s2_level, heart, rng)
        if extra is not None:
            _add_extra_sound(track, sample_rate, extra, s2_end, next_onset, level, rng)
        gaps.append((s1_onset + heart.s1_duration_s, s2_onset, s2_end))
    return track, gaps


def _add_s2(track, sample_rate, s2_onset, level, heart: _Heart, rng) -> float:
    """Add A2 and P2; return the end of S2 in seconds."""
    split = heart.a2_p2_split_s * rng.uniform(0.85, 1.15)  # breathing moves P2
    for offset, part_level, pitch in ((0.0, 1.0, 1.0), (split, heart.p2_level, 0.9)):
        burst = heart_sound(
            sample_rate,
            freq_hz=heart.s2_freq_hz * pitch,
            duration_s=heart.s2_duration_s,
            phase=rng.uniform(0, 2 * np.pi),
        )
        _add_at(track, level * part_level * burst, int(round((s2_onset + offset) * sample_rate)))
    return s2_onset + split + heart.s2_duration_s


def _draw_extra_sound(rng: np.random.Generator) -> dict:
    """An S3 (early diastole) or S4 (just before S1): soft, low-pitched, longer."""
    return {
        "which": "S3" if rng.random() < 0.5 else "S4",
        "freq_hz": rng.uniform(20.0, 45.0),
        "duration_s": rng.uniform(0.040, 0.060),
        "level": rng.uniform(0.30, 0.50),
        "delay_s": rng.uniform(0.12, 0.18),  # S3 after S2 / S4 before S1
    }


def _add_extra_sound(track, sample_rate, extra, s2_end, next_onset, level, rng) -> None:
    if extra["which"] == "S3":
        start = s2_end - 0.02 + extra["delay_s"]
    else:
        start = next_onset - extra["delay_s"]
    # only where it fits between S2 and the next S1 (not at very fast rates)
    if start < s2_end + 0.03 or start + extra["duration_s"] > next_onset - 0.01:
        return
    burst = heart_sound(
        sample_rate,
        freq_hz=extra["freq_hz"],
        duration_s=extra["duration_s"],
        phase=rng.uniform(0, 2 * np.pi),
    )
    _add_at(track, level * extra["level"] * burst, int(round(start * sample_rate)))


# ---------------------------------------------------------------------------
# Murmurs
# ---------------------------------------------------------------------------


def band_limited_noise(
    n_samples: int, sample_rate: int, band_hz: tuple[float, float], rng: np.random.Generator
) -> np.ndarray:
    """Gaussian noise band-passed to ``band_hz``, scaled to unit RMS.

    Parameters
    ----------
    n_samples : int
    sample_rate : int
    band_hz : (float, float)
        Pass band (4th-order Butterworth); the upper edge is lowered to
        0.45 of the sample rate when needed.
    rng : numpy.random.Generator

    Returns
    -------
    np.ndarray, shape (n_samples,), float64
    """
    low, high = band_hz
    high = min(high, 0.45 * sample_rate)
    sos = sps.butter(4, [low, high], btype="bandpass", fs=sample_rate, output="sos")
    # a lead-in lets the filter settle before the recording starts
    lead = min(sample_rate, 4096)
    noise = sps.sosfilt(sos, rng.standard_normal(n_samples + lead))[lead:]
    return noise / max(float(np.sqrt(np.mean(noise**2))), 1e-12)


def _murmur_envelope(
    n_samples: int,
    sample_rate: int,
    gaps: list[tuple[float, float, float]],
    onsets: np.ndarray,
    kind: str,
    rng: np.random.Generator,
) -> np.ndarray:
    """Where, and how loud, the murmur is: 0 outside, up to ~1 inside.

    Systolic murmurs fill S1-S2 either flat (holosystolic, regurgitant) or
    as a diamond (crescendo-decrescendo, ejection); diastolic murmurs start
    at S2 and fade out over 40-80 % of diastole (as aortic regurgitation).
    """
    envelope = np.zeros(n_samples)
    diamond = rng.random() < 0.5
    diamond_peak = rng.uniform(0.3, 0.5)
    diastolic_reach = rng.uniform(0.4, 0.8)
    for (s1_end, s2_onset, s2_end), next_onset in zip(gaps, onsets[1:], strict=False):
        if kind == "systolic_murmur":
            start, stop = s1_end - 0.005, s2_onset - 0.005
        else:
            start = s2_end - 0.01
            stop = start + diastolic_reach * (next_onset - 0.02 - start)
        length = int(round((stop - start) * sample_rate))
        if length < 4:
            continue
        x = np.linspace(0.0, 1.0, length)
        if kind == "diastolic_murmur":
            shape = (1.0 - x) ** 1.5
        elif diamond:
            shape = np.minimum(x / diamond_peak, (1.0 - x) / (1.0 - diamond_peak))
        else:
            shape = np.ones(length)
        # 10 ms cosine ramps so the murmur does not click on and off
        ramp = min(int(0.01 * sample_rate), length // 2)
        if ramp > 0:
            taper = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)
            shape[:ramp] *= taper
            shape[-ramp:] *= taper[::-1]
        _add_at(envelope, shape * rng.uniform(0.85, 1.15), int(round(start * sample_rate)))
    return envelope


def _murmur_track(n_samples, sample_rate, gaps, onsets, kind, rng) -> np.ndarray:
    """Band-limited noise under the murmur envelope.

    The band (low 120-250 Hz, 1.8-2.6 times wider) sits above S1/S2 and
    mostly below 500 Hz, so it survives resampling to 1 kHz. The level
    (RMS 0.04-0.10 of the S1 peak, 13-24 dB below S1 in a 20 ms energy
    envelope) makes it a faint haze in the waveform and a clear band in the
    spectrogram.
    """
    low = rng.uniform(120.0, 250.0)
    band = (low, min(low * rng.uniform(1.8, 2.6), 650.0))
    level = rng.uniform(0.04, 0.10)
    envelope = _murmur_envelope(n_samples, sample_rate, gaps, onsets, kind, rng)
    return level * envelope * band_limited_noise(n_samples, sample_rate, band, rng)


# ---------------------------------------------------------------------------
# Recording effects
# ---------------------------------------------------------------------------


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
        _add_at(spikes, click, int(rng.integers(0, n_samples)))
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
    heart = _Heart.draw(rng, kind)
    clean, gaps = _heart_sounds_track(n_samples, sample_rate, onsets, ectopic, heart, kind, rng)
    sounds_power = float(np.mean(clean**2))
    if kind in SPECTRAL_KINDS:
        clean += _murmur_track(n_samples, sample_rate, gaps, onsets, kind, rng)
    recording = _record(clean, sample_rate, conditions, rng, snr_db, sounds_power)
    return recording.astype(np.float32)


# ---------------------------------------------------------------------------
# Dataset folders
# ---------------------------------------------------------------------------


def read_synthetic_params(root: str | Path) -> dict | None:
    """Parameters a synthetic folder was written with (None if not synthetic).

    The ``SYNTHETIC`` marker holds a one-line explanation, then the
    parameters as one line of JSON.
    """
    marker = Path(root) / SYNTHETIC_MARKER
    if not marker.is_file():
        return None
    lines = marker.read_text(encoding="utf-8").strip().splitlines()
    try:
        return json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        return None


def _write_marker(folder: Path, params: dict) -> None:
    text = _MARKER_NOTE + "\n" + json.dumps(params, sort_keys=True) + "\n"
    (folder / SYNTHETIC_MARKER).write_text(text, encoding="utf-8")


def _cached(root: Path, params: dict) -> bool:
    return read_synthetic_params(root) == json.loads(json.dumps(params, sort_keys=True))


@contextlib.contextmanager
def _atomic_folder(root: Path, params: dict) -> Iterator[Path]:
    """Write a dataset into a scratch folder, then move it to ``root``.

    The marker is written last, so an interrupted run never looks complete,
    and ``root`` is only replaced once the new folder is whole. A folder
    without our marker (real data, most likely) is never replaced.
    """
    if root.exists() and any(root.iterdir()) and read_synthetic_params(root) is None:
        raise FileExistsError(
            f"{root} exists and is not a synthetic dataset (no {SYNTHETIC_MARKER} marker); "
            "refusing to overwrite it"
        )
    scratch = root.parent / f".{root.name}.partial-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    try:
        yield scratch
        _write_marker(scratch, params)
        if root.exists():
            shutil.rmtree(root)
        try:
            scratch.rename(root)
        except OSError:
            # another process wrote the same folder meanwhile: keep theirs if it matches
            if not _cached(root, params):
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _write_wav(path: Path, samples: np.ndarray, sample_rate: int) -> None:
    sf.write(str(path), samples, sample_rate, subtype="PCM_16")


def _write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


def _physionet_plan(
    n_records: int, subsets: tuple[str, ...], abnormal_fraction: float, rng: np.random.Generator
) -> list[dict]:
    """Name, subset and kind of every record; abnormal kinds in equal shares."""
    n_abnormal = int(round(n_records * abnormal_fraction))
    kinds = [ABNORMAL_KINDS[i % len(ABNORMAL_KINDS)] for i in range(n_abnormal)]
    kinds += [NORMAL_KIND] * (n_records - n_abnormal)
    kinds = [kinds[i] for i in rng.permutation(n_records)]
    plan, counters = [], dict.fromkeys(subsets, 0)
    for index, kind in enumerate(kinds):
        subset = subsets[index % len(subsets)]
        counters[subset] += 1
        plan.append(
            {
                "index": index,
                "subset": subset,
                "kind": kind,
                "record": f"{subset}{counters[subset]:04d}",
            }
        )
    return plan


def _stratified_test_records(
    plan: list[dict], test_fraction: float, rng: np.random.Generator
) -> set[str]:
    """Records held out for ``validation/``: the same fraction of every
    (subset, class) group, at least one per group of two or more."""
    if test_fraction <= 0:
        return set()
    groups: dict[tuple[str, bool], list[str]] = {}
    for row in plan:
        key = (row["subset"], row["kind"] != NORMAL_KIND)
        groups.setdefault(key, []).append(row["record"])
    chosen = set()
    for key in sorted(groups):
        names = groups[key]
        if len(names) < 2:
            continue
        n_test = min(len(names) - 1, max(1, int(round(test_fraction * len(names)))))
        chosen.update(rng.choice(names, size=n_test, replace=False).tolist())
    return chosen


def write_physionet_like(
    root: str | Path,
    *,
    n_records: int = 300,
    seed: int = 0,
    abnormal_fraction: float = 0.3,
    test_fraction: float = 0.1,
    min_seconds: float = 5.0,
    max_seconds: float = 60.0,
    sample_rate: int = 2000,
    subsets: tuple[str, ...] = ("a", "b", "c"),
) -> Path:
    """Write a synthetic dataset in the PhysioNet/CinC 2016 layout.

    Layout::

        root/SYNTHETIC                  explanation + parameters (JSON)
        root/kinds.csv                  record,kind (the generator's kind)
        root/training-a/REFERENCE.csv   a0001,1  (1 abnormal, -1 normal)
        root/training-a/RECORDS         one record name a line
        root/training-a/a0001.wav       16-bit PCM, mono
        root/validation/REFERENCE.csv   the held-out (test) records
        root/validation/RECORDS

    Parameters
    ----------
    root : str or Path
        Folder to write. An existing synthetic folder written with the same
        parameters is kept as is (a cache); one written with other
        parameters is replaced. A non-synthetic folder is never touched.
    n_records : int
        Number of recordings, spread evenly over ``subsets``.
    seed : int
        Base seed; see :func:`record_rng`.
    abnormal_fraction : float
        Share of abnormal records; their kinds cycle through
        :data:`ABNORMAL_KINDS` in equal shares.
    test_fraction : float
        Share of each (subset, class) group listed in ``validation/``.
    min_seconds, max_seconds : float
        Recording lengths are uniform in this range.
    sample_rate : int
        Sample rate of the files (PhysioNet: 2000 Hz).
    subsets : tuple of str
        Subset letters: ``training-<letter>`` folders, record name prefixes.

    Returns
    -------
    Path
        ``root``.
    """
    root = Path(root)
    params = {
        "dataset": "physionet2016",
        "generator_version": GENERATOR_VERSION,
        "n_records": n_records,
        "seed": seed,
        "abnormal_fraction": abnormal_fraction,
        "test_fraction": test_fraction,
        "min_seconds": min_seconds,
        "max_seconds": max_seconds,
        "sample_rate": sample_rate,
        "subsets": list(subsets),
    }
    if _cached(root, params):
        return root
    plan_rng = record_rng(seed, 0, _PLAN_STREAM)
    plan = _physionet_plan(n_records, tuple(subsets), abnormal_fraction, plan_rng)
    test_records = _stratified_test_records(plan, test_fraction, plan_rng)

    with _atomic_folder(root, params) as scratch:
        references: dict[str, list[str]] = {subset: [] for subset in subsets}
        for row in plan:
            rng = record_rng(seed, row["index"], _PHYSIONET_STREAM)
            duration = rng.uniform(min_seconds, max_seconds)
            samples = synthesize_pcg(duration, sample_rate, kind=row["kind"], rng=rng)
            folder = scratch / f"training-{row['subset']}"
            folder.mkdir(exist_ok=True)
            _write_wav(folder / f"{row['record']}.wav", samples, sample_rate)
            label = -1 if row["kind"] == NORMAL_KIND else 1
            references[row["subset"]].append(f"{row['record']},{label}")
        for subset, lines in references.items():
            folder = scratch / f"training-{subset}"
            folder.mkdir(exist_ok=True)
            _write_lines(folder / "REFERENCE.csv", lines)
            _write_lines(folder / "RECORDS", [line.split(",")[0] for line in lines])
        validation = scratch / "validation"
        validation.mkdir()
        held_out = [
            line
            for subset in subsets
            for line in references[subset]
            if line.split(",")[0] in test_records
        ]
        _write_lines(validation / "REFERENCE.csv", held_out)
        _write_lines(validation / "RECORDS", [line.split(",")[0] for line in held_out])
        _write_lines(
            scratch / "kinds.csv",
            ["record,kind"] + [f"{row['record']},{row['kind']}" for row in plan],
        )
    return root


# PASCAL: each class becomes a generator kind; set A and B have different classes.
_PASCAL_SETS = {
    "a": {
        "sample_rate": 44100,
        "conditions": PASCAL_A_CONDITIONS,
        "classes": {"normal": 0.25, "murmur": 0.27, "extrahls": 0.16, "artifact": 0.32},
    },
    "b": {
        "sample_rate": 4000,
        "conditions": PASCAL_B_CONDITIONS,
        "classes": {"normal": 0.69, "murmur": 0.21, "extrastole": 0.10},
    },
}
_PASCAL_KINDS = {
    "normal": (NORMAL_KIND,),
    "murmur": ("systolic_murmur", "systolic_murmur", "systolic_murmur", "diastolic_murmur"),
    "extrahls": ("gallop", "split_s2"),
    "extrastole": ("premature_beat",),
    "artifact": (NORMAL_KIND,),  # recorded under ARTIFACT_CONDITIONS
}


def _pascal_plan(
    n_records: int, n_unlabelled: int, set_a_fraction: float, rng: np.random.Generator
) -> list[dict]:
    """Set, class, kind and file stem of every PASCAL-like recording."""
    n_a = int(round(n_records * set_a_fraction))
    plan = []
    for set_name, n_labelled in (("a", n_a), ("b", n_records - n_a)):
        classes = _PASCAL_SETS[set_name]["classes"]
        shares = np.array(list(classes.values()))
        counts = np.floor(shares * n_labelled).astype(int)
        # hand the rounding remainder to the largest shares first
        for i in np.argsort(-shares)[: n_labelled - counts.sum()]:
            counts[i] += 1
        labels = [c for c, k in zip(classes, counts, strict=True) for _ in range(k)]
        n_unlab = n_unlabelled // 2 + (n_unlabelled % 2 if set_name == "b" else 0)
        labels += [None] * n_unlab
        ids = _pascal_ids(set_name, len(labels), rng)
        for label, record_id in zip(labels, ids, strict=True):
            # unlabelled recordings are of any kind, as the real test files are
            kind = str(rng.choice(KINDS if label is None else _PASCAL_KINDS[label]))
            noisy = set_name == "b" and label in ("normal", "murmur") and rng.random() < 0.2
            plan.append(
                {
                    "set": set_name,
                    "class": label,
                    "kind": kind,
                    "noisy": noisy,
                    "stem": _pascal_stem(set_name, label, record_id, noisy),
                }
            )
    for index, row in enumerate(plan):
        row["index"] = index
    return plan


def _pascal_ids(set_name: str, n: int, rng: np.random.Generator) -> list[str]:
    """Distinct ids in the style of the real files.

    Set A: a timestamp ``YYYYMMDDhhmm`` (2010-11 to 2011-11); set B: a
    patient number, a millisecond Unix time (May-July 2011) and a chest
    position.
    """
    span_days = 365 if set_name == "a" else 60
    minutes = np.sort(rng.choice(span_days * 24 * 60, size=n, replace=False))
    if set_name == "a":
        stamps = np.datetime64("2010-11-01T00:00") + minutes.astype("timedelta64[m]")
        return [str(s).replace("-", "").replace("T", "").replace(":", "") for s in stamps]
    millis = 1_305_000_000_000 + minutes.astype(np.int64) * 60_000 + rng.integers(0, 60_000, n)
    patients = rng.integers(101, 300, n)
    positions = rng.choice(["A", "B", "C", "D", "C1", "C2"], size=n)
    return [f"{p}_{m}_{pos}" for p, m, pos in zip(patients, millis, positions, strict=True)]


def _pascal_stem(set_name: str, label: str | None, record_id: str, noisy: bool) -> str:
    if label is None:
        return f"{set_name.upper()}unlabelledtest__{record_id}"
    if noisy:
        return f"{label}_noisy{label}_{record_id}"
    return f"{label}__{record_id}"


def _kaggle_csv_row(row: dict) -> str:
    """A line of Kaggle's set_a.csv / set_b.csv, quirks included.

    In set_b.csv the names are ``Btraining_<class>_<id>.wav``, which do not
    match the files (``<class>__<id>.wav``), as in the real Kaggle release.
    """
    stem, set_name = row["stem"], row["set"]
    label = row["class"] or ""
    sublabel = f"noisy{label}" if row["noisy"] else ""
    if set_name == "b" and label:
        record_id = stem.split("__", 1)[-1] if "__" in stem else stem.split("_", 2)[-1]
        stem = f"Btraining_{sublabel or label}_{record_id}"
    return f"{set_name},set_{set_name}/{stem}.wav,{label},{sublabel}"


def write_pascal_like(
    root: str | Path,
    *,
    n_records: int = 100,
    seed: int = 1,
    n_unlabelled: int | None = None,
    set_a_fraction: float = 0.3,
    min_seconds: float = 2.0,
    max_seconds: float = 15.0,
) -> Path:
    """Write a synthetic dataset in Kaggle's PASCAL layout.

    Layout::

        root/SYNTHETIC, root/kinds.csv (record,kind)
        root/set_a.csv, root/set_b.csv  dataset,fname,label,sublabel
        root/set_a/normal__201102081321.wav       44100 Hz (iStethoscope)
        root/set_a/Aunlabelledtest__201012172010.wav
        root/set_b/murmur__112_1306243000964_A.wav  4000 Hz (DigiScope)
        root/set_b/normal_noisynormal_101_1305030823364_B.wav

    Set A has ``normal``, ``murmur``, ``extrahls`` and ``artifact``; set B
    ``normal``, ``murmur`` and ``extrastole``, in about the real proportions.
    Classes map to generator kinds: murmur -> a (mostly systolic) murmur,
    extrahls -> ``gallop`` or ``split_s2``, extrastole -> ``premature_beat``,
    artifact -> heart sounds buried in noise and clicks
    (:data:`ARTIFACT_CONDITIONS`). Against the PhysioNet-like set this is a
    domain shift: other sample rates and sensor responses, more noise,
    shorter recordings.

    Parameters
    ----------
    root : str or Path
        Folder to write; cached and protected as in
        :func:`write_physionet_like`.
    n_records : int
        Number of labelled recordings (both sets).
    seed : int
        Base seed; see :func:`record_rng`.
    n_unlabelled : int, optional
        ``*unlabelledtest*`` files to add (which the index skips); default
        10 % of ``n_records``, at least 2.
    set_a_fraction : float
        Share of the labelled recordings in set A (real data: ~0.28).
    min_seconds, max_seconds : float
        Recording lengths are uniform in this range.

    Returns
    -------
    Path
        ``root``.
    """
    root = Path(root)
    if n_unlabelled is None:
        n_unlabelled = max(2, n_records // 10)
    params = {
        "dataset": "pascal",
        "generator_version": GENERATOR_VERSION,
        "n_records": n_records,
        "seed": seed,
        "n_unlabelled": n_unlabelled,
        "set_a_fraction": set_a_fraction,
        "min_seconds": min_seconds,
        "max_seconds": max_seconds,
    }
    if _cached(root, params):
        return root
    plan = _pascal_plan(n_records, n_unlabelled, set_a_fraction, record_rng(seed, 0, _PLAN_STREAM))
    with _atomic_folder(root, params) as scratch:
        for row in plan:
            settings = _PASCAL_SETS[row["set"]]
            conditions = settings["conditions"]
            if row["class"] == "artifact":
                conditions = ARTIFACT_CONDITIONS
            elif row["noisy"]:
                conditions = conditions.replace(snr_db=(-3.0, 6.0))
            rng = record_rng(seed, row["index"], _PASCAL_STREAM)
            duration = rng.uniform(min_seconds, max_seconds)
            samples = synthesize_pcg(
                duration, settings["sample_rate"], kind=row["kind"], rng=rng, conditions=conditions
            )
            folder = scratch / f"set_{row['set']}"
            folder.mkdir(exist_ok=True)
            _write_wav(folder / f"{row['stem']}.wav", samples, settings["sample_rate"])
        for set_name in ("a", "b"):
            rows = [_kaggle_csv_row(row) for row in plan if row["set"] == set_name]
            _write_lines(scratch / f"set_{set_name}.csv", ["dataset,fname,label,sublabel"] + rows)
        kinds = [
            f"{row['stem']},{'artifact' if row['class'] == 'artifact' else row['kind']}"
            for row in plan
        ]
        _write_lines(scratch / "kinds.csv", ["record,kind"] + kinds)
    return root


_SIZES = {
    # smoke: seconds to write on two cores; enough records for both classes in every split
    "smoke": {
        "physionet": {"n_records": 320, "min_seconds": 5.0, "max_seconds": 10.0},
        "pascal": {"n_records": 80},
    },
    "demo": {
        "physionet": {"n_records": 600, "min_seconds": 5.0, "max_seconds": 30.0},
        "pascal": {"n_records": 150},
    },
}


def make_synthetic_datasets(
    data_root: str | Path, *, size: str = "smoke", seed: int = 0
) -> dict[str, Path]:
    """Write (or reuse) both synthetic datasets under ``data_root/synthetic``.

    Parameters
    ----------
    data_root : str or Path
        The project's data folder (see :func:`audiofuse.config.data_dir`).
    size : {"smoke", "demo"}
        ``"smoke"``: 320 PhysioNet-like records of 5-10 s and 80 PASCAL-like
        ones, written in seconds. ``"demo"``: 600 records of 5-30 s and 150.
        Both hold out 20 % of the PhysioNet-like records as the test split
        (the real data: ~9 %) so that the small test set has both classes in
        useful numbers.
    seed : int
        Base seed; the PASCAL-like set uses ``seed + 1``.

    Returns
    -------
    dict
        ``{"physionet2016": path, "pascal": path}``.
    """
    if size not in _SIZES:
        raise ValueError(f"unknown size {size!r}; choose one of {', '.join(_SIZES)}")
    base = Path(data_root) / "synthetic" / size
    sizes = _SIZES[size]
    physionet = write_physionet_like(
        base / "physionet2016", seed=seed, test_fraction=0.2, **sizes["physionet"]
    )
    pascal = write_pascal_like(base / "pascal", seed=seed + 1, **sizes["pascal"])
    return {"physionet2016": physionet, "pascal": pascal}
