"""Synthetic heart-sound datasets: the project's embedded, offline default.

Every command and notebook of AudioFuse can run without downloading anything:
this module writes stand-ins for PhysioNet/CinC 2016 and PASCAL in exactly the
folder layouts that :func:`audiofuse.data.indexes.index_physionet` and
:func:`audiofuse.data.indexes.index_pascal` read, and marks them with a ``SYNTHETIC``
file (see :func:`audiofuse.data.indexes.is_synthetic`) so that no result computed on
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

The package: :mod:`.conditions` (kinds, recording conditions, random streams),
:mod:`.sounds` (heart sounds, rhythm, murmurs), :mod:`.recording` (recording
effects, :func:`synthesize_pcg`), :mod:`.folders` (marker, cache, atomic
writing), :mod:`.physionet_like`, :mod:`.pascal_like` and :mod:`.datasets`.
"""

from __future__ import annotations

from audiofuse.data.synthetic.conditions import (
    ABNORMAL_KINDS,
    ARTIFACT_CONDITIONS,
    GENERATOR_VERSION,
    KINDS,
    NORMAL_KIND,
    PASCAL_A_CONDITIONS,
    PASCAL_B_CONDITIONS,
    PHYSIONET_CONDITIONS,
    SPECTRAL_KINDS,
    TEMPORAL_KINDS,
    RecordingConditions,
    record_rng,
)
from audiofuse.data.synthetic.folders import read_synthetic_params
from audiofuse.data.synthetic.generate import make_synthetic_datasets
from audiofuse.data.synthetic.pascal_like import write_pascal_like
from audiofuse.data.synthetic.physionet_like import write_physionet_like
from audiofuse.data.synthetic.recording import apply_sensor_response, synthesize_pcg
from audiofuse.data.synthetic.sounds import band_limited_noise, beat_schedule, heart_sound

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
