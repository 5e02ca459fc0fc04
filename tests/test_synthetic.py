"""Tests of the synthetic PCG generator and the dataset folders it writes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from scipy import signal as sps

from audiofuse.data.indexes import index_pascal, index_physionet, is_synthetic, physionet_split
from audiofuse.data.synthetic import (
    ABNORMAL_KINDS,
    KINDS,
    NORMAL_KIND,
    PASCAL_A_CONDITIONS,
    PASCAL_B_CONDITIONS,
    SPECTRAL_KINDS,
    TEMPORAL_KINDS,
    beat_schedule,
    make_synthetic_datasets,
    read_synthetic_params,
    record_rng,
    synthesize_pcg,
    write_pascal_like,
    write_physionet_like,
)

SR = 2000


def _pcg(kind=NORMAL_KIND, seed=0, duration_s=8.0, **kwargs):
    return synthesize_pcg(duration_s, SR, kind=kind, rng=np.random.default_rng(seed), **kwargs)


def _murmur_band_power(x: np.ndarray, sample_rate: int = SR) -> float:
    """Mean 150-600 Hz power of the 64 ms frames between the heart sounds.

    The loudest 20 % of the frames hold S1 and S2 (which fill ~10 % of a
    cycle) and are left out; the rest cover systole and diastole.
    """
    freqs, _, power = sps.spectrogram(x, fs=sample_rate, nperseg=128, noverlap=64)
    frame_power = power.sum(axis=0)
    between_sounds = frame_power <= np.percentile(frame_power, 80)
    band = (freqs >= 150) & (freqs <= 600)
    band_power = power[band][:, between_sounds].sum(axis=0).mean()
    # relative to the whole recording's power, so the random gain cancels
    return float(band_power / np.mean(x.astype(np.float64) ** 2))


def _heart_rate_from_envelope(x: np.ndarray, sample_rate: int = SR) -> float:
    """Heart rate (bpm) at the highest envelope autocorrelation in 40-150 bpm."""
    energy = sps.sosfiltfilt(sps.butter(2, 10, fs=sample_rate, output="sos"), x**2)
    step = sample_rate // 100
    envelope = energy[::step] - energy[::step].mean()  # 100 Hz
    autocorr = np.correlate(envelope, envelope, mode="full")[envelope.size - 1 :]
    lags = np.arange(40, 151)  # 0.4-1.5 s
    best_lag = lags[np.argmax(autocorr[lags])]
    return 60.0 * 100 / best_lag


# --- the generator ----------------------------------------------------------


def _sha256_of_tree(root: Path) -> str:
    """Hash of every file's relative path and bytes, in sorted order."""
    digest = hashlib.sha256()
    for path in sorted(Path(root).rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


# Written by the generator before it became a package (GENERATOR_VERSION 1);
# bump GENERATOR_VERSION and these together when the audio changes on purpose.
# The float samples are pinned to a tolerance, not byte for byte: NumPy's sin/exp
# differ in the last bit between CPUs with and without AVX-512 (the bytes' sha256
# matched on one kind of machine and not the other, same code, same NumPy). The
# folders hold 16-bit PCM, which both kinds write alike.
SIGNALS_V1 = Path(__file__).parent / "data" / "synthetic_v1_signals.json"
PHYSIONET_SHA256 = "027247c9efe58b2b07d04e60868f373f147e9fe6f9658937f6c8e55826149de9"
PASCAL_SHA256 = "a537fbb6c97a09847f812d2323c5f907d5e14e1a807eee95ce9f527bd437b9f7"


def test_every_kind_gives_the_same_samples_as_version_1():
    reference = json.loads(SIGNALS_V1.read_text())["signals"]
    for i, kind in enumerate(KINDS):
        signals = {
            "physionet": synthesize_pcg(6.0, SR, kind=kind, rng=np.random.default_rng(i)),
            "pascal_a": synthesize_pcg(
                3.0, 4000, kind=kind, rng=np.random.default_rng(i), conditions=PASCAL_A_CONDITIONS
            ),
        }
        for name, x in signals.items():
            expected = reference[f"{kind}/{name}"]
            assert len(x) == expected["n"], (kind, name)
            # samples are ~0.1 at most: float32's last bit there is ~1e-8
            np.testing.assert_allclose(
                x[::50] * 1e6, expected["every_50th_x1e6"], rtol=0, atol=1.0, err_msg=f"{kind}/{name}"
            )
            sum_of_squares = np.sum(x.astype(np.float64) ** 2)
            assert sum_of_squares == pytest.approx(expected["sum_of_squares"], rel=1e-6)
    assert set(reference) == {f"{k}/{n}" for k in KINDS for n in ("physionet", "pascal_a")}


def test_kind_lists_are_consistent():
    assert NORMAL_KIND == "normal"
    assert set(ABNORMAL_KINDS) == set(SPECTRAL_KINDS) | set(TEMPORAL_KINDS)
    assert KINDS == (NORMAL_KIND,) + ABNORMAL_KINDS


def test_same_seed_same_recording_other_seed_other_recording():
    for kind in KINDS:
        first, again = _pcg(kind, seed=3), _pcg(kind, seed=3)
        np.testing.assert_array_equal(first, again)
        assert not np.array_equal(first, _pcg(kind, seed=4))


def test_record_rng_depends_only_on_seed_stream_and_index():
    def draw(seed, index, stream=0):
        return record_rng(seed, index, stream).random(4)

    np.testing.assert_array_equal(draw(0, 5), draw(0, 5))
    assert not np.array_equal(draw(0, 5), draw(0, 6))
    assert not np.array_equal(draw(0, 5), draw(1, 5))
    assert not np.array_equal(draw(0, 5), draw(0, 5, stream=1))


@pytest.mark.parametrize("sample_rate", [1000, 2000, 4000, 44100])
def test_every_kind_is_finite_float32_within_full_scale(sample_rate):
    for seed, kind in enumerate(KINDS):
        x = synthesize_pcg(3.0, sample_rate, kind=kind, rng=np.random.default_rng(seed))
        assert x.dtype == np.float32
        assert x.shape == (3 * sample_rate,)
        assert np.all(np.isfinite(x))
        assert np.max(np.abs(x)) <= 1.0
        assert np.std(x) > 1e-3  # not silent


def test_pascal_conditions_keep_the_output_in_range():
    for conditions in (PASCAL_A_CONDITIONS, PASCAL_B_CONDITIONS):
        x = synthesize_pcg(4.0, 4000, rng=np.random.default_rng(1), conditions=conditions)
        assert np.all(np.isfinite(x)) and np.max(np.abs(x)) <= 1.0


def test_unknown_kind_is_rejected():
    with pytest.raises(ValueError, match="unknown kind"):
        _pcg("tachycardia")


@pytest.mark.parametrize("bpm", [55.0, 72.0, 95.0, 118.0])
def test_heart_rate_is_recoverable_from_the_envelope(bpm):
    x = _pcg(seed=int(bpm), duration_s=12.0, heart_rate_bpm=bpm, snr_db=20.0)
    assert _heart_rate_from_envelope(x) == pytest.approx(bpm, rel=0.15)


def test_murmurs_add_150_600_hz_energy_between_the_sounds():
    def median_band_power(kind):
        return np.median([_murmur_band_power(_pcg(kind, seed=s, snr_db=20.0)) for s in range(8)])

    normal = median_band_power(NORMAL_KIND)
    for kind in SPECTRAL_KINDS:
        assert median_band_power(kind) > 2.0 * normal, kind


def test_temporal_kinds_keep_the_time_averaged_spectrum_close_to_normal():
    # the design: a temporal abnormality must be found in time, not in the
    # average spectrum, where it stays far closer to normal than a murmur is
    def mean_log_band_ratio(kind):
        ratios = []
        for seed in range(20):
            x = _pcg(kind, seed=seed, duration_s=6.0, snr_db=20.0)
            freqs, power = sps.welch(x, fs=SR, nperseg=512)
            ratios.append(power[(freqs >= 150) & (freqs <= 600)].sum() / power.sum())
        return np.mean(np.log(ratios))

    normal = mean_log_band_ratio(NORMAL_KIND)
    murmur_shift = abs(mean_log_band_ratio("systolic_murmur") - normal)
    for kind in TEMPORAL_KINDS:
        assert abs(mean_log_band_ratio(kind) - normal) < 0.5 * murmur_shift, kind


def test_rhythm_kinds_change_the_rr_intervals():
    def rr_spread(kind, seed):
        onsets, ectopic = beat_schedule(30.0, 75.0, kind=kind, rng=np.random.default_rng(seed))
        rr = np.diff(onsets)
        return np.std(rr) / np.mean(rr), ectopic

    for seed in range(5):
        normal_cv, normal_ectopic = rr_spread(NORMAL_KIND, seed)
        irregular_cv, _ = rr_spread("irregular_rhythm", seed)
        assert normal_cv < 0.08 and not normal_ectopic.any()
        assert irregular_cv > 1.5 * normal_cv


def test_a_premature_beat_comes_within_the_first_seconds():
    # models see the first 4-5 s, so a labelled ectopic beat must be there
    for seed in range(20):
        onsets, ectopic = beat_schedule(
            5.0, 60.0, kind="premature_beat", rng=np.random.default_rng(seed)
        )
        assert ectopic.any()
        assert onsets[np.flatnonzero(ectopic)[0]] < 4.0


# --- PhysioNet-like folders -------------------------------------------------

N_PHYSIONET = 36


@pytest.fixture(scope="module")
def physionet_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data") / "physionet2016"
    return write_physionet_like(
        root, n_records=N_PHYSIONET, seed=0, test_fraction=0.2, min_seconds=5.0, max_seconds=6.0
    )


def test_physionet_folder_is_byte_identical_to_version_1(physionet_root):
    assert _sha256_of_tree(physionet_root) == PHYSIONET_SHA256


def test_physionet_layout_is_indexed(physionet_root):
    table = index_physionet(physionet_root)
    assert len(table) == N_PHYSIONET
    assert set(table["subset"]) == {"a", "b", "c"}
    assert set(table["label"]) == {0, 1}
    assert (table["label"] == 1).sum() == round(0.3 * N_PHYSIONET)
    assert (table["sample_rate"] == 2000).all()
    assert table["duration"].between(5.0, 6.0 + 1e-3).all()
    assert table["record"].str.fullmatch(r"[abc]\d{4}").all()
    assert table.attrs["synthetic"] and is_synthetic(physionet_root)


def test_physionet_test_split_is_stratified_and_disjoint(physionet_root):
    train, test = physionet_split(index_physionet(physionet_root))
    assert len(test) > 0 and len(train) > len(test)
    assert set(test["label"]) == {0, 1}
    assert not set(train["record"]) & set(test["record"])
    records = (physionet_root / "validation" / "RECORDS").read_text().split()
    assert sorted(records) == sorted(test["record"])


def test_physionet_reference_and_kinds_files(physionet_root):
    reference = pd.read_csv(physionet_root / "training-a" / "REFERENCE.csv", header=None)
    assert set(reference[1]) <= {1, -1}
    kinds = pd.read_csv(physionet_root / "kinds.csv")
    assert list(kinds.columns) == ["record", "kind"]
    assert set(kinds["kind"]) == set(KINDS)
    table = index_physionet(physionet_root).merge(kinds, on="record")
    assert ((table["kind"] == NORMAL_KIND) == (table["label"] == 0)).all()


def test_physionet_files_are_16_bit_and_reproducible_one_by_one(physionet_root):
    path = physionet_root / "training-b" / "b0002.wav"
    assert sf.info(str(path)).subtype == "PCM_16"
    stored, sample_rate = sf.read(str(path), dtype="float32")
    # b0002 is record index 4 (subsets take turns); its audio depends on (seed, index) only
    kinds = pd.read_csv(physionet_root / "kinds.csv").set_index("record")["kind"]
    rng = record_rng(0, 4, stream=1)
    regenerated = synthesize_pcg(rng.uniform(5.0, 6.0), sample_rate, kind=kinds["b0002"], rng=rng)
    np.testing.assert_allclose(stored, regenerated, atol=1.0 / 2**15)


def test_physionet_folder_is_cached_until_parameters_change(physionet_root):
    wav = physionet_root / "training-a" / "a0001.wav"
    before = wav.stat().st_mtime_ns
    write_physionet_like(
        physionet_root,
        n_records=N_PHYSIONET,
        seed=0,
        test_fraction=0.2,
        min_seconds=5.0,
        max_seconds=6.0,
    )
    assert wav.stat().st_mtime_ns == before
    assert read_synthetic_params(physionet_root)["n_records"] == N_PHYSIONET


def test_changed_parameters_rewrite_the_folder(tmp_path):
    root = tmp_path / "physionet2016"
    write_physionet_like(root, n_records=12, min_seconds=5.0, max_seconds=5.0)
    write_physionet_like(root, n_records=9, min_seconds=5.0, max_seconds=5.0)
    assert len(index_physionet(root)) == 9
    assert not list(tmp_path.glob(".*partial*"))  # no scratch folder left behind


def test_a_real_dataset_folder_is_never_overwritten(tmp_path):
    root = tmp_path / "physionet2016"
    (root / "training-a").mkdir(parents=True)
    (root / "training-a" / "REFERENCE.csv").write_text("a0001,1\n")
    with pytest.raises(FileExistsError, match="not a synthetic"):
        write_physionet_like(root, n_records=6)
    assert (root / "training-a" / "REFERENCE.csv").read_text() == "a0001,1\n"


# --- PASCAL-like folders ----------------------------------------------------

N_PASCAL = 24


@pytest.fixture(scope="module")
def pascal_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data") / "pascal"
    return write_pascal_like(
        root, n_records=N_PASCAL, seed=1, n_unlabelled=4, min_seconds=2.0, max_seconds=6.0
    )


def test_pascal_folder_is_byte_identical_to_version_1(pascal_root):
    assert _sha256_of_tree(pascal_root) == PASCAL_SHA256


def test_pascal_layout_is_indexed(pascal_root):
    table = index_pascal(pascal_root)
    assert len(table) == N_PASCAL  # the unlabelled files are skipped
    assert not table["record"].str.contains("unlabelledtest").any()
    assert len(list(pascal_root.rglob("*unlabelledtest*.wav"))) == 4
    assert set(table["label"]) == {0, 1}
    rates = table.groupby("set")["sample_rate"].unique()
    assert list(rates["A"]) == [44100] and list(rates["B"]) == [4000]
    assert set(table.loc[table["set"] == "A", "original_class"]) <= {
        "normal",
        "murmur",
        "extrahls",
        "artifact",
    }
    assert set(table.loc[table["set"] == "B", "original_class"]) <= {
        "normal",
        "murmur",
        "extrastole",
    }
    assert table["duration"].between(2.0, 6.0 + 1e-3).all()
    assert table.attrs["synthetic"] and is_synthetic(pascal_root)


def test_pascal_csv_files_follow_kaggle(pascal_root):
    for set_name in ("a", "b"):
        csv = pd.read_csv(pascal_root / f"set_{set_name}.csv")
        assert list(csv.columns) == ["dataset", "fname", "label", "sublabel"]
        assert (csv["dataset"] == set_name).all()
        assert csv["fname"].str.startswith(f"set_{set_name}/").all()
    set_a = pd.read_csv(pascal_root / "set_a.csv")
    assert set_a["fname"].map(lambda name: (pascal_root / name).exists()).all()


# --- both, as the CLI writes them --------------------------------------------


def test_make_synthetic_datasets_smoke(tmp_path):
    paths = make_synthetic_datasets(tmp_path, size="smoke", seed=0)
    assert paths == {
        "physionet2016": tmp_path / "synthetic" / "smoke" / "physionet2016",
        "pascal": tmp_path / "synthetic" / "smoke" / "pascal",
    }
    physionet = index_physionet(paths["physionet2016"])
    assert len(physionet) == 320
    assert set(physionet.loc[physionet["split"] == "test", "label"]) == {0, 1}
    assert len(index_pascal(paths["pascal"])) == 80
    with pytest.raises(ValueError, match="unknown size"):
        make_synthetic_datasets(tmp_path, size="huge")
