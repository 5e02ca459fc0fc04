"""Tests of the model inputs (audiofuse.features.extract): the paper's recipe, windows, the cache."""

from __future__ import annotations

import dataclasses
import os
import warnings
from pathlib import Path

import cv2
import librosa
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from audiofuse.config import PROFILES, get_profile
from audiofuse.data.indexes import index_physionet
from audiofuse.features import cache as feature_cache
from audiofuse.features import extract as feat
from audiofuse.features.cache import cache_key, load_or_extract
from audiofuse.features.extract import (
    extract_features,
    fix_length,
    log_mel_image,
    recording_features,
    window_starts,
)

PAPER = get_profile("paper").features
SMOKE = get_profile("smoke").features


def authors_recipe(clip: np.ndarray, sample_rate: int = 22050) -> np.ndarray:
    """The AudioFuse notebooks' spectrogram, written out independently."""
    mel = librosa.feature.melspectrogram(
        y=clip, sr=sample_rate, n_mels=224, n_fft=2048, hop_length=512
    )
    log_mel = librosa.power_to_db(mel, ref=np.max)
    image = cv2.resize(log_mel, (224, 224))
    return (image - image.min()) / (image.max() - image.min() + 1e-6)


@pytest.fixture(scope="module")
def random_clip() -> np.ndarray:
    rng = np.random.default_rng(42)
    return (0.1 * rng.standard_normal(5 * 22050)).astype(np.float32)


# --- the paper's recipe ------------------------------------------------------------------


def test_paper_profile_settings():
    assert (PAPER.sample_rate, PAPER.clip_seconds, PAPER.clip_samples) == (22050, 5.0, 110250)
    assert (PAPER.n_mels, PAPER.n_fft, PAPER.hop_length) == (224, 2048, 512)
    assert PAPER.image_size == (224, 224) and PAPER.waveform_norm == "none"


def test_paper_spectrogram_equals_the_authors_recipe(random_clip):
    ours = log_mel_image(random_clip, PAPER)
    theirs = authors_recipe(random_clip)
    assert ours.shape == (224, 224) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    assert ours.min() == 0.0 and ours.max() == pytest.approx(1.0, abs=1e-5)


def test_paper_pipeline_from_a_file_equals_the_authors_recipe(tmp_path, random_clip):
    """Read, take the first 5 s (zero-padded), featurize: as librosa.load + the recipe."""
    path = tmp_path / "clip.wav"
    sf.write(str(path), random_clip[: 4 * 22050], 22050, subtype="FLOAT")  # 4 s: padded
    table = pd.DataFrame({"record": ["clip"], "label": [0], "path": [str(path)]})
    fs = extract_features(table, PAPER, n_jobs=1, progress=False)
    y, _ = librosa.load(str(path), sr=22050, duration=5.0)
    y = np.pad(y, (0, 110250 - len(y)))
    # the cache stores float16: compare at that precision
    np.testing.assert_allclose(fs.spectrograms[0, :, :, 0], authors_recipe(y), atol=1e-3)
    np.testing.assert_allclose(fs.waveforms[0, :, 0], y, atol=1e-3)
    assert fs.waveforms.shape == (1, 110250, 1) and fs.spectrograms.shape == (1, 224, 224, 1)


def test_silent_clip_gives_a_finite_flat_image():
    image = log_mel_image(np.zeros(SMOKE.clip_samples, dtype=np.float32), SMOKE)
    assert np.all(np.isfinite(image)) and np.all(image == 0)


# --- fix_length and windows ----------------------------------------------------------------


def test_fix_length_pads_and_crops():
    x = np.arange(10, dtype=np.float64)
    padded = fix_length(x, 15)
    assert padded.dtype == np.float32 and padded.shape == (15,)
    np.testing.assert_array_equal(padded, np.r_[np.arange(10), np.zeros(5)])
    np.testing.assert_array_equal(fix_length(x, 4), [0, 1, 2, 3])
    np.testing.assert_array_equal(fix_length(x, 4, start=8), [8, 9, 0, 0])
    np.testing.assert_array_equal(fix_length(x, 3, start=20), [0, 0, 0])


@pytest.mark.parametrize(
    "n_samples, expected",
    [
        (1, [0]),
        (3000, [0]),
        (4000, [0]),
        (4001, [0, 1]),
        (8000, [0, 2000, 4000]),
        (9000, [0, 2000, 4000, 5000]),
        (10000, [0, 2000, 4000, 6000]),
    ],
)
def test_window_starts_known_lengths(n_samples, expected):
    # smoke: 4 s windows (4000 samples) with a 2 s hop (2000)
    assert window_starts(n_samples, SMOKE).tolist() == expected


def test_window_starts_paper_profile_counts():
    assert len(window_starts(20 * 22050, PAPER)) == 7  # 0, 2.5, ..., 15 s
    assert len(window_starts(5 * 22050, PAPER)) == 1


@pytest.mark.parametrize(
    "cfg", [SMOKE, PROFILES["cpu"].features, PAPER], ids=lambda c: str(c.sample_rate)
)
def test_windows_cover_every_sample(cfg):
    n = cfg.clip_samples
    hop = int(round(cfg.window_hop_seconds * cfg.sample_rate))
    rng = np.random.default_rng(0)
    for n_samples in [1, n - 1, n, n + 1, 2 * n, 3 * n + 7, *rng.integers(1, 12 * n, 20)]:
        starts = window_starts(int(n_samples), cfg)
        covered = np.zeros(int(n_samples), dtype=bool)
        for s in starts:
            covered[s : s + n] = True
        assert covered.all()
        assert starts[0] == 0 and np.all(np.diff(starts) > 0) and np.all(np.diff(starts) <= hop)
        if n_samples > n:
            assert starts[-1] + n == n_samples  # the last window ends at the end
        else:
            assert starts.tolist() == [0]


@pytest.mark.parametrize("name", list(PROFILES))
def test_shapes_per_profile(name):
    cfg = PROFILES[name].features
    rng = np.random.default_rng(1)
    samples = (0.1 * rng.standard_normal(int(1.3 * cfg.clip_samples))).astype(np.float32)
    spec, wave = recording_features(samples, cfg)
    assert spec.shape == (1, *cfg.image_size) and wave.shape == (1, cfg.clip_samples)
    spec, wave = recording_features(samples, cfg, windows=True)
    k = len(window_starts(len(samples), cfg))
    assert k == 2
    assert spec.shape == (k, *cfg.image_size) and wave.shape == (k, cfg.clip_samples)
    assert spec.dtype == np.float32 and wave.dtype == np.float32
    assert spec.min() >= 0.0 and spec.max() <= 1.0
    # the last window is the end of the recording
    expected_tail = recording_features(samples[-cfg.clip_samples :], cfg)[1][0]
    np.testing.assert_allclose(wave[-1], expected_tail, atol=1e-5)
    assert cfg.spectrogram_shape == (*cfg.image_size, 1)
    assert cfg.waveform_shape == (cfg.clip_samples, 1)


# --- extract_features and the cache ----------------------------------------------------------


@pytest.fixture(scope="module")
def small_table(synthetic_roots) -> pd.DataFrame:
    table = index_physionet(synthetic_roots["physionet2016"])
    return table.groupby("label").head(2).reset_index(drop=True)


def test_extract_features_skips_a_corrupt_file(small_table, tmp_path):
    bad = tmp_path / "x9999.wav"
    bad.write_bytes(np.random.default_rng(0).bytes(2048))
    extra = pd.DataFrame({"record": ["x9999"], "label": [1], "path": [str(bad)]})
    table = pd.concat([small_table, extra], ignore_index=True)
    fs = extract_features(table, SMOKE, n_jobs=1, progress=False)
    assert len(fs) == len(small_table)
    assert fs.records.tolist() == small_table["record"].tolist()
    assert fs.labels.tolist() == small_table["label"].tolist()
    assert [p for p, _ in fs.skipped] == [str(bad)]
    assert "cannot decode" in fs.skipped[0][1]
    assert fs.spectrograms.shape == (len(small_table), 32, 64, 1)
    assert fs.waveforms.shape == (len(small_table), SMOKE.clip_samples, 1)
    assert fs.spectrograms.dtype == np.float16
    assert fs.info["recordings"] == len(small_table)


def test_extract_features_windows_follow_window_starts(small_table):
    fs = extract_features(small_table, SMOKE, windows=True, n_jobs=1, progress=False)
    expected = [
        len(window_starts(int(round(d * SMOKE.sample_rate)), SMOKE))
        for d in small_table["duration"]
    ]
    assert fs.meta.groupby("record", sort=False).size().tolist() == expected
    assert (
        fs.meta.groupby("record")["window"].apply(lambda w: w.tolist() == list(range(len(w)))).all()
    )


def test_every_file_failing_raises(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all")
    table = pd.DataFrame({"record": ["bad"], "label": [0], "path": [str(bad)]})
    with pytest.raises(ValueError, match="every recording failed"):
        extract_features(table, SMOKE, n_jobs=1, progress=False)
    with pytest.raises(ValueError, match="empty table"):
        extract_features(table.iloc[:0], SMOKE, n_jobs=1, progress=False)


def test_load_or_extract_caches_and_keys_by_config(small_table, tmp_path):
    cache = tmp_path / "cache"
    first = load_or_extract(small_table, SMOKE, cache, n_jobs=1, progress=False)
    folders = [p for p in cache.iterdir()]
    assert len(folders) == 1 and folders[0].name == cache_key(small_table, SMOKE, False)
    assert {p.name for p in folders[0].iterdir()} == {
        "spectrograms.npy",
        "waveforms.npy",
        "meta.csv",
        "info.json",
    }
    assert "cached" not in first.info
    # returned memory-mapped from the files just written: a cache larger than memory
    # (the paper profile's windows) is never held whole by the process that built it
    assert isinstance(first.spectrograms, np.memmap) and isinstance(first.waveforms, np.memmap)
    np.testing.assert_array_equal(
        first.spectrograms, extract_features(small_table, SMOKE, n_jobs=1, progress=False).spectrograms
    )

    second = load_or_extract(small_table, SMOKE, cache, n_jobs=1, progress=False)
    assert second.info["cached"] is True
    np.testing.assert_array_equal(second.spectrograms, first.spectrograms)
    np.testing.assert_array_equal(second.waveforms, first.waveforms)
    assert second.meta["record"].tolist() == first.meta["record"].tolist()

    other = dataclasses.replace(SMOKE, hop_length=64)
    assert cache_key(small_table, other, False) != cache_key(small_table, SMOKE, False)
    assert cache_key(small_table, SMOKE, True) != cache_key(small_table, SMOKE, False)
    load_or_extract(small_table, other, cache, n_jobs=1, progress=False)
    assert len(list(cache.iterdir())) == 2
    # no temporary folders left behind
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]


def test_cache_key_changes_when_a_recording_changes(small_table, tmp_path):
    table = small_table.head(1).copy()
    path = tmp_path / "copy.wav"
    samples, rate = sf.read(table.loc[0, "path"])
    sf.write(str(path), samples, rate)
    table.loc[0, "path"] = str(path)
    before = cache_key(table, SMOKE, False)
    sf.write(str(path), samples[: len(samples) // 2], rate)
    os.utime(path, (1, 1))
    assert cache_key(table, SMOKE, False) != before


def test_interrupted_cache_write_leaves_nothing(small_table, tmp_path, monkeypatch):
    cache = tmp_path / "cache"

    def fail(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(feat.np.lib.format, "open_memmap", fail)
    with pytest.raises(KeyboardInterrupt):
        load_or_extract(small_table, SMOKE, cache, n_jobs=1, progress=False)
    # no finished cache and no half-written part: only the (empty) resume folder
    assert [p.name for p in cache.iterdir()] == [f".partial-{cache_key(small_table, SMOKE, False)}"]
    assert not any(p.is_file() for p in cache.rglob("*"))


def test_interrupted_build_resumes_with_only_the_missing_parts(small_table, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    real = feat.extract_features
    calls = []

    def interrupted_after_first_part(table, *args, **kwargs):
        calls.append(table["record"].tolist())
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(table, *args, **kwargs)

    monkeypatch.setattr(feature_cache, "extract_features", interrupted_after_first_part)
    with pytest.raises(KeyboardInterrupt):
        load_or_extract(small_table, SMOKE, cache, n_jobs=1, progress=False, chunk_recordings=2)
    assert calls == [small_table["record"].tolist()[:2], small_table["record"].tolist()[2:4]]

    calls.clear()
    monkeypatch.setattr(
        feature_cache, "extract_features", lambda t, *a, **k: calls.append(1) or real(t, *a, **k)
    )
    resumed = load_or_extract(
        small_table, SMOKE, cache, n_jobs=1, progress=True, chunk_recordings=2
    )
    assert len(calls) == 1  # only the part that was missing was computed
    fresh = real(small_table, SMOKE, n_jobs=1, progress=False)
    np.testing.assert_array_equal(resumed.spectrograms, fresh.spectrograms)
    assert resumed.records.tolist() == fresh.records.tolist()
    assert [p.name for p in cache.iterdir()] == [cache_key(small_table, SMOKE, False)]


@pytest.mark.parametrize("damage", ["truncate", "garbage_info"])
def test_corrupt_cache_is_detected_and_rebuilt(small_table, tmp_path, capsys, damage):
    cache = tmp_path / "cache"
    first = load_or_extract(small_table, SMOKE, cache, n_jobs=1, progress=False)
    expected = np.array(first.waveforms)  # a copy: ``first`` maps the file damaged below
    folder = cache / cache_key(small_table, SMOKE, False)
    if damage == "truncate":
        data = (folder / "waveforms.npy").read_bytes()
        (folder / "waveforms.npy").write_bytes(data[: len(data) // 3])
    else:
        (folder / "info.json").write_text("{not json")
    capsys.readouterr()
    again = load_or_extract(small_table, SMOKE, cache, n_jobs=1, progress=True)
    err = capsys.readouterr().err
    assert "rebuilding" in err and str(folder) in err
    assert "cached" not in again.info  # recomputed, not read from the damaged folder
    np.testing.assert_array_equal(again.waveforms, expected)
    assert load_or_extract(small_table, SMOKE, cache, n_jobs=1, progress=False).info["cached"]


def test_feature_set_selection(small_table):
    fs = extract_features(small_table, SMOKE, n_jobs=1, progress=False)
    picked = fs.select_records(small_table["record"].iloc[[1, 3]])
    assert picked.records.tolist() == small_table["record"].iloc[[1, 3]].tolist()
    inputs = fs.inputs("fusion", [0, 1])
    assert set(inputs) == {"spectrogram", "waveform"}
    assert inputs["spectrogram"].dtype == np.float32 and inputs["waveform"].shape[0] == 2
    assert set(fs.inputs("waveform")) == {"waveform"}
    assert set(fs.inputs("spectrogram")) == {"spectrogram"}


# --- the real data ---------------------------------------------------------------------


@pytest.mark.real_data
def test_real_records_in_the_paper_profile(real_data_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = index_physionet(real_data_dir / "physionet2016", probe=False)
    sample = table.groupby("subset").head(1).head(3).reset_index(drop=True)
    assert all(Path(p).exists() for p in sample["path"])
    fs = extract_features(sample, PAPER, n_jobs=1, progress=False)
    assert fs.skipped == []
    assert fs.spectrograms.shape == (3, 224, 224, 1)
    assert fs.waveforms.shape == (3, 110250, 1)
    assert np.all(np.isfinite(fs.spectrograms.astype(np.float32)))
    assert np.all(np.isfinite(fs.waveforms.astype(np.float32)))


def _worker_pid(_job) -> int:
    return os.getpid()


def test_shared_workers_serve_every_map_in_the_block_and_stop_after_it():
    """One pool for the block (the workers' start-up paid once), none left after it."""
    with feat.shared_workers(2):
        first = set(feat.map_recordings(_worker_pid, range(8), n_jobs=2, desc="", progress=False))
        second = set(feat.map_recordings(_worker_pid, range(8), n_jobs=2, desc="", progress=False))
        assert first | second <= set(feat._SHARED_POOL[1]._processes)
    assert feat._SHARED_POOL == [None, None]
    # outside a block, each call has its own pool, as before
    third = set(feat.map_recordings(_worker_pid, range(8), n_jobs=2, desc="", progress=False))
    assert not third & (first | second)
