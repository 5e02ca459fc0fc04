"""The exported ONNX model gives the Keras model's P(abnormal); predict needs no TensorFlow."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from audiofuse.data.synthetic import synthesize_pcg
from audiofuse.predict.resources import models_root

#: a committed model with both runtimes (the default, a seed ensemble, ships ONNX only)
MODEL = models_root() / "audiofuse-plus"


def _need_export():
    if not (MODEL / "model.onnx").exists() or not (MODEL / "best.keras").exists():
        pytest.skip("no committed model with its ONNX export")


@pytest.fixture(scope="module")
def predictors():
    _need_export()
    from audiofuse.predict.predictor import Predictor

    return Predictor.load(MODEL, runtime="onnx"), Predictor.load(MODEL, runtime="keras")


def _same(predictors, path):
    onnx_result, keras_result = (p.predict_file(path) for p in predictors)
    assert abs(onnx_result["p_abnormal_raw"] - keras_result["p_abnormal_raw"]) < 1e-5
    diffs = np.subtract(onnx_result["window_p_abnormal"], keras_result["window_p_abnormal"])
    assert np.max(np.abs(diffs)) <= 1e-4  # windows are rounded to 4 places
    assert onnx_result["label"] == keras_result["label"]


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_onnx_matches_keras_on_synthetic_recordings(predictors, tmp_path, seed):
    path = tmp_path / f"pcg{seed}.wav"
    sf.write(path, synthesize_pcg(17.0, 4000, rng=np.random.default_rng(seed)), 4000)
    _same(predictors, path)


@pytest.mark.slow
@pytest.mark.parametrize("record", ["training-a/a0007", "training-b/b0001", "training-e/e00010"])
def test_onnx_matches_keras_on_real_recordings(predictors, real_data_dir, record):
    _same(predictors, real_data_dir / "physionet2016" / f"{record}.flac")


def test_predict_imports_neither_tensorflow_nor_keras(tmp_path):
    _need_export()
    path = tmp_path / "pcg.wav"
    sf.write(path, synthesize_pcg(12.0, 2000, rng=np.random.default_rng(0)), 2000)
    code = (
        "import sys; from audiofuse.cli.main import main; "
        f"rc = main(['predict', {str(path)!r}, '--format', 'json']); "
        "print('TF', 'tensorflow' in sys.modules, 'keras' in sys.modules, rc)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "TF False False 0" in out.stdout, out.stderr[-2000:]
