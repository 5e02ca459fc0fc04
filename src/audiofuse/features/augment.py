"""Training-time augmentation of the two model inputs (AudioFuse+ ingredients).

Every function is pure: arrays and a ``numpy.random.Generator`` in, new arrays
out. The waveform-domain ones act on the cached, normalised 5 s clips; the
spectrogram is then recomputed from the augmented clip with
:func:`audiofuse.features.extract.log_mel_image`, so both branches always see the
same audio. That matters for the stethoscope-like equaliser: a filter applied
to only one branch would teach the fusion that the branches disagree.

Why recomputing the spectrogram from a normalised clip is exact enough: the
log-Mel image is referenced to its own maximum and min-max scaled, so it does
not depend on the clip's gain, and the mel filters start above 0 Hz, so the
mean removal of ``waveform_norm="standard"`` matters only through the STFT's
zero padding, which turns a DC offset into a step at the two edge frames.
Measured on PhysioNet a0001, e00010 and b0003 (cpu profile): interior pixels
agree to 6e-6; edge pixels differ by up to 0.37 on b0003, whose offset is 0.4 sd.

None of this is used by the faithful profiles (``paper``, ``cpu``, ``smoke``):
:class:`AugmentConfig` (defined in :mod:`audiofuse.config`, with the named
recipes of ``TrainConfig.augment``) defaults to everything off.
"""

from __future__ import annotations

import numpy as np

from audiofuse.config import AugmentConfig, FeatureConfig
from audiofuse.features.extract import log_mel_image, normalize_waveform

__all__ = [
    "random_gain",
    "add_noise_at_snr",
    "time_shift",
    "random_equalizer",
    "random_clipping",
    "spec_augment",
    "mixup",
    "random_truncation",
    "augment_clips",
]


def random_gain(clip: np.ndarray, rng: np.random.Generator, max_db: float) -> np.ndarray:
    """``clip`` scaled by a gain drawn uniformly from ``[-max_db, max_db]`` dB."""
    return (clip * 10.0 ** (rng.uniform(-max_db, max_db) / 20.0)).astype(np.float32)


def add_noise_at_snr(
    clip: np.ndarray, rng: np.random.Generator, snr_db: tuple[float, float]
) -> np.ndarray:
    """``clip`` plus white Gaussian noise at an SNR drawn from ``snr_db`` (dB).

    A silent clip is returned unchanged: its SNR is undefined.
    """
    power = float(np.mean(clip.astype(np.float64) ** 2))
    if power == 0.0:
        return clip.astype(np.float32, copy=True)
    snr = rng.uniform(*snr_db)
    noise = rng.standard_normal(clip.shape) * np.sqrt(power / 10.0 ** (snr / 10.0))
    return (clip + noise).astype(np.float32)


def time_shift(clip: np.ndarray, rng: np.random.Generator, max_samples: int) -> np.ndarray:
    """Circular shift by a whole number of samples in ``[-max_samples, max_samples]``.

    Circular, because a heart-sound clip is quasi-periodic: the wrap joins two
    cardiac cycles instead of inserting silence.
    """
    if max_samples <= 0:
        return clip.copy()
    return np.roll(clip, int(rng.integers(-max_samples, max_samples + 1)))


def random_equalizer(
    clip: np.ndarray, rng: np.random.Generator, sample_rate: int, max_db: float
) -> np.ndarray:
    """Filter ``clip`` with a random smooth EQ curve and a random band-pass.

    The curve is a sum of three Gaussian bumps on a log-frequency axis, scaled
    so its peak magnitude is ``max_db`` dB at most; the band-pass has a random
    low edge in 10-60 Hz and a random high edge between 40 % and 100 % of
    Nyquist, each a gentle (second-order-like) roll-off. Applied by FFT, so
    phase is untouched.
    """
    n = len(clip)
    freqs = np.fft.rfftfreq(n, d=1.0 / sample_rate)
    log_f = np.log2(np.maximum(freqs, 1.0))
    low, high = np.log2(10.0), np.log2(sample_rate / 2.0)
    curve = np.zeros_like(log_f)
    for _ in range(3):
        centre = rng.uniform(low, high)
        width = rng.uniform(0.3, 1.5)  # octaves
        curve += rng.uniform(-1.0, 1.0) * np.exp(-0.5 * ((log_f - centre) / width) ** 2)
    peak = np.max(np.abs(curve))
    if peak > 0:
        curve *= rng.uniform(0.0, max_db) / peak
    f_low = rng.uniform(10.0, 60.0)
    f_high = rng.uniform(0.4, 1.0) * sample_rate / 2.0
    with np.errstate(divide="ignore"):
        high_pass = 1.0 / (1.0 + (f_low / np.maximum(freqs, 1e-9)) ** 4)
    low_pass = 1.0 / (1.0 + (freqs / f_high) ** 4)
    response = 10.0 ** (curve / 20.0) * np.sqrt(high_pass * low_pass)
    return np.fft.irfft(np.fft.rfft(clip) * response, n=n).astype(np.float32)


def random_clipping(clip: np.ndarray, rng: np.random.Generator, min_fraction: float) -> np.ndarray:
    """Hard-clip ``clip`` at a level drawn from ``[min_fraction, 1]`` times its peak."""
    peak = float(np.max(np.abs(clip)))
    level = rng.uniform(min_fraction, 1.0) * peak
    return np.clip(clip, -level, level).astype(np.float32)


def random_truncation(clip: np.ndarray, rng: np.random.Generator, min_samples: int) -> np.ndarray:
    """A random segment of ``clip``, at least ``min_samples`` long, moved to the start
    and followed by zeros: what :func:`audiofuse.features.fix_length` makes of a
    recording shorter than one clip."""
    n = len(clip)
    length = int(rng.integers(min(max(1, min_samples), n), n + 1))
    start = int(rng.integers(0, n - length + 1))
    out = np.zeros_like(clip, dtype=np.float32)
    out[:length] = clip[start : start + length]
    return out


def spec_augment(
    image: np.ndarray,
    rng: np.random.Generator,
    *,
    time_masks: int,
    freq_masks: int,
    time_mask_frac: float = 0.1,
    freq_mask_frac: float = 0.1,
) -> np.ndarray:
    """SpecAugment (Park et al., 2019): zero random column and row bands.

    ``image`` is (rows=mel bands, cols=frames[, 1]) scaled to [0, 1]; masks are
    filled with the image mean so they add no artificial edges of extreme value.
    """
    out = image.copy()
    rows, cols = out.shape[0], out.shape[1]
    fill = float(out.mean())
    for count, size, frac, axis in (
        (time_masks, cols, time_mask_frac, 1),
        (freq_masks, rows, freq_mask_frac, 0),
    ):
        widest = max(1, int(round(frac * size)))
        for _ in range(count):
            width = int(rng.integers(0, widest + 1))
            start = int(rng.integers(0, size - width + 1))
            if axis == 1:
                out[:, start : start + width] = fill
            else:
                out[start : start + width, :] = fill
    return out


def mixup(
    inputs: dict[str, np.ndarray],
    labels: np.ndarray,
    rng: np.random.Generator,
    alpha: float,
    weights: np.ndarray | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray | None]:
    """Mixup (Zhang et al., 2018) within a batch: one lambda per example.

    Every input of an example is mixed with the same partner and lambda, so
    the two branches stay aligned. Labels become soft targets; sample weights,
    when given, are mixed the same way.
    """
    n = len(labels)
    lam = rng.beta(alpha, alpha, size=n).astype(np.float32)
    partner = rng.permutation(n)

    def mix(values: np.ndarray) -> np.ndarray:
        shape = (n,) + (1,) * (values.ndim - 1)
        return (lam.reshape(shape) * values + (1 - lam.reshape(shape)) * values[partner]).astype(
            np.float32
        )

    mixed_weights = None if weights is None else mix(np.asarray(weights, np.float32))
    return {k: mix(v) for k, v in inputs.items()}, mix(labels.astype(np.float32)), mixed_weights


def _augment_waveform(clip: np.ndarray, rng, cfg: AugmentConfig, fcfg: FeatureConfig):
    if cfg.eq_db:
        clip = random_equalizer(clip, rng, fcfg.sample_rate, cfg.eq_db)
    if cfg.clip_fraction:
        clip = random_clipping(clip, rng, cfg.clip_fraction)
    if cfg.max_shift_seconds:
        clip = time_shift(clip, rng, int(round(cfg.max_shift_seconds * fcfg.sample_rate)))
    if cfg.snr_db:
        clip = add_noise_at_snr(clip, rng, tuple(cfg.snr_db))
    if cfg.gain_db:
        clip = random_gain(clip, rng, cfg.gain_db)
    return clip


def augment_clips(
    inputs: dict[str, np.ndarray],
    rng: np.random.Generator,
    cfg: AugmentConfig,
    features: FeatureConfig,
) -> dict[str, np.ndarray]:
    """Augment each example of a batch with probability ``cfg.probability``, and cut
    it short with probability ``cfg.truncate_probability`` (after the other
    waveform augmentations, so that the zeros stay zeros).

    Parameters
    ----------
    inputs : dict
        The model's batch inputs: ``"waveform"`` (n, samples, 1) and/or
        ``"spectrogram"`` (n, rows, cols, 1). Waveform-domain augmentation
        needs the waveform, so a spectrogram-only batch gets SpecAugment only.
    rng : numpy.random.Generator
    cfg : AugmentConfig
    features : FeatureConfig
        The profile's feature settings (sample rate, image size, normalisation).

    Returns
    -------
    dict
        New arrays of the same shapes; the inputs are not modified.
    """
    out = {k: np.array(v, dtype=np.float32, copy=True) for k, v in inputs.items()}
    n = len(next(iter(out.values())))
    draws = rng.random(n)
    # drawn apart, and only when on, so that recipes without truncation draw as before
    truncated = (
        rng.random(n) < cfg.truncate_probability
        if cfg.truncate_probability > 0
        else np.zeros(n, dtype=bool)
    )
    chosen = np.flatnonzero((draws < cfg.probability) | truncated)
    has_wave, has_spec = "waveform" in out, "spectrogram" in out
    min_samples = int(round(cfg.truncate_min_seconds * features.sample_rate))
    for i in chosen:
        other = draws[i] < cfg.probability
        if cfg.waveform_domain and has_wave:
            clip = out["waveform"][i, :, 0]
            if other:
                clip = _augment_waveform(clip, rng, cfg, features)
            if truncated[i]:
                clip = random_truncation(clip, rng, min_samples)
            if has_spec:
                out["spectrogram"][i, :, :, 0] = log_mel_image(clip, features)
            out["waveform"][i, :, 0] = normalize_waveform(clip, features.waveform_norm)
        if other and has_spec and (cfg.time_masks or cfg.freq_masks):
            out["spectrogram"][i] = spec_augment(
                out["spectrogram"][i],
                rng,
                time_masks=cfg.time_masks,
                freq_masks=cfg.freq_masks,
                time_mask_frac=cfg.time_mask_frac,
                freq_mask_frac=cfg.freq_mask_frac,
            )
    return out
