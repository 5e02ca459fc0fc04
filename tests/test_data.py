"""Tests of the dataset indexes and audio reading (audiofuse.data.indexes)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from audiofuse.data.audio import AudioError, load_audio, read_audio
from audiofuse.data.indexes import (
    DatasetError,
    assert_disjoint,
    index_pascal,
    index_physionet,
    physionet_split,
)

SR = 2000


def _tone(seconds: float = 1.0, sample_rate: int = SR, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return (0.3 * np.sin(2 * np.pi * 50 * t) + 0.01 * rng.standard_normal(t.size)).astype(
        np.float32
    )


def _write_physionet(root: Path, records: dict[str, int], test: tuple[str, ...] = ()) -> Path:
    """A tiny PhysioNet layout in training-a; ``records`` maps name -> official label (1/-1)."""
    folder = root / "training-a"
    folder.mkdir(parents=True)
    for i, name in enumerate(records):
        sf.write(str(folder / f"{name}.wav"), _tone(1.0, seed=i), SR, subtype="PCM_16")
    (folder / "REFERENCE.csv").write_text("".join(f"{r},{lab}\n" for r, lab in records.items()))
    if test:
        (root / "validation").mkdir()
        (root / "validation" / "REFERENCE.csv").write_text(
            "".join(f"{r},{records[r]}\n" for r in test)
        )
    return root


# --- PhysioNet index on the synthetic data ---------------------------------------------


def test_physionet_labels_are_mapped_from_official_codes(synthetic_roots):
    root = synthetic_roots["physionet2016"]
    table = index_physionet(root).set_index("record")
    for folder in sorted(root.glob("training-*")):
        reference = pd.read_csv(folder / "REFERENCE.csv", header=None, names=["record", "code"])
        expected = reference.set_index("record")["code"].map({1: 1, -1: 0})
        got = table.loc[expected.index, "label"]
        assert (got.to_numpy() == expected.to_numpy()).all()
    assert set(table["label"]) == {0, 1}
    assert table["path"].map(lambda p: Path(p).is_file()).all()


def test_physionet_split_is_disjoint_and_covers_everything(synthetic_roots):
    table = index_physionet(synthetic_roots["physionet2016"])
    train, test = physionet_split(table)
    assert len(train) + len(test) == len(table)
    assert not set(train["record"]) & set(test["record"])
    validation = pd.read_csv(
        synthetic_roots["physionet2016"] / "validation" / "REFERENCE.csv", header=None
    )
    assert set(test["record"]) == set(validation[0])


def test_overlapping_split_raises():
    train = pd.DataFrame({"record": ["a0001", "a0002", "a0003"], "split": "train"})
    test = pd.DataFrame({"record": ["a0003", "a0004"], "split": "test"})
    with pytest.raises(DatasetError, match="a0003"):
        assert_disjoint(train, test)
    # a record listed twice, once in each split, is caught by physionet_split too
    with pytest.raises(DatasetError, match="both splits"):
        physionet_split(pd.concat([train, test], ignore_index=True))


def test_wav_and_flac_are_both_accepted(tmp_path):
    root = _write_physionet(tmp_path / "physionet2016", {"a0001": 1, "a0002": -1, "a0003": -1})
    folder = root / "training-a"
    samples, rate = sf.read(str(folder / "a0002.wav"), dtype="int16")
    sf.write(str(folder / "a0002.flac"), samples, rate, subtype="PCM_16")
    (folder / "a0002.wav").unlink()

    table = index_physionet(root).set_index("record")
    assert list(table.index) == ["a0001", "a0002", "a0003"]
    assert table.loc["a0002", "path"].endswith("a0002.flac")
    assert table.loc["a0001", "path"].endswith("a0001.wav")
    assert table["label"].tolist() == [1, 0, 0]
    assert (table["sample_rate"] == SR).all()
    flac, flac_rate = read_audio(table.loc["a0002", "path"])
    assert flac_rate == SR
    np.testing.assert_array_equal(flac, samples.astype(np.float32) / 32768)


def test_test_split_comes_from_validation_folder(tmp_path):
    root = _write_physionet(
        tmp_path / "p", {"a0001": 1, "a0002": -1, "a0003": 1, "a0004": -1}, test=("a0003",)
    )
    train, test = physionet_split(index_physionet(root))
    assert test["record"].tolist() == ["a0003"]
    assert train["record"].tolist() == ["a0001", "a0002", "a0004"]


def test_bad_labels_and_missing_folders_raise(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        index_physionet(tmp_path / "nowhere")
    with pytest.raises(DatasetError, match="training-a"):
        index_physionet(tmp_path)
    root = _write_physionet(tmp_path / "p", {"a0001": 1, "a0002": -1})
    (root / "training-a" / "REFERENCE.csv").write_text("a0001,1\na0002,0\n")
    with pytest.raises(DatasetError, match="1 .abnormal. or -1"):
        index_physionet(root)


# --- bad audio files -------------------------------------------------------------------


def _missing(path: Path) -> None:
    pass


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _corrupt(path: Path) -> None:
    path.write_bytes(np.random.default_rng(0).bytes(4096))


def _zero_length(path: Path) -> None:
    sf.write(str(path), np.zeros(0, dtype=np.float32), SR, subtype="PCM_16")


def _nan(path: Path) -> None:
    samples = _tone()
    samples[100] = np.nan
    sf.write(str(path), samples, SR, subtype="FLOAT")


def _low_rate(path: Path) -> None:
    sf.write(str(path), _tone(1.0, 100), 100, subtype="PCM_16")


@pytest.mark.parametrize(
    "make, reason",
    [
        (_missing, "not found"),
        (_empty, "empty"),
        (_corrupt, "cannot decode"),
        (_zero_length, "zero samples"),
        (_nan, "NaN"),
        (_low_rate, "unusual sample rate 100 Hz"),
    ],
    ids=["missing", "empty", "corrupt", "zero_length", "nan", "rate_100hz"],
)
def test_bad_files_raise_audio_error_naming_the_file(tmp_path, make, reason):
    path = tmp_path / "bad_recording.wav"
    make(path)
    with pytest.raises(AudioError, match=reason) as info:
        read_audio(path)
    assert str(path) in str(info.value)
    assert info.value.path == str(path)
    # load_audio goes through the same checks
    with pytest.raises(AudioError, match="bad_recording.wav"):
        load_audio(path, 1000)


def test_directory_is_not_audio(tmp_path):
    with pytest.raises(AudioError, match="directory"):
        read_audio(tmp_path)


def test_stereo_is_averaged_with_a_warning(tmp_path):
    left, right = _tone(seed=1), _tone(seed=2)
    path = tmp_path / "stereo.wav"
    sf.write(str(path), np.stack([left, right], axis=1), SR, subtype="FLOAT")
    with pytest.warns(UserWarning, match="stereo.wav.*averaged to mono"):
        mono, rate = read_audio(path)
    assert rate == SR and mono.ndim == 1 and mono.dtype == np.float32
    np.testing.assert_allclose(mono, (left + right) / 2, atol=1e-7)
    with pytest.raises(AudioError, match="stereo.wav.*2 channels"):
        read_audio(path, allow_stereo=False)


def test_good_file_reads_and_resamples(tmp_path):
    path = tmp_path / "good.wav"
    sf.write(str(path), _tone(2.0), SR, subtype="PCM_16")
    samples, rate = read_audio(path)
    assert (rate, samples.shape, samples.dtype) == (SR, (2 * SR,), np.float32)
    resampled = load_audio(path, 1000)
    assert resampled.shape == (1000 * 2,) and resampled.dtype == np.float32
    first = load_audio(path, 1000, max_seconds=0.5)
    assert 500 <= len(first) < 600  # only the start is resampled


def test_index_skips_unusable_files_and_reports_them(tmp_path):
    root = _write_physionet(
        tmp_path / "p", {"a0001": 1, "a0002": -1, "a0003": -1, "a0004": 1, "a0005": -1}
    )
    folder = root / "training-a"
    _corrupt(folder / "a0002.wav")
    _empty(folder / "a0003.wav")
    (folder / "a0004.wav").unlink()
    with pytest.warns(UserWarning, match="skipped 3 unusable"):
        table = index_physionet(root)
    assert table["record"].tolist() == ["a0001", "a0005"]
    skipped = dict(table.attrs["skipped"])
    assert set(skipped) == {str(folder / f"a000{i}.wav") for i in (2, 3, 4)}
    assert "cannot read audio header" in skipped[str(folder / "a0002.wav")]
    assert "empty" in skipped[str(folder / "a0003.wav")]
    assert "not found" in skipped[str(folder / "a0004.wav")]


# --- PASCAL ----------------------------------------------------------------------------

KAGGLE_FILES = {
    "set_a/normal__201101070538.wav": ("A", "normal", 0),
    "set_a/murmur__201108222231.wav": ("A", "murmur", 1),
    "set_a/extrahls__201101241433.wav": ("A", "extrahls", 1),
    "set_a/artifact__201012172012.wav": ("A", "artifact", 1),
    "set_b/normal__103_1305031931979_B.wav": ("B", "normal", 0),
    "set_b/normal_noisynormal_101_1305030823364_B.wav": ("B", "normal", 0),
    "set_b/murmur_noisymurmur_135_1306428972976_A.wav": ("B", "murmur", 1),
    "set_b/extrastole__127_1306764300147_C2.wav": ("B", "extrastole", 1),
}
KAGGLE_UNLABELLED = (
    "set_a/Aunlabelledtest__201012172010.wav",
    "set_b/Bunlabelledtest__101_1305030823364_A.wav",
)

ARCHIVE_FILES = {
    "Atraining_normal/201101070538.wav": ("A", "normal", 0),
    "Atraining_murmur/201108222231.wav": ("A", "murmur", 1),
    "Atraining_extrahls/201101241433.wav": ("A", "extrahls", 1),
    "Atraining_artifact/201012172012.wav": ("A", "artifact", 1),
    "Btraining_normal/103_1305031931979_B.wav": ("B", "normal", 0),
    "Btraining_normal/Btraining_noisynormal/101_1305030823364_B.wav": ("B", "normal", 0),
    "Btraining_murmur/112_1306243000964_A.wav": ("B", "murmur", 1),
    "Btraining_murmur/Btraining_noisymurmur/135_1306428972976_A.wav": ("B", "murmur", 1),
    "Btraining_extrastole/127_1306764300147_C2.wav": ("B", "extrastole", 1),
}
ARCHIVE_UNLABELLED = (
    "Aunlabelledtest/201012172010.wav",
    "Bunlabelledtest/101_1305030823364_A.wav",
)


def _write_files(root: Path, names) -> None:
    for i, name in enumerate(names):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(path), _tone(0.5, 4000, seed=i), 4000, subtype="PCM_16")


@pytest.mark.parametrize(
    "files, unlabelled",
    [(KAGGLE_FILES, KAGGLE_UNLABELLED), (ARCHIVE_FILES, ARCHIVE_UNLABELLED)],
    ids=["kaggle", "original_archives"],
)
def test_pascal_labels_from_either_layout(tmp_path, files, unlabelled):
    root = tmp_path / "pascal"
    _write_files(root, list(files) + list(unlabelled))
    table = index_pascal(root)
    assert len(table) == len(files)  # unlabelled test files are left out
    got = {
        str(Path(p).relative_to(root)): (s, c, lab)
        for p, s, c, lab in table[["path", "set", "original_class", "label"]].itertuples(
            index=False
        )
    }
    assert got == files
    assert table.attrs["skipped"] == [] and not table.attrs["synthetic"]


def test_pascal_errors(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        index_pascal(tmp_path / "nowhere")
    _write_files(tmp_path / "other", ["notes/readme_like.wav"])
    with pytest.raises(DatasetError, match="no labelled PASCAL"):
        index_pascal(tmp_path / "other")
    root = tmp_path / "pascal"
    _write_files(root, list(KAGGLE_FILES))
    _corrupt(root / "set_a" / "murmur__201108222231.wav")
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        table = index_pascal(root)
    assert len(table) == len(KAGGLE_FILES) - 1
    assert [Path(p).name for p, _ in table.attrs["skipped"]] == ["murmur__201108222231.wav"]


# --- the real datasets -----------------------------------------------------------------


@pytest.fixture(scope="module")
def real_physionet(real_data_dir):
    return index_physionet(real_data_dir / "physionet2016")


@pytest.fixture(scope="module")
def real_pascal(real_data_dir):
    root = real_data_dir / "pascal"
    if not root.is_dir():
        pytest.skip(f"{root} not found")
    return index_pascal(root)


@pytest.mark.real_data
def test_real_physionet_counts(real_physionet):
    table = real_physionet
    assert len(table) == 3240
    assert int(table["label"].sum()) == 665
    assert table.attrs["skipped"] == [] and not table.attrs["synthetic"]
    assert set(table["sample_rate"]) == {2000}
    assert table.groupby("subset").size().to_dict() == {
        "a": 409,
        "b": 490,
        "c": 31,
        "d": 55,
        "e": 2141,
        "f": 114,
    }


@pytest.mark.real_data
def test_real_physionet_split(real_physionet):
    train, test = physionet_split(real_physionet)
    assert (len(train), len(test)) == (2939, 301)
    assert int(test["label"].sum()) == 151
    assert not set(train["record"]) & set(test["record"])


@pytest.mark.real_data
def test_real_pascal_counts(real_pascal):
    table = real_pascal
    assert len(table) == 585
    assert table["label"].value_counts().to_dict() == {0: 351, 1: 234}
    counts = table.groupby(["set", "original_class"]).size()
    assert counts["A"].to_dict() == {"artifact": 40, "extrahls": 19, "murmur": 34, "normal": 31}
    assert counts["B"].to_dict() == {"extrastole": 46, "murmur": 95, "normal": 320}
    assert (table["set"] == "A").sum() == 124 and (table["set"] == "B").sum() == 461
    assert not table["record"].str.contains("unlabelledtest", case=False).any()


def test_real_data_dir_fixture_contract(tmp_path, monkeypatch):
    """The conftest's finder checks the env vars in order and needs training-a."""
    from conftest import find_real_data_dir

    fake = tmp_path / "fake"
    (fake / "physionet2016" / "training-a").mkdir(parents=True)
    incomplete = tmp_path / "incomplete"
    (incomplete / "physionet2016").mkdir(parents=True)
    monkeypatch.setenv("AUDIOFUSE_REAL_DATA_DIR", str(incomplete))
    monkeypatch.setenv("AUDIOFUSE_DATA_DIR", str(fake))
    assert find_real_data_dir() == fake
    monkeypatch.setenv("AUDIOFUSE_REAL_DATA_DIR", str(fake))
    monkeypatch.setenv("AUDIOFUSE_DATA_DIR", str(incomplete))
    assert find_real_data_dir() == fake


# --- clean one-line errors (issue 13, section 4) ---------------------------------------


def test_empty_reference_csv_names_the_file(tmp_path):
    root = _write_physionet(tmp_path / "p", {"a0001": 1, "a0002": -1}, test=("a0002",))
    csv_path = root / "training-a" / "REFERENCE.csv"
    csv_path.write_text("")
    with pytest.raises(DatasetError, match=r"REFERENCE\.csv is empty") as err:
        index_physionet(root)
    assert str(csv_path) in str(err.value) and "\n" not in str(err.value)
    csv_path.write_text("\n\n")  # blank lines only: empty too
    with pytest.raises(DatasetError, match="is empty"):
        index_physionet(root)


def test_index_without_validation_folder_says_so(tmp_path):
    root = _write_physionet(tmp_path / "p", {"a0001": 1, "a0002": -1})
    with pytest.warns(UserWarning, match="validation"):
        table = index_physionet(root)
    with pytest.raises(DatasetError, match="validation/") as err:
        physionet_split(table)
    assert str(root / "validation" / "REFERENCE.csv") in str(err.value)


def test_cli_empty_reference_is_one_line_and_nonzero(tmp_path, capsys):
    from audiofuse.cli.main import main

    root = _write_physionet(tmp_path / "p", {"a0001": 1, "a0002": -1}, test=("a0002",))
    (root / "validation" / "REFERENCE.csv").write_text("")
    code = main(["data", "index", "physionet2016", str(root)])
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert err.count("\n") == 0 and "REFERENCE.csv is empty" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("orig_sr", "target_sr", "res_type"),
    [(4000, 2000, "soxr_hq"), (44100, 2000, "soxr_hq"), (8000, 22050, "soxr_vhq"), (3000, 2000, "soxr_mq")],
)
def test_resample_is_librosas_without_importing_it(orig_sr, target_sr, res_type):
    import librosa

    from audiofuse.data.audio import resample

    for n in (1, 999, 12_345):
        samples = np.random.default_rng(n).standard_normal(n).astype(np.float32)
        ours = resample(samples, orig_sr, target_sr, res_type)
        theirs = librosa.resample(samples, orig_sr=orig_sr, target_sr=target_sr, res_type=res_type)
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
        np.testing.assert_array_equal(ours, theirs)


def test_reading_and_resampling_a_recording_does_not_import_librosa(tmp_path):
    """librosa's import compiles numba kernels: 2-3 s per process, ~30 s in a new venv."""
    import subprocess
    import sys

    path = tmp_path / "rec.wav"
    sf.write(path, np.random.default_rng(0).uniform(-0.5, 0.5, 8000).astype(np.float32), 4000)
    code = (
        "import sys; from audiofuse.data.audio import load_audio; "
        f"x = load_audio({str(path)!r}, 2000); "
        "assert len(x) == 4000, len(x); assert 'librosa' not in sys.modules, 'librosa imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
