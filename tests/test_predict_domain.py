"""The domain-shift check: descriptors, the distance, the shipped statistics, predict's flag."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audiofuse.config import get_profile
from audiofuse.data.synthetic.recording import synthesize_pcg
from audiofuse.predict.domain import (
    ANALYSIS_RATE,
    DESCRIPTORS,
    DOMAIN_FILE,
    UNLIKE_TRAINING,
    DomainModel,
    describe_recording,
    fit_domain_model,
)
from audiofuse.predict.predictor import PredictError, Predictor

MODELS = Path(__file__).resolve().parents[1] / "models"
SHIPPED = ["audiofuse-plus", "audiofuse-cpu", "audiofuse-cpu-balanced"]


def _pcg(seed: int, seconds: float = 20.0, rate: int = ANALYSIS_RATE) -> np.ndarray:
    return synthesize_pcg(seconds, rate, rng=np.random.default_rng(seed))


def test_descriptors_are_finite_and_named():
    values = describe_recording(_pcg(0), ANALYSIS_RATE)
    assert values.shape == (len(DESCRIPTORS),)
    assert np.all(np.isfinite(values))


def test_descriptors_measure_what_they_say():
    t = np.arange(4 * ANALYSIS_RATE) / ANALYSIS_RATE
    tone = (0.5 * np.sin(2 * np.pi * 150 * t)).astype(np.float32)
    named = dict(zip(DESCRIPTORS, describe_recording(tone, ANALYSIS_RATE), strict=True))
    assert named["level_db"] == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.05)
    assert named["peak_db"] == pytest.approx(20 * np.log10(0.5), abs=0.05)
    assert named["centroid_hz"] == pytest.approx(150, abs=10)
    assert named["share_100_200_log"] == pytest.approx(0.0, abs=0.01)  # all energy there
    offset = dict(zip(DESCRIPTORS, describe_recording(tone + 0.5, ANALYSIS_RATE), strict=True))
    assert offset["dc_ratio_log"] > named["dc_ratio_log"] + 2


def test_descriptors_do_not_depend_on_the_sample_rate():
    low = describe_recording(_pcg(3, rate=2000), 2000)
    from audiofuse.data.audio import resample

    high = describe_recording(resample(_pcg(3, rate=2000), 2000, 22050), 22050)
    np.testing.assert_allclose(high, low, atol=0.5)


def test_distance_is_zero_at_the_centre_and_grows_away_from_it():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 3)) * [1.0, 2.0, 0.5] + [10.0, -3.0, 0.0]
    model = fit_domain_model(x, names=["a", "b", "c"])
    assert model.distance(model.centre) == pytest.approx(0.0, abs=1e-9)
    near = model.centre + 0.5 * model.scale
    far = model.centre + 5.0 * model.scale
    assert model.distance(far) > model.distance(near) > 0
    assert model.distance(x).shape == (500,)


def test_constant_descriptor_does_not_divide_by_zero():
    x = np.c_[np.random.default_rng(1).normal(size=200), np.zeros(200)]
    model = fit_domain_model(x, names=["a", "b"])
    assert np.all(np.isfinite(model.distance(x)))
    assert model.distance([0.0, 1.0]) > 100  # off a constant is far off


def test_round_trip_through_json(tmp_path):
    rows = np.stack([describe_recording(_pcg(seed, 8.0), ANALYSIS_RATE) for seed in range(30)])
    model = fit_domain_model(rows)
    model.threshold = 7.5
    model.save(tmp_path)
    again = DomainModel.load(tmp_path)
    assert again.threshold == 7.5
    np.testing.assert_allclose(again.distance(rows), model.distance(rows), rtol=1e-5)
    assert DomainModel.load(tmp_path / "nowhere") is None


def test_statistics_of_another_descriptor_set_are_refused(tmp_path):
    data = json.loads((MODELS / "audiofuse-plus" / DOMAIN_FILE).read_text())
    data["descriptors"] = data["descriptors"][:-1]
    (tmp_path / DOMAIN_FILE).write_text(json.dumps(data))
    with pytest.raises(ValueError, match="domain.json"):
        DomainModel.load(tmp_path)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_statistics_flag_foreign_signals_not_physionet_like_ones(name):
    model = DomainModel.load(MODELS / name)
    assert model is not None and np.isfinite(model.threshold)
    rng = np.random.default_rng(0)
    t = np.arange(10 * ANALYSIS_RATE) / ANALYSIS_RATE
    noise = (0.1 * rng.standard_normal(len(t))).astype(np.float32)
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    for foreign in (noise, tone):
        assert model.is_unlike(describe_recording(foreign, ANALYSIS_RATE))
    for seed in range(5):
        assert not model.is_unlike(describe_recording(_pcg(seed), ANALYSIS_RATE))


class _ConstantModel:
    """Stands in for a trained model: P(abnormal) 0.2 for every window."""

    def predict_on_batch(self, inputs):
        return np.full((len(next(iter(inputs.values()))), 1), 0.2, dtype=np.float32)


def _predictor(domain) -> Predictor:
    return Predictor(_ConstantModel(), get_profile("cpu"), "fusion", 0.5, "fake", None, domain)


def test_predict_flags_a_recording_unlike_the_training_ones(tmp_path):
    domain = DomainModel.load(MODELS / "audiofuse-plus")
    like = tmp_path / "like.wav"
    sf.write(like, _pcg(1), ANALYSIS_RATE)
    # heart sounds that pass the quality gate, from a recorder 46 dB quieter than PhysioNet's
    unlike = tmp_path / "unlike.wav"
    sf.write(unlike, 0.005 * _pcg(1), ANALYSIS_RATE)
    row = _predictor(domain).predict_file(like)
    assert row["label"] == "normal" and row["reason"] is None
    assert 0 < row["domain_distance"] <= domain.threshold
    row = _predictor(domain).predict_file(unlike)
    assert row["quality"] == "ok"
    assert row["label"] == "unsure" and row["reason"] == UNLIKE_TRAINING
    assert row["domain_distance"] > domain.threshold
    assert _predictor(None).predict_file(unlike)["domain_distance"] is None


def test_unusable_statistics_name_the_file(tmp_path):
    for name in ("config.json", "model.onnx"):
        shutil.copy(MODELS / "audiofuse-plus" / name, tmp_path / name)
    (tmp_path / DOMAIN_FILE).write_text(json.dumps({"descriptors": ["x"]}))
    with pytest.raises(PredictError, match=f"{DOMAIN_FILE}: unusable domain statistics"):
        Predictor.load(tmp_path)
