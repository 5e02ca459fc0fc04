"""The signal-quality gate: what must fail and what must pass."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from audiofuse.data.audio import read_audio
from audiofuse.data.synthetic import synthesize_pcg
from audiofuse.predict.quality import assess, declared_wav_frames

RATE = 2000


def _rng():
    return np.random.default_rng(0)


@pytest.mark.parametrize(
    ("name", "signal", "reason"),
    [
        ("silence", np.zeros(10 * RATE), "silent"),
        ("0.1 s clip", _rng().normal(0, 0.1, RATE // 10), "too short"),
        ("1 s clip", _rng().normal(0, 0.1, RATE), "too short"),
        ("white noise", _rng().normal(0, 0.1, 10 * RATE), "noise"),
        ("clicks", np.where(_rng().random(10 * RATE) < 0.0015, 0.8, 0.0), "clicks"),
        ("clipped", np.clip(_rng().normal(0, 1.0, 10 * RATE), -1, 1), "clipped"),
    ],
)
def test_bad_signals_fail_with_a_reason(name, signal, reason):
    report = assess(signal, RATE)
    assert not report.ok, name
    assert reason in report.reason


def test_white_noise_at_44k_fails():
    assert not assess(_rng().normal(0, 0.1, 441000), 44100).ok


def test_synthetic_pcg_passes():
    pcg = synthesize_pcg(20.0, RATE, rng=np.random.default_rng(3))
    report = assess(pcg, RATE)
    assert report.ok, report.reason


def test_truncated_wav_fails(tmp_path):
    pcg = synthesize_pcg(20.0, RATE, rng=np.random.default_rng(3)).astype(np.float32)
    full = tmp_path / "full.wav"
    sf.write(full, pcg, RATE)
    assert declared_wav_frames(full) == len(pcg)
    cut = tmp_path / "cut.wav"
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) // 3])
    samples, rate = read_audio(cut)
    report = assess(samples, rate, declared_frames=declared_wav_frames(cut))
    assert not report.ok
    assert "truncated" in report.reason
    assert assess(*read_audio(full), declared_frames=declared_wav_frames(full)).ok


def test_flac_has_no_wav_header(real_data_dir):
    path = real_data_dir / "physionet2016" / "training-a" / "a0001.flac"
    assert declared_wav_frames(path) is None


@pytest.mark.parametrize("record", ["training-a/a0001", "training-a/a0007", "training-e/e00001"])
def test_real_physionet_records_pass(real_data_dir, record):
    samples, rate = read_audio(real_data_dir / "physionet2016" / f"{record}.flac")
    report = assess(samples, rate)
    assert report.ok, report.reason
