"""Platt scaling, Brier, ECE and the balanced threshold."""

from __future__ import annotations

import numpy as np

from audiofuse.evaluation.calibration import (
    apply_platt,
    balanced_threshold,
    brier_score,
    expected_calibration_error,
    fit_platt,
)


def _overconfident(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    true_logit = np.where(labels == 1, 1.0, -1.0) + rng.normal(0, 1.5, n)
    # the model's score is far too sure of itself: logit multiplied by 4, shifted
    scores = 1 / (1 + np.exp(-(4 * true_logit + 2)))
    return scores, labels


def test_platt_recovers_the_distortion_and_lowers_brier_and_ece():
    scores, labels = _overconfident()
    a, b = fit_platt(scores, labels)
    calibrated = apply_platt(scores, a, b)
    assert brier_score(calibrated, labels) < brier_score(scores, labels)
    assert expected_calibration_error(calibrated, labels) < 0.03
    assert expected_calibration_error(scores, labels) > 0.1


def test_platt_is_monotone_so_ranking_is_kept():
    scores, labels = _overconfident(500)
    a, b = fit_platt(scores, labels)
    order = np.argsort(scores)
    assert np.all(np.diff(apply_platt(scores, a, b)[order]) >= 0)


def test_balanced_threshold_equalises_weighted_se_and_sp():
    scores, labels = _overconfident()
    t = balanced_threshold(scores, labels)
    called = scores >= t
    se, sp = called[labels == 1].mean(), (~called[labels == 0]).mean()
    assert abs(se - sp) < 0.01
    # weights that double the normals move the threshold but keep the balance weighted
    weights = np.where(labels == 0, 2.0, 1.0)
    assert balanced_threshold(scores, labels, weights) == t


def test_brier_and_ece_of_a_perfect_prediction_are_zero():
    labels = np.array([0, 1, 1, 0])
    assert brier_score(labels.astype(float), labels) == 0
    assert expected_calibration_error(labels.astype(float), labels) == 0


def test_short_cuts_score_each_record_cut_to_2_to_5_seconds(synthetic_roots):
    from audiofuse.config import get_profile
    from audiofuse.data.indexes import index_physionet
    from audiofuse.predict.calibrate import score_short_cuts
    from audiofuse.predict.quality import MIN_SECONDS

    class LengthPredictor:
        profile = get_profile("smoke")

        def __init__(self):
            self.lengths = []

        def predict_samples(self, samples, calibrated=True):
            self.lengths.append(len(samples) / self.profile.features.sample_rate)
            return {"p_abnormal_raw": 0.5}

    table = index_physionet(synthetic_roots["physionet2016"]).head(12)
    predictor = LengthPredictor()
    scores = score_short_cuts(predictor, table, seed=3)
    assert list(scores["record"]) == list(table["record"])
    clip = predictor.profile.features.clip_seconds
    assert all(MIN_SECONDS - 0.01 <= s <= clip + 0.01 for s in predictor.lengths)
    assert len(set(np.round(predictor.lengths, 2))) > 1  # drawn, not one fixed cut
    again = score_short_cuts(LengthPredictor(), table, seed=3)
    assert again["seconds"].tolist() == scores["seconds"].tolist()
