"""Clean one-line errors for damaged model folders (issue 13, section 4)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import soundfile as sf

from audiofuse.cli.main import main
from audiofuse.data.splits import TrainingError
from audiofuse.model.training import load_trained
from audiofuse.predict.resources import models_root

#: a committed model with both runtimes (the default ships ONNX only)
KERAS_AND_ONNX = models_root() / "audiofuse-plus"


@pytest.fixture
def model_copy(tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(KERAS_AND_ONNX, folder)
    return folder


@pytest.fixture
def recording(tmp_path):
    path = tmp_path / "tone.wav"
    t = np.arange(2000 * 6) / 2000
    sf.write(str(path), (0.3 * np.sin(2 * np.pi * 50 * t)).astype(np.float32), 2000)
    return path


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and err.count("\n") == 0, err
    return err


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_corrupt_best_keras_names_the_file(model_copy, damage):
    path = model_copy / "best.keras"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"\0" * 1000)
    with pytest.raises(TrainingError, match="corrupt or truncated") as err:
        load_trained(model_copy)
    assert str(path) in str(err.value) and "File not found" not in str(err.value)


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", "\xff"])
def test_invalid_config_json_names_the_file(model_copy, text):
    (model_copy / "config.json").write_text(text, encoding="latin-1")
    with pytest.raises(TrainingError) as err:
        load_trained(model_copy)
    assert str(model_copy / "config.json") in str(err.value)


def test_cli_predict_with_corrupt_model_is_one_line(model_copy, recording, capsys):
    (model_copy / "model.onnx").unlink()  # the Keras path reads best.keras
    (model_copy / "best.keras").write_bytes(b"PK\x03\x04 but nothing else")
    assert main(["predict", "--model", str(model_copy), str(recording)]) != 0
    err = _one_line_error(capsys)
    assert str(model_copy / "best.keras") in err


def test_cli_predict_with_corrupt_onnx_is_one_line(model_copy, recording, capsys):
    (model_copy / "model.onnx").write_bytes(b"not an onnx graph")
    assert main(["predict", "--model", str(model_copy), str(recording)]) != 0
    assert str(model_copy / "model.onnx") in _one_line_error(capsys)


def test_cli_predict_with_invalid_config_is_one_line(model_copy, recording, capsys):
    (model_copy / "config.json").write_text('{"profile": ')
    assert main(["predict", "--model", str(model_copy), str(recording)]) != 0
    err = _one_line_error(capsys)
    assert str(model_copy / "config.json") in err and "invalid JSON" in err


def test_cli_evaluate_with_invalid_config_is_one_line(model_copy, capsys):
    (model_copy / "config.json").write_text("nope")
    assert main(["evaluate", str(model_copy)]) != 0
    assert str(model_copy / "config.json") in _one_line_error(capsys)
