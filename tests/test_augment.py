"""Augmentation functions: shapes, strength, determinism, and branch consistency."""

from __future__ import annotations

import numpy as np
import pytest

from audiofuse.config import get_profile
from audiofuse.features.augment import (
    AugmentConfig,
    add_noise_at_snr,
    augment_clips,
    mixup,
    random_clipping,
    random_equalizer,
    random_gain,
    spec_augment,
    time_shift,
)
from audiofuse.features.extract import clip_features

SR = 2000


def _pcg_like(seconds: float = 5.0, seed: int = 0) -> np.ndarray:
    """Two 50 ms tone bursts per second (S1, S2) in low-level noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    clip = 0.01 * rng.standard_normal(len(t))
    for beat in np.arange(0.1, seconds, 1.0):
        for onset, freq in ((beat, 60.0), (beat + 0.3, 90.0)):
            idx = (t >= onset) & (t < onset + 0.05)
            clip[idx] += np.sin(2 * np.pi * freq * t[idx])
    return clip.astype(np.float32)


def test_gain_is_within_range_and_noise_hits_its_snr():
    rng = np.random.default_rng(0)
    clip = _pcg_like()
    for _ in range(20):
        ratio = np.max(np.abs(random_gain(clip, rng, 6.0))) / np.max(np.abs(clip))
        assert 10 ** (-6 / 20) - 1e-6 <= ratio <= 10 ** (6 / 20) + 1e-6
    noisy = add_noise_at_snr(clip, rng, (10.0, 10.0))
    noise = noisy - clip
    snr = 10 * np.log10(np.mean(clip.astype(float) ** 2) / np.mean(noise.astype(float) ** 2))
    assert abs(snr - 10.0) < 0.3
    silent = np.zeros(100, np.float32)
    assert np.array_equal(add_noise_at_snr(silent, rng, (0.0, 5.0)), silent)


def test_time_shift_is_circular_and_bounded():
    rng = np.random.default_rng(1)
    clip = np.arange(50, dtype=np.float32)
    for _ in range(10):
        shifted = time_shift(clip, rng, 5)
        lag = int(np.argmin(shifted))
        assert min(lag, 50 - lag) <= 5
        assert sorted(shifted) == sorted(clip)
    assert np.array_equal(time_shift(clip, rng, 0), clip)


def test_equalizer_keeps_length_and_bounds_its_gain():
    rng = np.random.default_rng(2)
    clip = _pcg_like()
    out = random_equalizer(clip, rng, SR, 6.0)
    assert out.shape == clip.shape and out.dtype == np.float32
    spectrum_in = np.abs(np.fft.rfft(clip))
    spectrum_out = np.abs(np.fft.rfft(out))
    band = (np.fft.rfftfreq(len(clip), 1 / SR) > 100) & (np.fft.rfftfreq(len(clip), 1 / SR) < 300)
    ratio = spectrum_out[band] / np.maximum(spectrum_in[band], 1e-12)
    # the EQ curve is at most +6 dB; the band-pass only attenuates
    assert ratio.max() <= 10 ** (6 / 20) + 1e-3
    assert not np.allclose(out, clip)


def test_random_clipping_limits_the_peak():
    rng = np.random.default_rng(8)
    clip = _pcg_like()
    for _ in range(10):
        out = random_clipping(clip, rng, 0.5)
        peak = np.max(np.abs(out))
        assert 0.5 * np.max(np.abs(clip)) - 1e-6 <= peak <= np.max(np.abs(clip)) + 1e-6
        assert np.allclose(out[np.abs(clip) < peak], clip[np.abs(clip) < peak])


def test_spec_augment_masks_only_bands_with_the_mean():
    rng = np.random.default_rng(3)
    image = np.random.default_rng(4).random((32, 64, 1)).astype(np.float32)
    out = spec_augment(image, rng, time_masks=2, freq_masks=2, time_mask_frac=0.2)
    changed = out != image
    assert changed.any()
    assert np.allclose(out[changed], image.mean())
    cols_changed = changed.any(axis=(0, 2))
    rows_changed = changed.any(axis=(1, 2))
    # every changed pixel lies in a fully masked column or row
    for r, c in zip(*np.nonzero(changed[..., 0]), strict=True):
        assert changed[:, c, 0].all() or changed[r, :, 0].all()
    assert cols_changed.sum() <= 2 * round(0.2 * 64) + 64 * (rows_changed.sum() > 0)


def test_mixup_mixes_all_inputs_with_one_partner():
    rng = np.random.default_rng(5)
    n = 8
    inputs = {"a": np.arange(n, dtype=np.float32)[:, None], "b": 10 * np.arange(n, dtype=np.float32)}
    labels = (np.arange(n) % 2).astype(np.float32)
    mixed, soft, weights = mixup(inputs, labels, rng, alpha=0.4, weights=np.ones(n))
    assert np.allclose(mixed["b"], 10 * mixed["a"][:, 0])  # same partner and lambda
    assert ((soft >= 0) & (soft <= 1)).all()
    assert np.allclose(weights, 1.0)


@pytest.mark.parametrize("kind", ["fusion", "spectrogram", "waveform"])
def test_augment_clips_keeps_branches_consistent(kind):
    features = get_profile("cpu").features
    clips = [_pcg_like(seed=s)[: features.clip_samples] for s in range(3)]
    pairs = [clip_features(c, features) for c in clips]
    batch = {}
    if kind in ("fusion", "spectrogram"):
        batch["spectrogram"] = np.stack([p[0] for p in pairs])[..., None]
    if kind in ("fusion", "waveform"):
        batch["waveform"] = np.stack([p[1] for p in pairs])[..., None]
    cfg = AugmentConfig(probability=1.0, eq_db=6.0, snr_db=(10.0, 20.0), max_shift_seconds=0.5)
    first = augment_clips(batch, np.random.default_rng(7), cfg, features)
    again = augment_clips(batch, np.random.default_rng(7), cfg, features)
    for name in batch:
        assert first[name].shape == batch[name].shape
        assert np.array_equal(first[name], again[name])  # deterministic given the rng
    if kind == "fusion":
        # the image is recomputed from the augmented clip: both branches see the same audio
        recomputed, _ = clip_features(first["waveform"][0, :, 0], features)
        # interior frames: the edge frames also see the clip's DC offset (see below)
        assert np.allclose(first["spectrogram"][0, :, 2:-2, 0], recomputed[:, 2:-2], atol=1e-4)
    if kind == "spectrogram":
        assert np.array_equal(first["spectrogram"], batch["spectrogram"])  # needs the audio


def test_recomputed_image_does_not_depend_on_gain():
    """Why waveform-domain augmentation may start from the normalised clip.

    (A DC offset is the one difference: it changes the edge frames, and through
    the min-max scaling sometimes the rest; see the module docstring.)
    """
    features = get_profile("cpu").features
    clip = _pcg_like()[: features.clip_samples]
    clip = 3.0 * (clip - clip.mean())
    image, wave = clip_features(clip, features)
    again, _ = clip_features(wave, features)
    assert np.abs(image - again).max() < 1e-4


def test_default_config_is_off():
    cfg = AugmentConfig()
    assert not cfg.enabled and not cfg.waveform_domain
    assert AugmentConfig(mixup_alpha=0.2).enabled
    assert not AugmentConfig(eq_db=6.0).enabled  # probability 0
