"""Signal-quality gate: is this recording fit to be scored at all?

The PhysioNet/CinC 2016 challenge had three answers: normal, abnormal and
*unsure* (poor signal quality). A model trained on heart sounds gives a
confident number for anything, silence and white noise included, so
``audiofuse predict`` first checks each recording and labels a failing one
``unsure``, with the reasons, instead of a confident label.

The checks are pure functions over arrays (plus one WAV header reader):

- too short to hold heart cycles (:data:`MIN_SECONDS`);
- silence (RMS below :data:`SILENCE_RMS` of full scale);
- clipping (a large share of samples at the signal's extreme);
- truncation (the file header declares more frames than can be read);
- no periodic heart-sound energy: too little energy in 20-400 Hz, or no
  autocorrelation peak of the 20-400 Hz envelope at 30-200 beats per minute.

The thresholds were calibrated on all 3240 PhysioNet 2016 records
(``results/quality_gate.md``, written by ``audiofuse quality``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "QualityReport",
    "assess",
    "band_energy_fraction",
    "clipped_fraction",
    "declared_wav_frames",
    "envelope_periodicity",
    "impulse_share",
]

MIN_SECONDS = 2.0
"""Shortest recording that holds at least two heart cycles at 60 bpm."""
SILENCE_RMS = 1e-4
"""RMS (full scale 1.0) below which a recording is called silent."""
MAX_CLIPPED_FRACTION = 0.05
"""Share of samples at the signal's extreme above which it is called clipped."""
MAX_IMPULSE_SHARE = 0.9
"""Share of the energy in the loudest 0.5 % of samples above which the signal
is isolated clicks, not heart sounds (which last 50-150 ms)."""
MIN_BAND_FRACTION = 0.02
"""Share of the signal's energy that must lie in 20-400 Hz."""
MIN_ENVELOPE_CV = 0.3
"""Coefficient of variation of the band envelope below which the band holds a
steady hiss (noise) rather than bursts of heart sounds."""
MIN_PERIODICITY = 0.1
"""Autocorrelation peak (at 30-200 bpm) of the band envelope below which no
heart rhythm is seen."""
BAND_HZ = (20.0, 400.0)
BPM_RANGE = (30.0, 200.0)
CHUNK_SECONDS = 300.0
"""Recordings longer than this are analysed in pieces of this length."""
ENVELOPE_RATE = 50  # Hz; heart sounds last 50-150 ms, a 20 ms frame resolves them


@dataclass
class QualityReport:
    """Outcome of :func:`assess`.

    Attributes
    ----------
    ok : bool
        True when every check passed.
    reasons : list of str
        One short phrase per failed check (empty when ``ok``).
    metrics : dict
        The measured values behind the checks.
    """

    ok: bool
    reasons: list[str] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)

    @property
    def reason(self) -> str:
        """The reasons joined by ``"; "`` (empty when ``ok``)."""
        return "; ".join(self.reasons)


def clipped_fraction(samples: np.ndarray) -> float:
    """Share of samples within 0.1 % of the signal's largest magnitude.

    Only counted when that magnitude is near full scale (>= 0.95), so a quiet
    recording with a single loud peak is not called clipped.
    """
    peak = float(np.max(np.abs(samples))) if len(samples) else 0.0
    if peak < 0.95:
        return 0.0
    return float(np.mean(np.abs(samples) >= 0.999 * peak))


def _band_spectrum(samples: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    spectrum = np.fft.rfft(samples - samples.mean())
    freqs = np.fft.rfftfreq(len(samples), 1.0 / sample_rate)
    return spectrum, freqs


def _pieces(samples: np.ndarray, sample_rate: int):
    """The whole signal, or :data:`CHUNK_SECONDS` pieces of a longer one.

    Whole-signal FFTs of a 2 h recording hold several full-length complex
    copies (hundreds of MB); pieces keep the gate's memory flat. Every
    PhysioNet record (at most 122 s) is analysed whole, as the gate was
    calibrated.
    """
    step = int(CHUNK_SECONDS * sample_rate)
    if len(samples) <= step:
        yield samples
        return
    for start in range(0, len(samples), step):
        piece = samples[start : start + step]
        if len(piece) >= sample_rate:  # a last scrap under 1 s says nothing
            yield piece


def band_energy_fraction(samples: np.ndarray, sample_rate: int) -> float:
    """Share of the signal's energy (above 5 Hz) that lies in :data:`BAND_HZ`."""
    total = in_band = 0.0
    for piece in _pieces(samples, sample_rate):
        spectrum, freqs = _band_spectrum(piece, sample_rate)
        power = np.abs(spectrum) ** 2
        total += float(power[freqs >= 5.0].sum())
        in_band += float(power[(freqs >= BAND_HZ[0]) & (freqs <= BAND_HZ[1])].sum())
    return in_band / total if total > 0 else 0.0


def impulse_share(samples: np.ndarray) -> float:
    """Share of the signal's energy held by its loudest 0.5 % of samples."""
    energy = np.square(samples - samples.mean(dtype=np.float64), dtype=np.float64)
    total = float(energy.sum())
    if total <= 0:
        return 0.0
    top = max(1, len(energy) // 200)
    return float(np.partition(energy, len(energy) - top)[-top:].sum() / total)


def band_envelope(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mean magnitude of the 20-400 Hz band in frames of 1/:data:`ENVELOPE_RATE` s."""
    frame = max(1, int(sample_rate // ENVELOPE_RATE))
    envelopes = []
    for piece in _pieces(samples, sample_rate):
        spectrum, freqs = _band_spectrum(piece, sample_rate)
        spectrum[(freqs < BAND_HZ[0]) | (freqs > BAND_HZ[1])] = 0
        band = np.fft.irfft(spectrum, n=len(piece))
        n_frames = len(band) // frame
        envelopes.append(np.abs(band[: n_frames * frame]).reshape(n_frames, frame).mean(axis=1))
    return np.concatenate(envelopes)


def envelope_periodicity(samples: np.ndarray, sample_rate: int) -> tuple[float, float]:
    """Strongest heart-rhythm-like repetition of the band envelope.

    Returns
    -------
    peak : float
        Largest normalised autocorrelation of the envelope at lags of
        30-200 beats per minute that is a local maximum (0 when none).
    bpm : float
        The rate at that lag (0 when none).
    """
    envelope = band_envelope(samples, sample_rate)
    envelope = envelope - envelope.mean()
    energy = float(np.dot(envelope, envelope))
    lo = int(ENVELOPE_RATE * 60.0 / BPM_RANGE[1])
    hi = int(ENVELOPE_RATE * 60.0 / BPM_RANGE[0])
    if energy <= 0 or len(envelope) <= hi + 1:
        return 0.0, 0.0
    n = len(envelope)
    padded = np.fft.rfft(envelope, n=2 * n)
    acf = np.fft.irfft(np.abs(padded) ** 2)[: hi + 2] / energy
    lags = np.arange(lo, hi + 1)
    is_peak = (acf[lags] >= acf[lags - 1]) & (acf[lags] >= acf[lags + 1])
    if not is_peak.any():
        return 0.0, 0.0
    best = lags[is_peak][np.argmax(acf[lags][is_peak])]
    return float(acf[best]), float(60.0 * ENVELOPE_RATE / best)


def declared_wav_frames(path: str | Path) -> int | None:
    """Frame count a WAV file's header declares (``None`` if not a plain WAV).

    libsndfile quietly trims the count to the bytes present, so a truncated
    file only shows in the ``data`` chunk's own size field.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(1 << 16)
    except OSError:
        return None
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    pos, block_align = 12, None
    while pos + 8 <= len(head):
        chunk, size = head[pos : pos + 4], struct.unpack("<I", head[pos + 4 : pos + 8])[0]
        if chunk == b"fmt " and pos + 22 <= len(head):
            block_align = struct.unpack("<H", head[pos + 20 : pos + 22])[0]
        if chunk == b"data":
            if not block_align or size == 0xFFFFFFFF:
                return None
            return int(size // block_align)
        pos += 8 + size + (size & 1)
    return None


def assess(
    samples: np.ndarray,
    sample_rate: int,
    *,
    declared_frames: int | None = None,
    native: tuple[int, int, float] | None = None,
) -> QualityReport:
    """Check one recording, at its native rate or resampled.

    Parameters
    ----------
    samples : np.ndarray, shape (n,)
        Mono samples, full scale 1.0.
    sample_rate : int
    declared_frames : int, optional
        Frame count the file header declares; a larger count than the frames
        read means the file was truncated.
    native : (frames, rate, clipped fraction), optional
        When ``samples`` were resampled while streaming the file: the native
        frame count and rate (for the truncation check) and the clipped
        fraction measured on the native samples (resampling rounds off the
        flat tops that clipping leaves).

    Returns
    -------
    QualityReport
    """
    # float32 throughout, float64 accumulators: no full-length float64 copy
    samples = np.asarray(samples, dtype=np.float32)
    seconds = len(samples) / sample_rate
    rms = float(np.sqrt(np.mean(np.square(samples), dtype=np.float64))) if len(samples) else 0.0
    metrics = {"seconds": round(seconds, 3), "rms": rms}
    reasons = []
    frames, rate = (native[0], native[1]) if native else (len(samples), sample_rate)
    if declared_frames is not None and declared_frames > frames:
        reasons.append(
            f"truncated: header declares {declared_frames / rate:.1f} s, "
            f"file holds {frames / rate:.1f} s"
        )
    if seconds < MIN_SECONDS:
        reasons.append(f"too short ({seconds:.2f} s < {MIN_SECONDS:g} s) to hold heart cycles")
    if rms < SILENCE_RMS:
        reasons.append(f"silent (RMS {rms:.1e})")
    metrics["clipped_fraction"] = clipped = native[2] if native else clipped_fraction(samples)
    if clipped > MAX_CLIPPED_FRACTION:
        reasons.append(f"clipped ({clipped:.0%} of samples at full scale)")
    if seconds >= MIN_SECONDS and rms >= SILENCE_RMS:
        metrics["band_fraction"] = band = band_energy_fraction(samples, sample_rate)
        envelope = band_envelope(samples, sample_rate)
        metrics["envelope_cv"] = cv = float(envelope.std() / max(envelope.mean(), 1e-12))
        peak, bpm = envelope_periodicity(samples, sample_rate)
        metrics.update(periodicity=peak, bpm=bpm)
        metrics["impulse_share"] = impulses = impulse_share(samples)
        if impulses > MAX_IMPULSE_SHARE:
            reasons.append(f"isolated clicks ({impulses:.0%} of energy in 0.5 % of samples)")
        elif band < MIN_BAND_FRACTION:
            reasons.append(f"little energy in 20-400 Hz ({band:.0%})")
        elif cv < MIN_ENVELOPE_CV:
            reasons.append(f"steady noise, no heart-sound bursts (envelope CV {cv:.2f})")
        elif peak < MIN_PERIODICITY:
            reasons.append(f"no heart rhythm at 30-200 bpm (autocorrelation {peak:.2f})")
    return QualityReport(not reasons, reasons, metrics)
