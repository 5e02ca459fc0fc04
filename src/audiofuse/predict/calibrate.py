"""Calibrate a model folder: the workflow behind ``audiofuse calibrate``.

Scores the model's validation carve-out and the test records with a
:class:`~audiofuse.predict.predictor.Predictor`, fits Platt scaling and the
balanced threshold with :mod:`audiofuse.evaluation.calibration` (the maths),
and writes them into the folder's ``config.json``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

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

__all__ = ["calibrate_model", "score_records"]


def score_records(predictor, table: pd.DataFrame) -> pd.DataFrame:
    """Raw full-recording P(abnormal) (before calibration) for every row of ``table``."""
    rows = []
    for row in table.itertuples(index=False):
        result = predictor.predict_file(row.path, calibrated=False)
        rows.append({"record": row.record, "subset": row.subset, "label": int(row.label),
                     "score": result["p_abnormal_raw"], "quality": result["quality"]})
    return pd.DataFrame(rows)



def calibrate_model(folder: str | Path, physionet_root: str | Path) -> dict:
    """Fit Platt scaling and the balanced threshold on the model's carve-out.

    Scores the ``val_records`` named in ``folder/config.json`` (real training
    records), fits there under the subset balance, stores ``calibration`` and
    the new ``threshold`` in ``config.json``, and only then scores the test
    records to report (never to fit).

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
    weights = record_weights(val_scores, "subset")
    a, b = fit_platt(val_scores["score"], val_scores["label"], weights)
    val_p = apply_platt(val_scores["score"], a, b)
    threshold = balanced_threshold(val_p, val_scores["label"], weights)
    test_scores = score_records(predictor, test)
    test_p = apply_platt(test_scores["score"], a, b)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    calibration = {
        "method": "platt", "a": round(a, 6), "b": round(b, 6),
        "fitted_on": f"validation carve-out, {len(val_scores)} real training records, "
        "classes balanced within each subset",
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
    }
    write_model_card(folder, {"calibration": calibration, "threshold": round(threshold, 6),
                              "calibration_report": {k: v for k, v in report.items()
                                                     if k not in ("calibration", "threshold")}})
    return report
