"""The robust-default ingredients and the selection protocol's measures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audiofuse.config import AugmentConfig, augment_preset, get_profile
from audiofuse.data.protocols import selection_folds
from audiofuse.features.augment import augment_clips, random_truncation
from audiofuse.features.extract import clip_features, fix_length


def test_random_truncation_keeps_a_segment_at_the_start_and_zeros_the_rest():
    clip = np.arange(1, 1001, dtype=np.float32)
    rng = np.random.default_rng(0)
    for _ in range(50):
        out = random_truncation(clip, rng, min_samples=300)
        kept = np.flatnonzero(out)
        assert kept[0] == 0 and len(kept) >= 300
        assert np.all(out[len(kept) :] == 0)
        # a contiguous piece of the clip
        assert np.all(np.diff(out[: len(kept)]) == 1)


def test_truncated_examples_are_what_inference_makes_of_a_short_recording():
    features = get_profile("smoke").features
    rng = np.random.default_rng(1)
    # a standardised clip: the cached waveform then equals the raw audio
    raw = rng.standard_normal(features.clip_samples)
    raw = ((raw - raw.mean()) / raw.std()).astype(np.float32)
    spec, wave = clip_features(raw, features)
    inputs = {"spectrogram": spec[None, :, :, None], "waveform": wave[None, :, None]}
    cfg = AugmentConfig(truncate_probability=1.0, truncate_min_seconds=1.0)
    out = augment_clips(inputs, np.random.default_rng(2), cfg, features)
    # the same draws: the per-example coin flips, then the segment
    replay = np.random.default_rng(2)
    replay.random(1), replay.random(1)
    segment = random_truncation(wave, replay, int(features.sample_rate))
    n_kept = int(np.flatnonzero(segment)[-1]) + 1
    assert n_kept < features.clip_samples  # this draw does cut the clip
    # inference pads a recording holding just that segment with zeros
    expected_spec, expected_wave = clip_features(
        fix_length(segment[:n_kept], features.clip_samples), features
    )
    assert np.allclose(out["waveform"][0, :, 0], expected_wave, atol=1e-5)
    assert np.allclose(out["spectrogram"][0, :, :, 0], expected_spec, atol=1e-5)


def test_presets_without_truncation_draw_as_before():
    features = get_profile("smoke").features
    rng = np.random.default_rng(3)
    batch = {
        "spectrogram": rng.random((6, *features.image_size, 1)).astype(np.float32),
        "waveform": rng.standard_normal((6, features.clip_samples, 1)).astype(np.float32),
    }
    plus = augment_preset("plus")
    assert plus.truncate_probability == 0
    first = augment_clips(batch, np.random.default_rng(4), plus, features)
    again = augment_clips(batch, np.random.default_rng(4), plus, features)
    assert all(np.array_equal(first[k], again[k]) for k in batch)


def test_modality_dropout_drops_one_branch_per_example_only_while_training():
    keras = pytest.importorskip("keras")
    from audiofuse.model.architecture import ModalityDropout

    layer = ModalityDropout(1.0, seed=0)
    first, second = np.ones((64, 3), "float32"), np.ones((64, 3), "float32")
    kept_first, kept_second = (
        keras.ops.convert_to_numpy(t) for t in layer([first, second], training=True)
    )
    dropped_first = kept_first.sum(axis=1) == 0
    dropped_second = kept_second.sum(axis=1) == 0
    assert np.all(dropped_first ^ dropped_second)  # exactly one of the two, every example
    assert 0 < dropped_first.sum() < 64
    at_inference = layer([first, second], training=False)
    assert all(np.array_equal(keras.ops.convert_to_numpy(t), first) for t in at_inference)


def test_selection_folds_never_hold_a_test_record():
    table = pd.DataFrame(
        {
            "record": [f"r{i}" for i in range(12)],
            "subset": list("aaaabbbbcccc"),
            "label": [0, 1] * 6,
            "split": ["train", "train", "train", "test"] * 3,
        }
    )
    folds = selection_folds(table)
    assert [f.name for f in folds] == ["sel_a", "sel_b", "sel_c"]
    test_records = set(table.loc[table["split"] == "test", "record"])
    for fold in folds:
        assert not test_records & (set(fold.train) | set(fold.test))


def test_pascal_measures_leave_artifact_out_and_measure_length_dependence():
    from audiofuse.experiments.tables.robust import pascal_measures

    rng = np.random.default_rng(5)
    index = pd.DataFrame(
        {
            "record": [f"p{i}" for i in range(40)],
            "set": ["A"] * 20 + ["B"] * 20,
            "original_class": (["normal", "murmur", "artifact", "murmur"] * 10),
            "duration": rng.uniform(2, 10, 40),
        }
    )
    index["label"] = (index["original_class"] != "normal").astype(int)
    # P(abnormal) grows with length among set B's normals: rho near 1
    score = np.where(index["label"] == 1, 0.8, 0.0) + index["duration"] / 100
    zero_shot = pd.DataFrame({"record": index["record"], "label": index["label"], "score": score})
    out = pascal_measures(zero_shot, index, threshold=0.5)
    assert out["pascal_a_auc"] == 1.0 and out["pascal_b_auc"] == 1.0
    assert out["pascal_b_length_rho"] > 0.9
    # artifacts scored as normal hurt only the with-artifact ROC-AUC
    zero_shot.loc[index["original_class"] == "artifact", "score"] = 0.0
    out = pascal_measures(zero_shot, index, threshold=0.5)
    assert out["pascal_auc"] == 1.0 and out["pascal_with_artifact_auc"] < 1.0


def test_travelling_threshold_pools_both_lengths():
    from audiofuse.experiments.tables.robust import travelling_threshold

    long = pd.DataFrame({"label": [0, 0, 1, 1], "score": [0.1, 0.2, 0.8, 0.9]})
    short = pd.DataFrame({"label": [0, 0, 1, 1], "score": [0.05, 0.1, 0.3, 0.4]})
    threshold = travelling_threshold(long, short)
    assert 0.2 < threshold <= 0.3  # separates both: every abnormal above, every normal below


def test_screened_out_candidates_train_at_the_first_seed_only(monkeypatch):
    from audiofuse.experiments import specs

    profile = get_profile("cpu")
    first, second = specs.ROBUST_CANDIDATES[:2]
    monkeypatch.setattr(specs, "ROBUST_FINALISTS", (second,))
    assert specs.screen_only(first, profile)
    assert not specs.screen_only(second, profile)
    assert not specs.screen_only(specs.PAPER_MODELS[2], profile)


def test_seed_ensemble_exports_the_mean_of_its_members(tmp_path, synthetic_roots):
    keras = pytest.importorskip("keras")
    import json

    from audiofuse.experiments.context import setup
    from audiofuse.experiments.export import export_ensemble
    from audiofuse.experiments.runs import SHORT_CLIP
    from audiofuse.experiments.specs import ROBUST_CANDIDATES
    from audiofuse.experiments.tables.robust import travelling_threshold
    from audiofuse.model.architecture import build_model
    from audiofuse.model.training import load_trained

    base = synthetic_roots["physionet2016"].parent
    ctx = setup(
        "smoke",
        data_dir=str(base),
        runs_dir=str(tmp_path / "runs"),
        results_dir=str(tmp_path / "results"),
        progress=False,
    )
    spec = ROBUST_CANDIDATES[0]
    profile = spec.profile(ctx.profile)
    rng = np.random.default_rng(0)
    thresholds, members = [], []
    for seed in (0, 1):
        run = ctx.run(spec, seed)
        run.path.mkdir(parents=True)
        keras.utils.set_random_seed(seed)
        model = build_model("fusion", profile.features, profile.model)
        model.save(run.checkpoint("best"))
        run.write_json(
            "config",
            {
                "kind": "fusion",
                "seed": seed,
                "profile": profile.to_dict(),
                "val_records": [f"v{seed}"],
            },
        )
        frames = {}
        for name in ("first_5s", SHORT_CLIP):
            val = pd.DataFrame(
                {
                    "record": [f"r{i}" for i in range(20)],
                    "label": [0, 1] * 10,
                    "score": rng.random(20),
                }
            )
            run.write_scores(name, val, val)
            frames[name] = val
        thresholds.append(travelling_threshold(frames["first_5s"], frames[SHORT_CLIP]))
        members.append(model)
    dest = export_ensemble(ctx, spec, [0, 1], tmp_path / "ensemble")
    card = json.loads((dest / "config.json").read_text())
    assert card["ensemble_seeds"] == [0, 1] and "val_records" not in card
    assert card["threshold"] == pytest.approx(np.mean(thresholds), abs=1e-6)
    ensemble, _ = load_trained(dest)
    x = {
        "spectrogram": rng.random((3, *profile.features.spectrogram_shape), dtype=np.float32),
        "waveform": rng.standard_normal((3, *profile.features.waveform_shape)).astype(np.float32),
    }
    want = np.mean([m.predict_on_batch(x) for m in members], axis=0)
    assert np.allclose(ensemble.predict_on_batch(x), want, atol=1e-6)


def test_final_scores_weigh_the_protocols_measures_and_skip_those_without_folds():
    from audiofuse.experiments.tables.robust import final_scores

    runs = pd.DataFrame(
        {
            "model": ["a", "a", "b", "c"],
            "slug": ["a", "a", "b", "c"],
            "seed": [0, 1, 0, 0],
            "loso_auc": [0.7, np.nan, 0.6, np.nan],
            "loso_macc": [0.6, np.nan, 0.6, np.nan],
            "pascal_auc": [0.5, 0.7, 0.5, 0.9],
            "carve_out_auc": [0.9, 0.9, 0.9, 0.9],
        }
    )
    scores = final_scores(runs).set_index("model")
    assert list(scores.index) == ["a", "b"]  # c has no folds
    assert scores.loc["a", "final_score"] == pytest.approx(
        0.3 * 0.7 + 0.2 * 0.6 + 0.25 * 0.6 + 0.25 * 0.9
    )


def test_decision_measures_count_unsure_apart_and_rank_every_recording():
    from audiofuse.experiments.tables.cards import decision_measures

    scores = pd.DataFrame(
        {
            "label": [1, 1, 1, 0, 0, 0],
            "p_abnormal": [0.9, 0.6, 0.2, 0.1, 0.7, 0.95],
            "verdict": ["abnormal", "normal", "unsure", "normal", "abnormal", "unsure"],
        }
    )
    out = decision_measures(scores)
    # Se and Sp over the decided recordings only; unsure is its own share
    assert out["sensitivity"] == pytest.approx(0.5) and out["specificity"] == pytest.approx(0.5)
    assert out["macc"] == pytest.approx(0.5) and out["unsure"] == pytest.approx(2 / 6)
    # ROC-AUC ranks all six by P(abnormal), the unsure ones included
    assert out["roc_auc"] == pytest.approx(4 / 9)
    assert (out["n"], out["n_abnormal"]) == (6, 3)


def test_model_card_scores_through_predict_then_rebuilds_from_saved_verdicts(
    synthetic_roots, tmp_path, monkeypatch
):
    """The card of the committed default: every protocol's row; a second call reads
    the saved verdicts (no scoring) and gives the same card."""
    from audiofuse.experiments import context
    from audiofuse.experiments.tables import cards as card
    from audiofuse.predict.predictor import Predictor
    from audiofuse.predict.resources import default_model

    if not (default_model() / "model.onnx").exists():
        pytest.skip("no committed default model")
    ctx = context.setup(
        profile="smoke", data_dir=str(synthetic_roots["physionet2016"].parent), seeds=[0],
        runs_dir=str(tmp_path / "runs"), results_dir=str(tmp_path / "results"), progress=False,
    )
    first = card.model_card(ctx)
    assert first["protocol"].str.startswith("PhysioNet test list").sum() == 3
    assert first["protocol"].str.startswith("PASCAL").sum() == 3
    assert first["unsure share"].between(0, 1).all()
    saved = sorted(p.name for p in (ctx.results / "model_scores" / default_model().name).iterdir())
    assert saved == sorted(f"{name}.csv" for name in card.PROTOCOLS)
    assert (ctx.results / f"model_card_{default_model().name}.md").exists()

    def no_scoring(*args, **kwargs):
        raise AssertionError("scored again")

    monkeypatch.setattr(Predictor, "load", no_scoring)
    pd.testing.assert_frame_equal(first, card.model_card(ctx))
