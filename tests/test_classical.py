"""Tests of the classical baseline (hand-crafted features + gradient boosting)."""

from __future__ import annotations

import os
from pathlib import Path

import frozen_classical_v1 as frozen
import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from sklearn.metrics import roc_auc_score

from audiofuse.classical import (
    FEATURE_NAMES,
    ClassicalModel,
    clip_feature_vector,
    clip_features,
    featurize_table,
    fit_classical,
)
from audiofuse.config import FeatureConfig
from audiofuse.features.extract import window_starts

SR = 2000
FAST = {"max_iter": 40, "learning_rate": 0.1, "min_samples_leaf": 5}


def heart_clip(rng: np.random.Generator, *, murmur: bool, seconds: float = 5.0) -> np.ndarray:
    """A toy PCG: low-frequency S1/S2 bursts, optionally 300 Hz noise bursts between them."""
    n = int(seconds * SR)
    x = 0.02 * rng.standard_normal(n)
    period = rng.uniform(0.6, 1.1)
    phase = rng.uniform(0, period)
    burst_t = np.arange(int(0.08 * SR)) / SR
    burst = np.sin(2 * np.pi * 50 * burst_t) * np.exp(-burst_t / 0.02)
    for beat in np.arange(phase, seconds - 0.5, period):
        for offset, gain in ((0.0, 1.0), (0.3, 0.7)):
            i = int((beat + offset) * SR)
            x[i : i + burst.size] += gain * burst[: max(0, min(burst.size, n - i))]
        if murmur:
            i = int((beat + 0.08) * SR)
            m = min(int(0.2 * SR), n - i)
            if m > 0:
                noise = rng.standard_normal(m)
                noise = np.convolve(noise, np.sin(2 * np.pi * 300 * burst_t[:8]), mode="same")
                x[i : i + m] += 0.15 * noise
    return (x * rng.uniform(0.2, 5.0)).astype(np.float32)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Single-threaded BLAS/OpenMP: tiny fits are slower, not faster, with threads."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def toy_features():
    rng = np.random.default_rng(0)
    y = np.array([0, 1] * 40)
    X = np.stack([clip_feature_vector(heart_clip(rng, murmur=bool(label)), SR) for label in y])
    return X, y


# --------------------------------------------------------------------------- features


def _reference_clips() -> list[tuple[np.ndarray, int]]:
    """Every synthetic kind, a PASCAL-like rate, and degenerate clips."""
    from audiofuse.data.synthetic import KINDS, PASCAL_B_CONDITIONS, synthesize_pcg

    rng = np.random.default_rng(0)
    clips = [
        (synthesize_pcg(5.0, SR, kind=k, rng=np.random.default_rng(i)), SR)
        for i, k in enumerate(KINDS)
    ]
    clips += [
        (heart_clip(rng, murmur=True), SR),
        (
            synthesize_pcg(3.0, 4000, rng=np.random.default_rng(9), conditions=PASCAL_B_CONDITIONS),
            4000,
        ),
        (np.zeros(5 * SR), SR),
        (np.zeros(100), SR),
        (np.array([np.nan, 1.0, 2.0, np.inf] * 1000), SR),
        (np.sin(np.arange(300)), 1000),
    ]
    return clips


def test_features_are_bit_identical_to_the_frozen_version_1():
    assert FEATURE_NAMES == frozen.FEATURE_NAMES
    for clip, rate in _reference_clips():
        expected = frozen.clip_feature_vector(clip, rate)
        assert clip_feature_vector(clip, rate).tobytes() == expected.tobytes(), rate


def test_every_group_returns_names_and_values_in_step():
    names, values = clip_features(heart_clip(np.random.default_rng(1), murmur=False), SR)
    assert names == FEATURE_NAMES and len(values) == len(names)
    assert len(set(names)) == len(names)


def test_feature_vector_length_and_finite():
    clip = heart_clip(np.random.default_rng(1), murmur=True)
    v = clip_feature_vector(clip, SR)
    assert v.shape == (len(FEATURE_NAMES),)
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)
    assert np.all(np.isfinite(v))


@pytest.mark.parametrize(
    "clip, rate",
    [
        (np.zeros(5 * SR), SR),
        (np.full(5 * SR, 0.3), SR),
        (np.zeros(37), SR),
        (np.random.default_rng(2).standard_normal(300), SR),
        (np.random.default_rng(3).standard_normal(4 * 1000), 1000),
    ],
    ids=["zeros", "constant", "tiny-zeros", "short-noise", "1kHz"],
)
def test_degenerate_clips_give_finite_features(clip, rate):
    v = clip_feature_vector(clip, rate)
    assert v.shape == (len(FEATURE_NAMES),)
    assert np.all(np.isfinite(v))


def test_features_do_not_depend_on_level_except_log_rms():
    clip = heart_clip(np.random.default_rng(4), murmur=False)
    a = clip_feature_vector(clip, SR)
    b = clip_feature_vector(clip * 37.0, SR)
    level = FEATURE_NAMES.index("log_rms")
    assert b[level] == pytest.approx(a[level] + np.log10(37.0), abs=1e-4)
    rest = np.arange(len(FEATURE_NAMES)) != level
    np.testing.assert_allclose(a[rest], b[rest], rtol=1e-4, atol=1e-4)


def test_rhythm_features_find_the_heart_rate():
    rng = np.random.default_rng(5)
    clip = heart_clip(rng, murmur=False, seconds=8.0)
    v = dict(zip(FEATURE_NAMES, clip_feature_vector(clip, SR), strict=True))
    # heart_clip draws a beat period of 0.6-1.1 s (55-100 bpm)
    assert 50 <= v["hilbert_acf_bpm"] <= 105


# --------------------------------------------------------------------------- tables


def _write_toy_dataset(folder: Path, n: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(6)
    rows = []
    for i in range(n):
        label = i % 2
        seconds = 3.0 if i == 0 else 11.0  # one shorter than a window
        path = folder / f"r{i}.wav"
        sf.write(path, heart_clip(rng, murmur=bool(label), seconds=seconds), SR)
        rows.append({"record": f"r{i}", "label": label, "path": str(path)})
    bad = folder / "broken.wav"
    bad.write_bytes(b"not audio at all")
    rows.append({"record": "broken", "label": 0, "path": str(bad)})
    return pd.DataFrame(rows)


def test_featurize_table_first_clips_skips_unreadable(tmp_path, capsys):
    table = _write_toy_dataset(tmp_path)
    X, meta = featurize_table(table, n_jobs=1, progress=True)
    assert X.shape == (4, len(FEATURE_NAMES))
    assert np.all(np.isfinite(X))
    assert meta["record"].tolist() == ["r0", "r1", "r2", "r3"]
    assert meta["window"].tolist() == [0, 0, 0, 0]
    assert [Path(p).name for p, _ in meta.attrs["skipped"]] == ["broken.wav"]
    assert "broken.wav" in capsys.readouterr().err


def test_featurize_table_windows_cover_the_recording(tmp_path):
    table = _write_toy_dataset(tmp_path)
    X, meta = featurize_table(table, windows=True, n_jobs=2, progress=False)
    cfg = FeatureConfig(sample_rate=SR, clip_seconds=5.0, window_hop_seconds=2.5)
    expected = {"r0": 1, **{f"r{i}": len(window_starts(11 * SR, cfg)) for i in (1, 2, 3)}}
    assert meta.groupby("record").size().to_dict() == expected
    assert {"record", "label", "window"} <= set(meta.columns)
    assert X.shape == (len(meta), len(FEATURE_NAMES))
    assert meta.loc[meta["record"] == "r1", "window"].tolist() == list(range(expected["r1"]))
    # the first window of a recording equals its first-5-s row
    X1, _ = featurize_table(table.iloc[[1]], n_jobs=1, progress=False)
    np.testing.assert_allclose(X[meta["record"].eq("r1").to_numpy()][0], X1[0], rtol=1e-5)


def test_featurize_table_rejects_empty_table():
    with pytest.raises(ValueError, match="empty"):
        featurize_table(pd.DataFrame(columns=["record", "label", "path"]))


# --------------------------------------------------------------------------- model


def test_separable_toy_problem_gets_high_validation_auc(toy_features):
    X, y = toy_features
    model = fit_classical(X, y, seed=0, val_fraction=0.3, params=FAST)
    assert len(model.val_labels) == len(model.val_scores) == 24
    assert set(model.val_labels) == {0, 1}
    assert roc_auc_score(model.val_labels, model.val_scores) > 0.8
    proba = model.predict_proba(X)
    assert proba.shape == (len(y),)
    assert np.all((proba >= 0) & (proba <= 1))


def test_fit_is_deterministic_from_seed(toy_features):
    X, y = toy_features
    a = fit_classical(X, y, seed=3, val_fraction=0.3, params=FAST)
    b = fit_classical(X, y, seed=3, val_fraction=0.3, params=FAST)
    np.testing.assert_array_equal(a.val_groups, b.val_groups)
    np.testing.assert_array_equal(a.val_scores, b.val_scores)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    c = fit_classical(X, y, seed=4, val_fraction=0.3, params=FAST)
    assert set(c.val_groups) != set(a.val_groups)


def test_carve_out_keeps_windows_of_a_record_together(toy_features):
    X, y = toy_features
    groups = np.repeat(np.arange(len(y) // 2), 2)  # two "windows" per record
    y = (np.arange(len(y) // 2) % 2).repeat(2)
    model = fit_classical(X, y, groups=groups, seed=0, val_fraction=0.25, params=FAST)
    counts = pd.Series(model.val_groups).value_counts()
    assert (counts == 2).all()
    assert model.info["n_train_rows"] + model.info["n_val_rows"] == len(y)


def test_refit_uses_every_row(toy_features):
    X, y = toy_features
    model = fit_classical(X, y, seed=0, val_fraction=0.3, params=FAST, refit=True)
    assert model.info["refit"] and model.info["n_train_rows"] == len(y)
    assert len(model.val_scores) == 24


def test_sample_weights_and_strata_reach_the_trees_and_the_carve_out(toy_features):
    X, y = toy_features
    site = np.where(np.arange(len(y)) < 60, "a", "e")
    strata = np.char.add(site, y.astype(str))  # a0, a1: 30 rows each; e0, e1: 10
    weights = np.where(site == "e", 3.0, 1.0)
    weighted = fit_classical(
        X, y, seed=0, val_fraction=0.3, params=FAST, strata=strata, sample_weight=weights
    )
    held_out = pd.Series(strata[weighted.val_groups]).value_counts().to_dict()
    assert held_out == {"a0": 9, "a1": 9, "e0": 3, "e1": 3}
    assert weighted.params["class_weight"] is None  # the weights balance the classes
    plain = fit_classical(X, y, seed=0, val_fraction=0.3, params=FAST, strata=strata)
    np.testing.assert_array_equal(plain.val_groups, weighted.val_groups)
    assert not np.allclose(plain.val_scores, weighted.val_scores)
    with pytest.raises(ValueError, match="sample_weight"):
        fit_classical(X, y, sample_weight=weights[:-1])


def test_fit_rejects_bad_inputs(toy_features):
    X, y = toy_features
    with pytest.raises(ValueError, match="single class"):
        fit_classical(X, np.zeros_like(y))
    with pytest.raises(ValueError, match="val_fraction"):
        fit_classical(X, y, val_fraction=0.0)
    with pytest.raises(ValueError, match="do not match"):
        fit_classical(X[:-1], y)
    model = fit_classical(X, y, seed=0, val_fraction=0.3, params=FAST)
    with pytest.raises(ValueError, match="shape"):
        model.predict_proba(X[:, :-1])


def test_save_load_round_trip(toy_features, tmp_path):
    X, y = toy_features
    model = fit_classical(X, y, seed=0, val_fraction=0.3, params=FAST)
    path = model.save(tmp_path / "nested" / "classical.joblib")
    assert path.exists()
    assert [p.name for p in path.parent.iterdir()] == ["classical.joblib"]  # no temp files
    loaded = ClassicalModel.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(loaded.val_scores, model.val_scores)
    np.testing.assert_array_equal(loaded.val_labels, model.val_labels)
    assert loaded.params == model.params

    import joblib

    joblib.dump({"not": "a model"}, tmp_path / "other.joblib")
    with pytest.raises(TypeError, match="ClassicalModel"):
        ClassicalModel.load(tmp_path / "other.joblib")


# --------------------------------------------------------------------------- real data


def _physionet_root() -> Path | None:
    env = os.environ.get("AUDIOFUSE_DATA_DIR")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[1].parent / "shared" / "data")
    for base in candidates:
        for root in (base / "physionet2016", base):
            if (root / "training-a").is_dir():
                return root
    return None


@pytest.mark.real_data
def test_real_physionet_recordings_featurize():
    root = _physionet_root()
    if root is None:
        pytest.skip("PhysioNet 2016 not found (set AUDIOFUSE_DATA_DIR)")
    from audiofuse.data.indexes import index_physionet, physionet_split

    train, _ = physionet_split(index_physionet(root, probe=False))
    sample = train.groupby("subset", sort=True).head(4).head(20)
    X, meta = featurize_table(sample, n_jobs=1, progress=False)
    assert X.shape == (len(sample), len(FEATURE_NAMES))
    assert np.all(np.isfinite(X))
    assert meta["record"].tolist() == sample["record"].tolist()
    assert meta["label"].tolist() == sample["label"].tolist()
    # heart rates estimated on real PCG are physiological
    bpm = X[:, FEATURE_NAMES.index("hilbert_acf_bpm")]
    assert np.all((bpm >= 30) & (bpm <= 200))
