"""Tests of the ``audiofuse`` command line and of prediction on your own files."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import soundfile as sf

from audiofuse.cli import main as cli
from audiofuse.config import Profile
from audiofuse.data.indexes import index_pascal, index_physionet, physionet_split
from audiofuse.features.extract import extract_features, window_starts
from audiofuse.predict.predictor import PredictError, Predictor

SUBCOMMANDS = [
    [],
    ["data"],
    ["data", "download"],
    ["data", "synthetic"],
    ["data", "index"],
    ["features"],
    ["train"],
    ["evaluate"],
    ["predict"],
    ["bench"],
]


def run(argv, capsys) -> tuple[int, str, str]:
    """``cli.main(argv)`` -> (exit code, stdout, stderr); argparse exits count too."""
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def model_dir(synthetic_roots, smoke_profile, tmp_path_factory):
    """A smoke waveform model trained for 2 epochs on a few synthetic records."""
    from audiofuse.model.training import train_model

    train, _ = physionet_split(index_physionet(synthetic_roots["physionet2016"]))
    sample = train.groupby("label").head(16).reset_index(drop=True)
    features = extract_features(sample, smoke_profile.features, n_jobs=1, progress=False)
    run_dir = tmp_path_factory.mktemp("model")
    train_model("waveform", smoke_profile, features, run_dir, seed=0, progress=False)
    return run_dir


@pytest.fixture(scope="module")
def split_recordings(synthetic_roots):
    """Two test-split recordings of the synthetic PhysioNet set."""
    _, test = physionet_split(index_physionet(synthetic_roots["physionet2016"]))
    return test["path"].head(2).tolist()


# --- help and data ---------------------------------------------------------------------------


@pytest.mark.parametrize("argv", SUBCOMMANDS, ids=lambda a: " ".join(a) or "audiofuse")
def test_help_exits_zero(argv, capsys):
    code, out, _ = run([*argv, "--help"], capsys)
    assert code == 0
    assert out.startswith("usage: audiofuse")


def test_no_subcommand_is_a_usage_error(capsys):
    code, _, err = run([], capsys)
    assert code == 2 and "usage:" in err


def test_data_index_prints_counts(synthetic_roots, capsys):
    table = index_physionet(synthetic_roots["physionet2016"])
    code, out, _ = run(["data", "index", "physionet2016", synthetic_roots["physionet2016"]], capsys)
    assert code == 0
    assert f"total {len(table)} recordings, {int(table['label'].sum())} abnormal (SYNTHETIC)" in out
    assert "split" in out and "test" in out and "train" in out

    pascal = index_pascal(synthetic_roots["pascal"])
    code, out, _ = run(["data", "index", "pascal", synthetic_roots["pascal"]], capsys)
    assert code == 0 and f"total {len(pascal)} recordings" in out
    assert "murmur" in out


def test_data_index_writes_csv(synthetic_roots, tmp_path, capsys):
    csv = tmp_path / "index.csv"
    code, _, _ = run(
        ["data", "index", "physionet2016", synthetic_roots["physionet2016"], "--csv", csv], capsys
    )
    n = len(index_physionet(synthetic_roots["physionet2016"]))
    assert code == 0 and len(csv.read_text().splitlines()) == n + 1


def test_data_index_of_a_missing_folder_is_one_line(tmp_path, capsys):
    code, out, err = run(["data", "index", "physionet2016", tmp_path / "nowhere"], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "nowhere" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "argv",
    [
        ["features"],
        ["train", "--models", "waveform", "--epochs", "1", "--runs-dir", "RUNS"],
        ["evaluate", "MODEL"],
    ],
    ids=["features", "train", "evaluate"],
)
def test_experiment_commands_honour_audiofuse_data_dir(
    argv, model_dir, tmp_path, monkeypatch, capsys
):
    """Not the synthetic data behind the user's back: $AUDIOFUSE_DATA_DIR is read (and
    here, an empty folder, refused in one line that names it)."""
    data = tmp_path / "my-data"
    data.mkdir()
    monkeypatch.setenv("AUDIOFUSE_DATA_DIR", str(data))
    argv = [str(model_dir) if a == "MODEL" else str(tmp_path / "runs") if a == "RUNS" else a
            for a in argv]
    code, out, err = run(argv, capsys)
    assert code != 0 and "Traceback" not in err
    assert err.count("\n") == 1 and str(data / "physionet2016") in err
    assert not (tmp_path / "runs").exists()


# --- predict ---------------------------------------------------------------------------------


def test_predict_one_good_file_json(model_dir, split_recordings, capsys):
    code, out, err = run(
        ["predict", split_recordings[0], "--model", model_dir, "--format", "json"], capsys
    )
    assert code == 0, err
    (result,) = json.loads(out)
    assert result["file"] == split_recordings[0]
    assert 0.0 <= result["p_abnormal"] <= 1.0
    assert result["label"] in ("normal", "abnormal")
    assert (result["label"] == "abnormal") == (result["p_abnormal"] >= result["threshold"])
    n = sf.info(split_recordings[0]).frames // 2  # smoke profile: 2000 Hz -> 1000 Hz
    assert result["windows"] == len(
        window_starts(n, Profile.from_dict(_config(model_dir)["profile"]).features)
    )
    assert len(result["window_p_abnormal"]) == result["windows"]
    assert result["model"] == str(model_dir)


def test_predict_first_only_scores_one_window(model_dir, split_recordings, capsys):
    code, out, _ = run(
        ["predict", split_recordings[0], "--model", model_dir, "--format", "json", "--first-only"],
        capsys,
    )
    assert code == 0 and json.loads(out)[0]["windows"] == 1


def test_predict_bad_files_among_good_ones(model_dir, split_recordings, tmp_path, capsys):
    missing = tmp_path / "missing.wav"
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(np.random.default_rng(0).bytes(3000))
    files = [split_recordings[0], missing, split_recordings[1], corrupt]
    code, out, err = run(["predict", *files, "--model", model_dir, "--format", "json"], capsys)
    assert code == 2
    rows = json.loads(out)  # one row per input, in order; failed ones with their error
    assert [r["file"] for r in rows] == [str(f) for f in files]
    assert [r["label"] for r in rows][1::2] == ["error", "error"]
    assert rows[1]["error"] == "file not found" and "p_abnormal" not in rows[1]
    assert rows[3]["error"].startswith("cannot decode audio") and "p_abnormal" not in rows[3]
    lines = [line for line in err.strip().splitlines() if "note:" not in line]
    assert len(lines) == 2 and "Traceback" not in err
    assert lines[0] == f"audiofuse: error: {missing}: file not found"
    assert lines[1].startswith(f"audiofuse: error: {corrupt}: cannot decode audio")

    code, out, err = run(["predict", *files, "--model", model_dir], capsys)  # table format
    assert code == 2
    header, columns, *table = out.splitlines()
    assert header.startswith(f"model {model_dir} (waveform, profile smoke); abnormal when")
    assert "research model, not a medical device" in header
    assert columns.split() == [
        "file", "label", "p_abnormal", "windows", "duration_s", "elapsed_s", "reason"
    ]
    assert [line.split()[0] for line in table] == [str(f) for f in files]
    assert table[1].split()[1:3] == ["error", "-"] and table[1].endswith("file not found")


def test_model_folder_without_best_keras(tmp_path, split_recordings, capsys):
    (tmp_path / "config.json").write_text("{}")
    code, out, err = run(["predict", split_recordings[0], "--model", tmp_path], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "best.keras" in err and "Traceback" not in err
    code, _, err = run(["predict", split_recordings[0], "--model", tmp_path / "nowhere"], capsys)
    assert code == 2 and "model folder not found" in err and err.count("\n") == 1


def _config(folder):
    return json.loads((folder / "config.json").read_text())


@pytest.mark.parametrize(
    "field, value", [("clip_seconds", 3.0), ("sample_rate", 2000)], ids=["clip", "rate"]
)
def test_model_that_does_not_fit_its_config(
    model_dir, split_recordings, tmp_path, capsys, field, value
):
    folder = tmp_path / "edited"
    shutil.copytree(model_dir, folder)
    config = _config(folder)
    config["profile"]["features"][field] = value
    (folder / "config.json").write_text(json.dumps(config))
    code, out, err = run(["predict", split_recordings[0], "--model", folder], capsys)
    assert code == 2 and out == ""
    assert "does not fit its configuration" in err and "'waveform'" in err
    assert err.count("\n") == 1
    with pytest.raises(PredictError, match="does not fit"):
        Predictor.load(folder)


def test_config_without_profile_is_rejected(model_dir, tmp_path):
    folder = tmp_path / "no_profile"
    shutil.copytree(model_dir, folder)
    (folder / "config.json").write_text(json.dumps({"kind": "waveform"}))
    with pytest.raises(PredictError, match="missing 'profile' or 'kind'"):
        Predictor.load(folder)


def test_predictor_handles_any_rate_and_length(model_dir, tmp_path):
    predictor = Predictor.load(model_dir)
    rng = np.random.default_rng(0)
    short = tmp_path / "short_44k.wav"  # 1.5 s at 44.1 kHz: one padded window
    sf.write(str(short), 0.1 * rng.standard_normal(int(1.5 * 44100)), 44100)
    result = predictor.predict_file(short)
    assert result["windows"] == 1 and result["duration_s"] == 1.5
    assert 0.0 <= result["p_abnormal"] <= 1.0
    assert "waveform" in repr(predictor)


# --- the real data ---------------------------------------------------------------------------


@pytest.mark.real_data
def test_predict_a_real_physionet_flac(model_dir, real_data_dir, capsys):
    path = real_data_dir / "physionet2016" / "training-a" / "a0001.flac"
    if not path.exists():
        pytest.skip(f"{path} not found")
    info = sf.info(str(path))
    assert info.samplerate == 2000
    code, out, err = run(["predict", path, "--model", model_dir, "--format", "json"], capsys)
    assert code == 0, err
    (result,) = json.loads(out)
    assert result["file"] == str(path)
    assert result["duration_s"] == pytest.approx(info.frames / info.samplerate, abs=0.01)
    assert result["windows"] >= 1 and 0.0 <= result["p_abnormal"] <= 1.0


@pytest.fixture(scope="module")
def fusion_dir(smoke_profile, tmp_path_factory):
    """An (untrained) smoke fusion model saved as an exported model folder."""
    from audiofuse.model.architecture import build_model

    folder = tmp_path_factory.mktemp("fusion")
    build_model("fusion", smoke_profile.features, smoke_profile.model).save(folder / "best.keras")
    config = {"kind": "fusion", "profile": smoke_profile.to_dict(), "threshold": 0.3}
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_fusion_model_predicts_with_both_inputs(fusion_dir, split_recordings, tmp_path):
    predictor = Predictor.load(fusion_dir)
    assert (predictor.kind, predictor.threshold) == ("fusion", 0.3)
    result = predictor.predict_file(split_recordings[0])
    assert 0.0 <= result["p_abnormal"] <= 1.0 and result["threshold"] == 0.3
    assert (result["label"] == "abnormal") == (result["p_abnormal"] >= 0.3)

    folder = tmp_path / "edited"
    shutil.copytree(fusion_dir, folder)
    config = _config(folder)
    config["profile"]["features"]["image_size"] = [64, 64]
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(PredictError, match="'spectrogram' has shape"):
        Predictor.load(folder)


def test_committed_default_model_scores_a_recording(split_recordings, capsys):
    """A fresh clone predicts without training: the committed model loads and scores."""
    if not (cli.DEFAULT_MODEL / "model.onnx").exists():
        pytest.skip("no committed model in this checkout")
    code, out, err = run(["predict", split_recordings[0], "--format", "json"], capsys)
    assert code == 0, err
    (result,) = json.loads(out)
    assert 0.0 <= result["p_abnormal"] <= 1.0
    assert result["label"] in {"normal", "abnormal"}


def test_train_runs_diagnostics_flag_reaches_the_context(monkeypatch):
    """``train-runs --diagnostics`` asks every run for its per-epoch test diagnostic."""
    from audiofuse import experiments

    calls = []
    monkeypatch.setattr(
        experiments, "train_runs", lambda kwargs, tables, **_: calls.append(kwargs) or []
    )
    assert cli.main(["train-runs", "--tables", "main", "--diagnostics"]) == 0
    assert cli.main(["train-runs", "--tables", "main"]) == 0
    assert [c["diagnostics"] for c in calls] == [True, False]
