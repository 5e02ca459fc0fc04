"""The kinds of recording, the recording conditions, and the random streams.

Record ``i`` of a dataset draws its random numbers from
``np.random.default_rng([seed, stream, i])`` (:func:`record_rng`), so each
recording is reproducible on its own, whatever the order in which recordings
are generated.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

NORMAL_KIND = "normal"
SPECTRAL_KINDS = ("systolic_murmur", "diastolic_murmur")
TEMPORAL_KINDS = ("premature_beat", "split_s2", "gallop", "irregular_rhythm")
ABNORMAL_KINDS = SPECTRAL_KINDS + TEMPORAL_KINDS
KINDS = (NORMAL_KIND,) + ABNORMAL_KINDS

# Bump when the generated audio changes, so cached folders are rewritten.
GENERATOR_VERSION = 1

# Streams keep the random numbers of different datasets (and of the plan of a
# dataset versus its recordings) apart even when they share a seed.
PLAN_STREAM = 0
PHYSIONET_STREAM = 1
PASCAL_STREAM = 2


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
