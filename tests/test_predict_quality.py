"""predict labels a recording that fails the quality gate ``unsure``; cli stays light."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from audiofuse.cli import main as cli


def test_import_cli_pulls_in_no_tensorflow():
    code = "import sys, audiofuse.cli.main; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.slow
def test_silence_and_noise_are_unsure(tmp_path):
    if not (cli.DEFAULT_MODEL / "model.onnx").exists():
        pytest.skip("no committed default model")
    from audiofuse.predict.predictor import Predictor

    predictor = Predictor.load(cli.DEFAULT_MODEL)
    silence, noise = tmp_path / "silence.wav", tmp_path / "noise.wav"
    sf.write(silence, np.zeros(20000, dtype=np.float32), 2000)
    sf.write(noise, np.random.default_rng(0).normal(0, 0.1, 20000).astype(np.float32), 2000)
    for path in (silence, noise):
        result = predictor.predict_file(path)
        assert result["label"] == "unsure"
        assert result["quality"] != "ok"


def test_plot_prediction_writes_a_png(tmp_path):
    from audiofuse.data.synthetic import synthesize_pcg
    from audiofuse.predict.plot import plot_prediction

    samples = synthesize_pcg(12.0, 2000, rng=np.random.default_rng(0)).astype(np.float32)
    result = {
        "file": "x.wav",
        "window_p_abnormal": [0.2, 0.7, 0.4],
        "window_start_s": [0.0, 2.5, 7.0],
        "window_seconds": 5.0,
        "threshold": 0.5,
        "p_abnormal": 0.43,
        "label": "normal",
    }
    out = plot_prediction(samples, 2000, result, tmp_path / "plots" / "x.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list((tmp_path / "plots").glob("*.tmp*"))


def test_streaming_read_matches_a_one_shot_resample(tmp_path):
    """predict reads and resamples in blocks; the result equals resampling the whole file."""
    import soundfile as sf
    import soxr

    from audiofuse.config import get_profile
    from audiofuse.predict.predictor import _read_at_rate
    from audiofuse.predict.quality import clipped_fraction

    cfg = get_profile("cpu").features
    rng = np.random.default_rng(0)
    rate = 44100
    signal = np.clip(0.3 * rng.standard_normal(rate * 70), -0.9, 0.9).astype(np.float32)  # 3 blocks
    signal[1000:1200] = 1.0  # a clipped stretch at full scale
    path = tmp_path / "long.wav"
    sf.write(path, signal, rate, subtype="FLOAT")
    samples, (frames, native_rate, clipped), nonfinite = _read_at_rate(path, cfg, True)
    expected = soxr.resample(signal, rate, cfg.sample_rate, quality="HQ")
    assert (frames, native_rate, nonfinite) == (len(signal), rate, 0)
    assert abs(len(samples) - len(expected)) <= 1
    n = min(len(samples), len(expected))
    assert np.max(np.abs(samples[:n] - expected[:n])) < 1e-3
    assert clipped == pytest.approx(clipped_fraction(signal), abs=1e-12)
    assert clipped == pytest.approx(200 / len(signal), abs=1e-12)
    first, _, _ = _read_at_rate(path, cfg, False)
    assert len(first) <= int((cfg.clip_seconds + 0.05) * cfg.sample_rate) + 1
