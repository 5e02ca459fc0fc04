"""Compact profile-exact copies of the datasets (audiofuse.data.pack, `audiofuse data pack`)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from audiofuse.cli.main import main
from audiofuse.data.audio import read_audio
from audiofuse.data.indexes import index_pascal, index_physionet
from audiofuse.data.pack import MANIFEST, kept_samples, pack_datasets
from audiofuse.features.extract import load_recording, recording_features


@pytest.fixture(scope="module")
def cfg(smoke_profile):
    # 4 kHz: above the synthetic PhysioNet rate (2 kHz, kept as is, like the paper's
    # 22.05 kHz on the real data) and below PASCAL set A (44.1 kHz, resampled)
    return dataclasses.replace(smoke_profile.features, sample_rate=4000)


@pytest.fixture(scope="module")
def packed(synthetic_roots, cfg, tmp_path_factory):
    dest = tmp_path_factory.mktemp("packed")
    data_dir = synthetic_roots["physionet2016"].parent
    manifest = pack_datasets(data_dir, dest, cfg, progress=False)
    return data_dir, dest, manifest


@pytest.fixture(scope="module")
def indexes(packed):
    """{dataset: (index of the original, index of the packed copy)}."""
    data_dir, dest, _ = packed
    return {
        name: (index(data_dir / name, probe=False), index(dest / name, probe=False))
        for name, index in (("physionet2016", index_physionet), ("pascal", index_pascal))
    }


def _features_of_both(source_path, copy_path, cfg, windows=False):
    """(spectrograms, waveforms) of the original recording and of its packed copy."""
    return [
        recording_features(load_recording(path, cfg, windows=windows), cfg, windows=windows)
        for path in (source_path, copy_path)
    ]


def test_same_records_splits_and_labels(packed):
    data_dir, dest, manifest = packed
    for name, index in (("physionet2016", index_physionet), ("pascal", index_pascal)):
        source = index(data_dir / name, probe=False)
        copy = index(dest / name, probe=False)
        cols = ["record", "label"] + (["split"] if name == "physionet2016" else ["set"])
        assert copy[cols].equals(source[cols]), name
        assert manifest["datasets"][name]["files"] == len(source)
    assert json.loads((dest / MANIFEST).read_text()) == manifest


def test_first_clips_keep_exactly_what_the_loader_reads(indexes, cfg):
    source, copy = indexes["physionet2016"]
    for i in np.flatnonzero(source["split"].to_numpy() == "train")[:5]:
        original, rate = read_audio(source["path"][i])
        kept, kept_rate = read_audio(copy["path"][i])
        assert kept_rate == rate
        assert len(kept) == min(len(original), kept_samples(cfg.clip_seconds, rate))
        a, b = _features_of_both(source["path"][i], copy["path"][i], cfg)
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)


def test_test_records_stay_whole(packed, indexes, cfg):
    manifest = packed[2]
    source, copy = indexes["physionet2016"]
    test = np.flatnonzero(source["split"].to_numpy() == "test")
    assert manifest["datasets"]["physionet2016"]["whole_files"] == len(test)
    i = test[0]
    a, b = _features_of_both(source["path"][i], copy["path"][i], cfg, windows=True)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def test_audio_above_the_profile_rate_is_stored_resampled(indexes, cfg):
    source, copy = indexes["pascal"]
    i = int(np.flatnonzero(source["set"].to_numpy() == "A")[0])
    assert read_audio(source["path"][i])[1] > cfg.sample_rate  # set A: 44.1 kHz
    assert read_audio(copy["path"][i])[1] == cfg.sample_rate
    (a_spec, a_wave), (b_spec, b_wave) = _features_of_both(source["path"][i], copy["path"][i], cfg)
    # only the 16-bit rounding of the resampled signal differs, and the few
    # samples the resampler pushed past full scale (clipped, counted in the manifest)
    assert np.mean(np.abs(a_wave - b_wave) < 1e-4) > 0.99
    assert np.median(np.abs(a_spec - b_spec)) < 0.05


def test_cli_pack_without_data_is_one_line(tmp_path, capsys):
    code = main(["data", "pack", str(tmp_path / "out"), "--data-dir", str(tmp_path / "none")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "none" in err[0]
