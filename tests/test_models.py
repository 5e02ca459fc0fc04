"""Tests of the Keras models (audiofuse.model.architecture)."""

from __future__ import annotations

import dataclasses
import io
import re
import tokenize
from pathlib import Path

import keras
import numpy as np
import pytest

from audiofuse.config import MODEL_INPUTS, MODEL_KINDS, get_profile
from audiofuse.model import architecture as models
from audiofuse.model.architecture import FUSION_STRATEGIES, build_model, count_params

SMOKE = get_profile("smoke")
PAPER = get_profile("paper")

# (depth, heads) -> (the paper's count, ours, pinned)
PAPER_SWEEP = {
    (4, 8): (1.99e6, 2_001_825),
    (6, 8): (2.56e6, 2_595_873),
    (8, 8): (3.17e6, 3_189_921),
    (12, 6): (4.35e6, 4_378_017),
}


def _inputs(model: keras.Model, batch: int = 3, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        t.name.split(":")[0]: rng.random((batch, *t.shape[1:])).astype("float32")
        for t in model.inputs
    }


@pytest.mark.parametrize("depth, heads", list(PAPER_SWEEP), ids=lambda v: str(v))
def test_paper_fusion_parameter_counts(depth, heads):
    paper_count, pinned = PAPER_SWEEP[(depth, heads)]
    model = build_model("fusion", PAPER.features, PAPER.model.replace(depth=depth, heads=heads))
    n = count_params(model)
    assert abs(n - paper_count) / paper_count < 0.05
    assert n == pinned  # a change here changes the paper comparison: update deliberately
    assert model.name == "audiofuse"


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_each_kind_builds_and_outputs_probabilities(kind):
    model = build_model(kind, SMOKE.features, SMOKE.model)
    expected_inputs = {
        "fusion": {"spectrogram", "waveform"},
        "spectrogram": {"spectrogram"},
        "waveform": {"waveform"},
    }[kind]
    assert {t.name.split(":")[0] for t in model.inputs} == expected_inputs
    out = np.asarray(model(_inputs(model), training=False))
    assert out.shape == (3, 1)
    assert np.all((out >= 0) & (out <= 1))


def test_baselines_are_smaller_than_fusion():
    n = {k: count_params(build_model(k, SMOKE.features, SMOKE.model)) for k in MODEL_KINDS}
    assert n["spectrogram"] < n["fusion"] and n["waveform"] < n["fusion"]


@pytest.mark.parametrize("fusion", FUSION_STRATEGIES)
def test_each_fusion_strategy_builds_and_runs(fusion):
    model = build_model("fusion", SMOKE.features, SMOKE.model.replace(fusion=fusion))
    assert model.get_layer("fusion_concat") is not None
    out = np.asarray(model(_inputs(model), training=False))
    assert out.shape == (3, 1) and np.all((out >= 0) & (out <= 1))


def test_film_applies_the_gated_modulation():
    model = build_model("fusion", SMOKE.features, SMOKE.model.replace(fusion="film"))
    names = ["vit_pool", "film_gate", "film_gamma", "film_beta", "film_apply"]
    probe = keras.Model(model.inputs, [model.get_layer(n).output for n in names])
    s, g, gamma, beta, out = (np.asarray(t) for t in probe(_inputs(model), training=False))
    np.testing.assert_allclose(out, s * (1 + g * gamma) + g * beta, rtol=1e-5, atol=1e-6)


def test_bad_kind_and_fusion_raise():
    with pytest.raises(ValueError, match="unknown model kind"):
        build_model("transformer", SMOKE.features, SMOKE.model)
    with pytest.raises(ValueError, match="unknown fusion"):
        build_model("fusion", SMOKE.features, SMOKE.model.replace(fusion="sum"))


def test_spectrogram_not_divisible_by_patch_raises():
    features = dataclasses.replace(SMOKE.features, image_size=(30, 64))
    with pytest.raises(ValueError, match="not divisible by patch"):
        build_model("fusion", features, SMOKE.model)
    with pytest.raises(ValueError, match="not divisible"):
        build_model("spectrogram", SMOKE.features, SMOKE.model.replace(patch_size=(8, 7)))


def test_models_module_is_backend_agnostic():
    """No TensorFlow in the model code (docstrings and comments may mention it)."""
    source = Path(models.__file__).read_text()
    code = [
        tok.string
        for tok in tokenize.generate_tokens(io.StringIO(source).readline)
        if tok.type not in (tokenize.STRING, tokenize.COMMENT)
    ]
    text = " ".join(code)
    assert "tensorflow" not in text
    assert not re.search(r"\btf\s*\.", text)
    assert not re.search(r"^\s*(import|from)\s+tensorflow", source, re.MULTILINE)


@pytest.mark.parametrize("fusion", FUSION_STRATEGIES)
def test_keras_save_load_round_trip(tmp_path, fusion):
    model = build_model("fusion", SMOKE.features, SMOKE.model.replace(fusion=fusion))
    x = _inputs(model, batch=4, seed=1)
    before = np.asarray(model(x, training=False))
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, compile=False)  # safe mode: no lambdas
    after = np.asarray(loaded(x, training=False))
    np.testing.assert_array_equal(before, after)
    assert count_params(loaded) == count_params(model)
    assert loaded.name == model.name


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_backbone_ends_where_the_head_begins(kind):
    profile = get_profile("smoke")
    model = build_model(kind, profile.features, profile.model)
    features = models.backbone(model)
    assert features.inputs == model.inputs
    first_head = model.get_layer("head_dense0" if profile.model.head_units else "abnormal_probability")
    assert features.output.shape == first_head.input.shape
    assert set(map(id, features.weights)) <= set(map(id, model.weights))  # shared, not copied


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_feature_inputs_follow_the_model_input_names(kind):
    import pandas as pd

    from audiofuse.features.feature_set import FeatureSet

    profile = get_profile("smoke")
    model = build_model(kind, profile.features, profile.model)
    names = [i.name for i in model.inputs]
    assert sorted(names) == sorted(MODEL_INPUTS[kind])
    fs = FeatureSet(
        np.ones((2, *profile.features.spectrogram_shape), np.float16),
        np.ones((2, *profile.features.waveform_shape), np.float16),
        pd.DataFrame({"record": ["a", "b"], "label": [0, 1]}),
    )
    assert sorted(fs.inputs(kind)) == sorted(names) == sorted(fs.inputs(names))
    assert model.predict_on_batch(fs.inputs(kind, [0])).shape == (1, 1)
