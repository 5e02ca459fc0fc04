"""What the heart does: S1/S2 bursts, the beat schedule, extra sounds and murmurs.

Each beat has an S1 and an S2, short (20-40 ms) damped low-frequency bursts
(a 30-160 Hz sinusoid under a gamma envelope), S2 starting 0.30-0.40 of the
cycle after S1. *Temporal* kinds only change when the sounds happen (or add a
soft S3/S4); *spectral* kinds add band-limited murmur noise between them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal as sps


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


def add_at(track: np.ndarray, burst: np.ndarray, start: int) -> None:
    """Add ``burst`` into ``track`` at sample ``start``, cut at both ends."""
    first = max(start, 0)
    last = min(start + burst.size, track.size)
    if last > first:
        track[first:last] += burst[first - start : last - start]


@dataclass(frozen=True)
class Heart:
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
    def draw(cls, rng: np.random.Generator, kind: str) -> Heart:
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


def heart_sounds_track(
    n_samples: int,
    sample_rate: int,
    onsets: np.ndarray,
    ectopic: np.ndarray,
    heart: Heart,
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
        add_at(track, level * s1, int(round(s1_onset * sample_rate)))
        s2_end = _add_s2(track, sample_rate, s2_onset, level * s2_level, heart, rng)
        if extra is not None:
            _add_extra_sound(track, sample_rate, extra, s2_end, next_onset, level, rng)
        gaps.append((s1_onset + heart.s1_duration_s, s2_onset, s2_end))
    return track, gaps


def _add_s2(track, sample_rate, s2_onset, level, heart: Heart, rng) -> float:
    """Add A2 and P2; return the end of S2 in seconds."""
    split = heart.a2_p2_split_s * rng.uniform(0.85, 1.15)  # breathing moves P2
    for offset, part_level, pitch in ((0.0, 1.0, 1.0), (split, heart.p2_level, 0.9)):
        burst = heart_sound(
            sample_rate,
            freq_hz=heart.s2_freq_hz * pitch,
            duration_s=heart.s2_duration_s,
            phase=rng.uniform(0, 2 * np.pi),
        )
        add_at(track, level * part_level * burst, int(round((s2_onset + offset) * sample_rate)))
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
    add_at(track, level * extra["level"] * burst, int(round(start * sample_rate)))


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
        add_at(envelope, shape * rng.uniform(0.85, 1.15), int(round(start * sample_rate)))
    return envelope


def murmur_track(n_samples, sample_rate, gaps, onsets, kind, rng) -> np.ndarray:
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
