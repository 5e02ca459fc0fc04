"""Calibrate a model folder: the workflow behind ``audiofuse calibrate``.

Scores the model's validation carve-out and the test records with a
:class:`~audiofuse.predict.predictor.Predictor`, fits Platt scaling and the
balanced threshold with :mod:`audiofuse.evaluation.calibration` (the maths),
and writes them into the folder's ``config.json``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd

from audiofuse.data.indexes import index_physionet, physionet_split
from audiofuse.data.splits import record_weights
from audiofuse.evaluation.calibration import (
    apply_platt,
    balanced_threshold,
    calibration_metrics,
    fit_platt,
)
from audiofuse.files import read_json_object
from audiofuse.predict.predictor import Predictor, write_model_card

__all__ = ["calibrate_model", "score_records", "score_short_cuts"]


def score_records(predictor, table: pd.DataFrame) -> pd.DataFrame:
    """Raw full-recording P(abnormal) (before calibration) for every row of ``table``."""
    rows = []
    for row in table.itertuples(index=False):
        result = predictor.predict_file(row.path, calibrated=False)
        rows.append({"record": row.record, "subset": row.subset, "label": int(row.label),
                     "score": result["p_abnormal_raw"], "quality": result["quality"]})
    return pd.DataFrame(rows)



def score_short_cuts(predictor, table: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    """Raw P(abnormal) of every row of ``table`` cut to its first L seconds.

    L is drawn once per record, uniformly between the quality gate's shortest
    recording and one model clip, from ``seed``: recordings as short as people
    bring, so that a threshold fitted on them holds for short inputs too.
    """
    from audiofuse.features.extract import load_recording
    from audiofuse.predict.quality import MIN_SECONDS

    cfg = predictor.profile.features
    rng = np.random.default_rng(seed)
    rows = []
    for row in table.itertuples(index=False):
        seconds = float(rng.uniform(MIN_SECONDS, cfg.clip_seconds))
        samples = load_recording(row.path, cfg)[: int(round(seconds * cfg.sample_rate))]
        result = predictor.predict_samples(samples, calibrated=False)
        rows.append({"record": row.record, "subset": row.subset, "label": int(row.label),
                     "score": result["p_abnormal_raw"], "seconds": round(seconds, 3)})
    return pd.DataFrame(rows)


def calibrate_model(
    folder: str | Path, physionet_root: str | Path, *, short_cuts: bool = False
) -> dict:
    """Fit Platt scaling and the balanced threshold on the model's carve-out.

    Scores the ``val_records`` named in ``folder/config.json`` (real training
    records), fits there under the subset balance, stores ``calibration`` and
    the new ``threshold`` in ``config.json``, and only then scores the test
    records to report (never to fit).

    With ``short_cuts``, every carve-out record is also scored cut to a random
    short length (:func:`score_short_cuts`) and the fit uses both: a threshold
    for recordings as long as PhysioNet's and as short as people bring. The
    test records are then also reported cut the same way.

    Returns
    -------
    dict
        The stored calibration and the before/after metrics on both sets.
    """
    folder = Path(folder)
    predictor = Predictor.load(folder)  # first: it gives the one-line errors for a bad folder
    config = read_json_object(folder / "config.json")
    train, test = physionet_split(index_physionet(physionet_root, probe=False))
    val = train[train["record"].isin(set(config["val_records"]))]
    val_scores = score_records(predictor, val)
    if short_cuts:
        val_scores = pd.concat([val_scores, score_short_cuts(predictor, val)], ignore_index=True)
    weights = record_weights(val_scores, "subset")
    a, b = fit_platt(val_scores["score"], val_scores["label"], weights)
    val_p = apply_platt(val_scores["score"], a, b)
    threshold = balanced_threshold(val_p, val_scores["label"], weights)
    test_scores = score_records(predictor, test)
    test_p = apply_platt(test_scores["score"], a, b)
    short_report = {}
    if short_cuts:
        test_short = score_short_cuts(predictor, test, seed=1)
        short_report["test_short_cuts_calibrated"] = calibration_metrics(
            apply_platt(test_short["score"], a, b), test_short["label"], threshold
        )
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    calibration = {
        "method": "platt", "a": round(a, 6), "b": round(b, 6),
        "fitted_on": f"validation carve-out, {len(val)} real training records"
        + (", each also cut to a random 2-5 s" if short_cuts else "")
        + ", classes balanced within each subset",
        "threshold_rule": "Se = Sp on the carve-out, classes balanced within each subset",
        "threshold_uncalibrated": config.get("threshold"), "commit": commit,
    }
    report = {
        "calibration": calibration, "threshold": round(threshold, 6),
        "carveout_raw": calibration_metrics(val_scores["score"], val_scores["label"],
                                 config.get("threshold", 0.5), weights),
        "carveout_calibrated": calibration_metrics(val_p, val_scores["label"], threshold, weights),
        "test_raw": calibration_metrics(test_scores["score"], test_scores["label"],
                             config.get("threshold", 0.5)),
        "test_calibrated": calibration_metrics(test_p, test_scores["label"], threshold),
        "test_unsure": int((test_scores["quality"] != "ok").sum()),
        **short_report,
    }
    write_model_card(folder, {"calibration": calibration, "threshold": round(threshold, 6),
                              "calibration_report": {k: v for k, v in report.items()
                                                     if k not in ("calibration", "threshold")}})
    return report
