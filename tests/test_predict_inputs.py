"""``audiofuse predict`` takes what people have: folders, phone formats, damaged samples.

These run the committed default model (ONNX: no TensorFlow), so they are quick.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audiofuse.cli import main as cli
from audiofuse.predict.inputs import AUDIO_SUFFIXES, conversion_hint, expand_inputs

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module", autouse=True)
def committed_model():
    if not (cli.DEFAULT_MODEL / "model.onnx").exists():
        pytest.skip("no committed ONNX default model in this checkout")


@pytest.fixture(scope="module")
def heart_sound() -> np.ndarray:
    """12 s of synthetic phonocardiogram at 2 kHz."""
    from audiofuse.data.synthetic import synthesize_pcg

    return synthesize_pcg(12.0, 2000, rng=np.random.default_rng(0)).astype(np.float32)


def run(argv, capsys) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_folders_are_walked_recursively_in_sorted_order(tmp_path, heart_sound, capsys):
    tree = tmp_path / "recordings"
    (tree / "b" / "deeper").mkdir(parents=True)
    (tree / "a").mkdir()
    for name in ("b/deeper/z.flac", "a/y.wav", "b/x.ogg", "top.WAV"):
        sf.write(tree / name, heart_sound, 2000)
    (tree / "notes.txt").write_text("not audio")
    (tree / "a" / "cover.jpg").write_bytes(b"\xff\xd8")
    files, notes = expand_inputs([tree])
    assert files == [str(tree / n) for n in ("a/y.wav", "b/deeper/z.flac", "b/x.ogg", "top.WAV")]
    assert notes == [f"{tree}: 4 audio files (.flac, .ogg, .wav)"]
    assert ".m4a" in AUDIO_SUFFIXES and ".txt" not in AUDIO_SUFFIXES

    code, out, err = run(["predict", tree, "--format", "json"], capsys)
    assert code == 0, err
    assert [r["file"] for r in json.loads(out)] == files
    assert f"audiofuse: {tree}: 4 audio files" in err


def test_a_folder_without_audio_is_one_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, out, err = run(["predict", tmp_path / "empty"], capsys)
    assert code == 2 and out == ""
    assert err.splitlines()[-1] == f"audiofuse: error: {tmp_path / 'empty'}: no audio files found"


def test_nan_samples_make_a_recording_unsure_not_refused(tmp_path, heart_sound, capsys):
    damaged = heart_sound.copy()
    damaged[3000:3100] = np.nan
    damaged[5000] = np.inf
    few = tmp_path / "few_nan.wav"
    sf.write(few, damaged, 2000, subtype="FLOAT")
    mostly = tmp_path / "mostly_nan.wav"
    sf.write(mostly, np.where(np.arange(len(heart_sound)) % 4 == 0, heart_sound, np.nan),
             2000, subtype="FLOAT")
    code, out, err = run(["predict", few, mostly, "--format", "json"], capsys)
    assert code == 2
    scored, refused = json.loads(out)
    assert scored["label"] == "unsure" and scored["nonfinite_samples"] == 101
    assert scored["reason"].startswith("101 NaN or infinite samples (0.42%) set to zero")
    assert 0.0 <= scored["p_abnormal"] <= 1.0
    assert refused["label"] == "error" and "p_abnormal" not in refused
    assert refused["error"] == "18000 of 24000 samples are NaN or infinite; nothing usable is left"
    assert err.splitlines()[-1] == f"audiofuse: error: {mostly}: {refused['error']}"


def test_table_and_csv_keep_one_row_per_input(tmp_path, heart_sound, capsys):
    good, short = tmp_path / "good.flac", tmp_path / "short.flac"
    sf.write(good, heart_sound, 2000)
    sf.write(short, heart_sound[:3000], 2000)  # 1.5 s: too short for a verdict
    missing = tmp_path / "missing.wav"
    code, out, _ = run(["predict", good, short, missing], capsys)
    assert code == 2
    header, columns, *rows = out.splitlines()
    assert "abnormal when P(abnormal) >=" in header
    assert columns.split()[-1] == "reason"
    short_row = rows[1].split()
    assert short_row[:3] == [str(short), "unsure", "-"]  # no verdict-like number
    assert "too short (1.50 s < 2 s)" in rows[1]
    assert rows[2].split()[:2] == [str(missing), "error"] and rows[2].endswith("file not found")
    assert rows[-1].startswith("unsure: ")

    code, out, _ = run(["predict", good, short, missing, "--format", "csv"], capsys)
    table = list(csv.DictReader(io.StringIO(out)))
    assert code == 2 and [r["file"] for r in table] == [str(good), str(short), str(missing)]
    assert table[2]["error"] == "file not found" and table[2]["p_abnormal"] == ""
    assert table[1]["label"] == "unsure" and table[1]["reason"].startswith("too short")
    assert {"duration_s", "elapsed_s"} <= set(table[0])


def test_window_centres_stay_inside_a_short_recording(tmp_path, heart_sound, capsys):
    short = tmp_path / "short.flac"
    sf.write(short, heart_sound[:3000], 2000)
    code, out, _ = run(["predict", short, "--format", "json", "--plot", tmp_path / "plots"], capsys)
    (row,) = json.loads(out)
    assert row["window_start_s"] == [0.0] and row["window_centre_s"] == [0.75]
    assert Path(row["plot"]).read_bytes()[:4] == b"\x89PNG"


def _m4a(tmp_path: Path, samples: np.ndarray) -> Path:
    wav, m4a = tmp_path / "source.wav", tmp_path / "phone recording.m4a"
    sf.write(wav, samples, 2000)
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(wav), "-ar", "8000", "-c:a", "aac",
         str(m4a)],
        check=True,
    )
    return m4a


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_m4a_is_decoded_by_ffmpeg(tmp_path, heart_sound, capsys):
    m4a = _m4a(tmp_path, heart_sound)
    code, out, err = run(["predict", m4a, "--format", "json"], capsys)
    assert code == 0, err
    (row,) = json.loads(out)
    assert row["decoder"] == "ffmpeg" and row["file"] == str(m4a)
    assert row["duration_s"] == pytest.approx(12.0, abs=0.1)  # AAC pads a few ms
    assert 0.0 <= row["p_abnormal"] <= 1.0


def test_without_ffmpeg_the_error_names_the_conversion(tmp_path, monkeypatch, capsys):
    fake = tmp_path / "phone recording.m4a"
    fake.write_bytes(b"\x00\x00\x00\x20ftypM4A " + bytes(2000))
    monkeypatch.setenv("PATH", str(tmp_path / "no-binaries-here"))
    code, out, err = run(["predict", fake, "--format", "json"], capsys)
    assert code == 2
    (row,) = json.loads(out)
    assert row["error"].startswith("cannot decode audio (")
    assert row["error"].endswith(f"; install ffmpeg, or convert it: {conversion_hint(fake)}")
    assert conversion_hint(fake) == f"ffmpeg -i '{fake}' '{tmp_path / 'phone recording.wav'}'"
    (line,) = [line for line in err.splitlines() if "error" in line]
    assert line == f"audiofuse: error: {fake}: {row['error']}"


def test_predict_help_lists_formats_and_examples(capsys):
    with pytest.raises(SystemExit):
        cli.main(["predict", "--help"])
    out = capsys.readouterr().out
    for text in ("M4A", "FLAC", "MP3", "examples:", "recordings/", "--format", "model.onnx"):
        assert text in out
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert "generate" not in out and "app" in out


@pytest.mark.slow
def test_keras_path_keeps_stderr_quiet(tmp_path, heart_sound):
    """The Keras path (a folder without model.onnx) prints no TensorFlow or absl lines."""
    folder = REPO / "models" / "audiofuse-cnn-paper"
    if not (folder / "best.keras").exists() or (folder / "model.onnx").exists():
        pytest.skip("no Keras-only committed model")
    wav = tmp_path / "x.wav"
    sf.write(wav, heart_sound, 2000)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    done = subprocess.run(
        [sys.executable, "-m", "audiofuse.cli", "predict", str(wav), "--model", str(folder)],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        f"audiofuse: note: {folder} has no model.onnx; using Keras "
        "(slow start; export with audiofuse export)"
    ]
