"""The NumPy log-Mel pieces equal librosa's (whose import is too slow for predict)."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from audiofuse.config import get_profile
from audiofuse.features.spectral import mel_filterbank, power_to_db, stft_power


def _clip(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return (np.sin(0.03 * t) * np.exp(-((t % 900) / 60.0)) + 0.05 * rng.standard_normal(n)).astype(
        np.float32
    )


@pytest.mark.parametrize("profile", ["smoke", "cpu", "paper"])
def test_mel_filterbank_equals_librosa(profile):
    f = get_profile(profile).features
    ours = mel_filterbank(f.sample_rate, f.n_fft, f.n_mels, f.fmin, f.fmax)
    theirs = librosa.filters.mel(
        sr=f.sample_rate, n_fft=f.n_fft, n_mels=f.n_mels, fmin=f.fmin, fmax=f.fmax
    )
    assert ours.dtype == theirs.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("n_fft, hop, n", [(256, 40, 10000), (2048, 512, 110250), (128, 32, 37)])
def test_stft_power_equals_librosa(n_fft, hop, n):
    clip = _clip(n)
    ours = stft_power(clip, n_fft, hop)
    theirs = np.abs(librosa.stft(clip, n_fft=n_fft, hop_length=hop)) ** 2
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6 * theirs.max())


def test_power_to_db_equals_librosa():
    power = np.abs(librosa.stft(_clip(10000))) ** 2
    np.testing.assert_allclose(power_to_db(power), librosa.power_to_db(power, ref=np.max), atol=1e-4)
    silent = np.zeros((4, 5), np.float32)
    np.testing.assert_array_equal(power_to_db(silent), librosa.power_to_db(silent, ref=np.max))
