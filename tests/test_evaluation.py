"""Tests of audiofuse.evaluation: metrics pinned against scikit-learn."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    matthews_corrcoef,
    recall_score,
    roc_auc_score,
)

from audiofuse.evaluation import (
    METRIC_LABELS,
    METRIC_NAMES,
    EvaluationError,
    aggregate_windows,
    binary_metrics,
    bootstrap_ci,
    choose_threshold,
    evaluate,
    summarize_seeds,
)
from audiofuse.evaluation.metrics import _metrics_from_weights, _score_levels


def _sklearn_metrics(y, s, threshold):
    pred = (np.asarray(s) >= threshold).astype(int)
    se = recall_score(y, pred, pos_label=1)
    sp = recall_score(y, pred, pos_label=0)
    return {
        "roc_auc": roc_auc_score(y, s),
        "mcc": matthews_corrcoef(y, pred),
        "f1_abnormal": f1_score(y, pred, pos_label=1),
        "accuracy": accuracy_score(y, pred),
        "sensitivity": se,
        "specificity": sp,
        "macc": (se + sp) / 2,
    }


@pytest.fixture(scope="module")
def tied_scores():
    """301 records like the PhysioNet test split, with tied (rounded) scores."""
    rng = np.random.default_rng(42)
    y = (rng.random(301) < 0.5).astype(int)
    s = np.clip(0.35 + 0.3 * y + rng.normal(0, 0.22, 301), 0, 1).round(2)
    return y, s


# --------------------------------------------------------------------- metrics


def test_metric_names_and_labels():
    assert METRIC_NAMES == (
        "roc_auc",
        "mcc",
        "f1_abnormal",
        "accuracy",
        "sensitivity",
        "specificity",
        "macc",
    )
    assert [METRIC_LABELS[m] for m in METRIC_NAMES] == [
        "ROC-AUC",
        "MCC",
        "F1 (abnormal)",
        "Accuracy",
        "Se",
        "Sp",
        "MAcc",
    ]


def test_binary_metrics_by_hand():
    # threshold 0.5 -> pred [0, 1, 0, 1, 1, 0]: TP=2, FN=1, TN=2, FP=1
    y = [0, 0, 0, 1, 1, 1]
    s = [0.1, 0.6, 0.3, 0.8, 0.5, 0.2]
    m = binary_metrics(y, s, 0.5)
    assert m["sensitivity"] == pytest.approx(2 / 3)
    assert m["specificity"] == pytest.approx(2 / 3)
    assert m["macc"] == pytest.approx(2 / 3)
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["f1_abnormal"] == pytest.approx(2 / 3)  # 2TP / (2TP + FP + FN) = 4/6
    assert m["mcc"] == pytest.approx((2 * 2 - 1 * 1) / 9)  # (TP TN - FP FN) / sqrt(3^4)
    # positive/negative pairs ranked correctly: 0.8 beats all 3, 0.5 beats 2, 0.2 beats 1
    assert m["roc_auc"] == pytest.approx(6 / 9)
    assert m["threshold"] == 0.5
    assert m["n"] == 6 and m["n_abnormal"] == 3
    assert isinstance(m["n"], int) and isinstance(m["n_abnormal"], int)
    assert set(m) == set(METRIC_NAMES) | {"threshold", "n", "n_abnormal"}


def test_prediction_is_score_at_or_above_threshold():
    m = binary_metrics([0, 1], [0.4, 0.5], threshold=0.5)
    assert m["sensitivity"] == 1.0 and m["specificity"] == 1.0
    m = binary_metrics([0, 1], [0.4, 0.5], threshold=0.50001)
    assert m["sensitivity"] == 0.0


@pytest.mark.parametrize("threshold", [0.2, 0.37, 0.5, 0.71, 0.95])
def test_binary_metrics_match_sklearn(tied_scores, threshold):
    y, s = tied_scores
    ours = binary_metrics(y, s, threshold)
    ref = _sklearn_metrics(y, s, threshold)
    for name in METRIC_NAMES:
        assert ours[name] == pytest.approx(ref[name], abs=1e-12), name


def test_degenerate_predictions_match_sklearn():
    y = np.array([0, 1, 0, 1, 1])
    s = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    ours = binary_metrics(y, s, threshold=0.9)  # nothing predicted abnormal
    ref = _sklearn_metrics(y, s, 0.9)
    ref["f1_abnormal"] = f1_score(y, s >= 0.9, zero_division=0)
    for name in METRIC_NAMES:
        assert ours[name] == pytest.approx(ref[name]), name
    assert ours["mcc"] == 0.0 and ours["f1_abnormal"] == 0.0


def test_accepts_keras_column_and_bool_labels():
    y = np.array([True, False, True, False])
    s = np.array([[0.9], [0.2], [0.6], [0.7]], dtype=np.float32)
    m = binary_metrics(y, s)
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, s[:, 0]))


def test_bootstrap_kernel_matches_sklearn_on_resamples(tied_scores):
    y, s = tied_scores
    rng = np.random.default_rng(3)
    draws = rng.integers(0, y.size, size=(5, y.size))
    weights = np.stack([np.bincount(d, minlength=y.size) for d in draws])
    levels, n_levels = _score_levels(s)
    values = _metrics_from_weights(weights, y, s >= 0.5, levels, n_levels)
    for b, d in enumerate(draws):
        ref = _sklearn_metrics(y[d], s[d], 0.5)
        for name in METRIC_NAMES:
            assert values[name][b] == pytest.approx(ref[name], abs=1e-12), name


# ------------------------------------------------------------------- threshold


def test_youden_known_answer():
    # threshold -> (Se, Sp, J): 0.9 -> (1/3, 1, 1/3), 0.7 -> (2/3, 1, 2/3),
    # 0.6 -> (2/3, 2/3, 1/3), 0.4 -> (1, 2/3, 2/3), 0.2 -> (1, 1/3, 1/3)
    # J ties at 0.7 and 0.4: 0.4 is closer to 0.5
    y = [0, 0, 0, 1, 1, 1]
    s = [0.1, 0.2, 0.6, 0.4, 0.7, 0.9]
    assert choose_threshold(y, s) == pytest.approx(0.4)


def test_youden_equally_close_ties_and_separable_case():
    y = [0, 0, 0, 0, 1, 1, 1, 1]
    s = [0.05, 0.10, 0.12, 0.30, 0.20, 0.80, 0.85, 0.95]
    # 0.8 gives Se 3/4, Sp 1 (J = .75); 0.2 gives Se 1, Sp 3/4 (J = .75) -> tie,
    # |0.8-0.5| = .3 = |0.2-0.5| -> the larger wins
    assert choose_threshold(y, s) == pytest.approx(0.8)
    # perfectly separable: the lowest abnormal score is the only J = 1 threshold
    assert choose_threshold([0, 0, 1, 1], [0.1, 0.2, 0.65, 0.9]) == pytest.approx(0.65)


def test_youden_is_the_brute_force_optimum(tied_scores):
    y, s = tied_scores
    t = choose_threshold(y, s)
    j = {c: binary_metrics(y, s, c) for c in np.unique(s)}
    j = {c: m["sensitivity"] + m["specificity"] - 1 for c, m in j.items()}
    assert j[t] == pytest.approx(max(j.values()))


def test_threshold_fixed_and_clamped():
    assert choose_threshold([0, 1, 1], [0.2, 0.3, 0.9], method="fixed") == 0.5
    assert choose_threshold([1, 1], [0.2, 0.3], method="fixed") == 0.5  # no second class needed
    # all abnormal records score lowest: the best J (0) ties everywhere and the inf
    # threshold of roc_curve must come back inside [0, 1]
    t = choose_threshold([0, 0, 1, 1], [0.95, 0.99, 0.1, 0.2])
    assert t == pytest.approx(0.1)  # J = 0 at 1.0 (clamped inf) and 0.1; 0.1 is closer
    # J = 0 at the clamped inf (1.0) and at 0.0, equally close to 0.5: the larger
    assert choose_threshold([0, 0, 1, 1], [0.95, 0.99, 0.0, 0.2]) == 1.0
    # scores that are not probabilities keep the inf threshold above every score
    t = choose_threshold([0, 0, 1, 1], [5.0, 9.0, -30.0, 2.0])
    assert t > 9.0 and np.isfinite(t)
    with pytest.raises(EvaluationError, match="unknown threshold method"):
        choose_threshold([0, 1], [0.1, 0.9], method="f1")


# ---------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "y, s, match",
    [
        ([], [], "empty"),
        ([0, 1, 1], [0.1, 0.2], "differ in length"),
        ([0, 1, 1], [0.1, np.nan, 0.3], "NaN or infinite"),
        ([0, 1, 1], [0.1, np.inf, 0.3], "NaN or infinite"),
        ([0, 1, 2], [0.1, 0.2, 0.3], "labels must be 0"),
        ([-1, 1, 1], [0.1, 0.2, 0.3], "map it to 0"),
        ([1, 1, 1], [0.1, 0.2, 0.3], "only one class"),
        ([0, 0], [0.1, 0.2], "only one class"),
        ([0, 1], [[0.2, 0.8], [0.3, 0.7]], r"proba\[:, 1\]"),
        (["a", "b"], [0.1, 0.2], "labels must be 0"),
    ],
)
def test_clear_errors(y, s, match):
    for call in (
        lambda: binary_metrics(y, s),
        lambda: choose_threshold(y, s),
        lambda: bootstrap_ci(y, s, 0.5, n_boot=10),
        lambda: evaluate(y, s, 0.5, n_boot=10),
    ):
        with pytest.raises(EvaluationError, match=match):
            call()


def test_bad_threshold_and_options():
    with pytest.raises(EvaluationError, match="threshold must be finite"):
        binary_metrics([0, 1], [0.1, 0.9], threshold=np.nan)
    with pytest.raises(EvaluationError, match="n_boot"):
        bootstrap_ci([0, 1], [0.1, 0.9], 0.5, n_boot=0)
    with pytest.raises(EvaluationError, match="alpha"):
        bootstrap_ci([0, 1], [0.1, 0.9], 0.5, alpha=1.5)
    with pytest.raises(EvaluationError, match="unknown metric"):
        bootstrap_ci([0, 1], [0.1, 0.9], 0.5, metrics=["auc"])
    assert issubclass(EvaluationError, ValueError)


# ------------------------------------------------------------------- bootstrap


@pytest.mark.parametrize("stratified", [True, False])
def test_bootstrap_contains_estimate_and_is_deterministic(tied_scores, stratified):
    y, s = tied_scores
    point = binary_metrics(y, s, 0.5)
    # CPU time, not wall time: the bound pins the vectorised bootstrap, and a machine busy
    # with other work (training beside the suite) must not fail it
    start = time.process_time()
    ci = bootstrap_ci(y, s, 0.5, n_boot=1000, seed=7, stratified=stratified)
    assert time.process_time() - start < 2.0
    assert list(ci) == list(METRIC_NAMES)
    for name, (low, high) in ci.items():
        assert low <= point[name] <= high, name
        assert high - low < 0.3, name
    assert ci == bootstrap_ci(y, s, 0.5, n_boot=1000, seed=7, stratified=stratified)
    assert ci != bootstrap_ci(y, s, 0.5, n_boot=1000, seed=8, stratified=stratified)


def test_bootstrap_alpha_and_subset(tied_scores):
    y, s = tied_scores
    ci95 = bootstrap_ci(y, s, 0.5, n_boot=500, metrics=["roc_auc"])
    ci80 = bootstrap_ci(y, s, 0.5, n_boot=500, metrics=["roc_auc"], alpha=0.2)
    assert list(ci95) == ["roc_auc"]
    assert ci95["roc_auc"][0] <= ci80["roc_auc"][0] <= ci80["roc_auc"][1] <= ci95["roc_auc"][1]


def test_stratified_bootstrap_keeps_class_counts():
    # 2 records: plain resampling often draws a single class, stratified never does
    ci = bootstrap_ci([0, 1], [0.3, 0.7], 0.5, n_boot=50)
    assert ci["roc_auc"] == (1.0, 1.0)
    with pytest.warns(UserWarning, match="single class"):
        bootstrap_ci([0, 1], [0.3, 0.7], 0.5, n_boot=50, stratified=False)


def test_evaluate_row(tied_scores):
    y, s = tied_scores
    row = evaluate(y, s, 0.42, n_boot=200, seed=1)
    point = binary_metrics(y, s, 0.42)
    for key, value in point.items():
        assert row[key] == value
    for name in METRIC_NAMES:
        assert row[f"{name}_ci_low"] <= row[name] <= row[f"{name}_ci_high"]
    assert row["n_boot"] == 200
    no_ci = evaluate(y, s, 0.42, n_boot=0)
    assert "roc_auc_ci_low" not in no_ci and no_ci["roc_auc"] == point["roc_auc"]


# --------------------------------------------------------------- seeds, windows


def test_summarize_seeds():
    rows = [
        {"model": "fusion", "seed": 0, "roc_auc": 0.85, "mcc": 0.5},
        {"model": "vit", "seed": 0, "roc_auc": 0.70, "mcc": 0.3},
        {"model": "fusion", "seed": 1, "roc_auc": 0.87, "mcc": 0.6},
        {"model": "fusion", "seed": 2, "roc_auc": 0.86, "mcc": np.nan},
    ]
    out = summarize_seeds(rows)
    assert out["model"].tolist() == ["fusion", "vit"]  # first-appearance order
    fusion = out.iloc[0]
    assert fusion["n_seeds"] == 3
    assert fusion["roc_auc_mean"] == pytest.approx(0.86)
    assert fusion["roc_auc_sd"] == pytest.approx(np.std([0.85, 0.87, 0.86], ddof=1))
    assert fusion["roc_auc_fmt"] == "0.860 ± 0.010"
    assert fusion["mcc_mean"] == pytest.approx(0.55)  # NaN ignored
    vit = out.iloc[1]
    assert vit["n_seeds"] == 1 and np.isnan(vit["roc_auc_sd"])
    assert vit["roc_auc_fmt"] == "0.700"
    assert "accuracy_mean" not in out.columns  # only metrics present


def test_summarize_seeds_frame_groups_and_errors():
    frame = pd.DataFrame(
        {
            "model": ["a", "a", "a", "a"],
            "profile": ["cpu", "cpu", "paper", "paper"],
            "macc": [0.7, 0.8, 0.9, 0.9],
        }
    )
    out = summarize_seeds(frame, group_cols=["model", "profile"], metrics=["macc"], decimals=2)
    assert out[["model", "profile"]].values.tolist() == [["a", "cpu"], ["a", "paper"]]
    assert out["macc_fmt"].tolist() == ["0.75 ± 0.07", "0.90 ± 0.00"]
    with pytest.raises(EvaluationError, match="no rows"):
        summarize_seeds([])
    with pytest.raises(EvaluationError, match="group column"):
        summarize_seeds(frame, group_cols="seed")
    with pytest.raises(EvaluationError, match="metric column"):
        summarize_seeds(frame, metrics=["roc_auc"])
    with pytest.raises(EvaluationError, match="no metric columns"):
        summarize_seeds(frame[["model"]])


def test_aggregate_windows():
    ids, scores = aggregate_windows([0.2, 0.9, 0.4, 0.7, 0.5], ["b", "a", "b", "a", "c"])
    assert ids.tolist() == ["b", "a", "c"]
    assert scores == pytest.approx([0.3, 0.8, 0.5])
    ids, scores = aggregate_windows([0.2, 0.9, 0.4, 0.6, 0.1], [7, 3, 7, 3, 7], how="max")
    assert ids.tolist() == [7, 3] and scores == pytest.approx([0.4, 0.9])
    _, scores = aggregate_windows(
        [[0.2], [0.9], [0.4], [0.6], [0.1]], [7, 3, 7, 3, 7], how="median"
    )
    assert scores == pytest.approx([0.2, 0.75])
    with pytest.raises(EvaluationError, match="differ in length"):
        aggregate_windows([0.1, 0.2], ["a"])
    with pytest.raises(EvaluationError, match="NaN"):
        aggregate_windows([0.1, np.nan], ["a", "b"])
    with pytest.raises(EvaluationError, match="empty"):
        aggregate_windows([], [])
    with pytest.raises(EvaluationError, match="unknown aggregation"):
        aggregate_windows([0.1], ["a"], how="vote")


def test_within_seed_spread_compares_each_groups_mean_with_the_reference_seeds():
    import pandas as pd

    from audiofuse.evaluation import within_seed_spread

    reference = pd.DataFrame(
        {
            "model": ["a"] * 3 + ["b"] * 3 + ["only_reference"],
            "evaluation": ["first_5s"] * 7,
            "roc_auc": [0.70, 0.80, 0.90, 0.80, 0.81, 0.82, 0.5],
        }
    )
    retrained = pd.DataFrame(
        {
            "model": ["a"] * 2 + ["b"] * 2,
            "evaluation": ["first_5s"] * 4,
            "roc_auc": [0.72, 0.74, 0.90, 0.92],
        }
    )
    check = within_seed_spread(reference, retrained).set_index("model")
    assert list(check.index) == ["a", "b"]  # groups in both tables only
    a, b = check.loc["a"], check.loc["b"]
    assert a["mean_retrained"] == pytest.approx(0.73) and a["difference"] == pytest.approx(-0.07)
    assert a["within_range"] and a["within_1sd"]  # 0.73 in [0.70, 0.90]; sd 0.1
    assert not b["within_range"] and not b["within_1sd"]  # 0.91 above 0.82
    assert (a["seeds_reference"], a["seeds_retrained"]) == (3, 2)
