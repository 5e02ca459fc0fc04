"""predict labels a recording that fails the quality gate ``unsure``; cli stays light."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from audiofuse import cli


def test_import_cli_pulls_in_no_tensorflow():
    code = "import sys, audiofuse.cli; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.slow
def test_silence_and_noise_are_unsure(tmp_path):
    if not (cli.DEFAULT_MODEL / "best.keras").exists():
        pytest.skip("no committed default model")
    from audiofuse.predict import Predictor

    predictor = Predictor.load(cli.DEFAULT_MODEL)
    silence, noise = tmp_path / "silence.wav", tmp_path / "noise.wav"
    sf.write(silence, np.zeros(20000, dtype=np.float32), 2000)
    sf.write(noise, np.random.default_rng(0).normal(0, 0.1, 20000).astype(np.float32), 2000)
    for path in (silence, noise):
        result = predictor.predict_file(path)
        assert result["label"] == "unsure"
        assert result["quality"] != "ok"


def test_plot_prediction_writes_a_png(tmp_path):
    from audiofuse.predict_plots import plot_prediction
    from audiofuse.synthetic import synthesize_pcg

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
