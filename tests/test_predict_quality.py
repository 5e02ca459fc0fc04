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
