"""Measurements too long for a benchmark run, read from the records that made them.

Training the 3-seed ``cpu`` main table takes most of an hour on 2 cores, so
``make bench`` does not retrain it: ``audiofuse train-runs`` records the wall
time of every call that trained (:data:`audiofuse.config.TRAIN_RUNS_TIMING_FILE`),
``scores export`` commits that record beside the scores, and this module reports
the latest call that trained the whole table, with its commit and date.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..config import TRAIN_RUNS_TIMING_FILE
from .harness import comparison_rows, log
from .report import COMPARISON_SECTION, MAIN_TABLE

__all__ = ["OLD_MAIN_TABLE_MIN", "main_table_record", "recorded_rows"]

#: The old path: the 9 runs of the committed main table at 9b1030d, trained one after
#: another with every core. The sum of their own training times (``train_seconds`` in
#: results/real/cpu/main_comparison_per_seed.csv at that commit): 5468 s.
OLD_MAIN_TABLE_MIN = 5468.1 / 60


def main_table_record(records: list[dict], seeds: int = 3) -> dict | None:
    """The latest ``train-runs`` record that trained every main-table run of ``seeds``
    seeds on the ``cpu`` profile and real data, and nothing else."""
    from ..experiments.specs import PAPER_MODELS  # imports Keras (the package's __init__)

    wanted = {f"{spec.slug}/seed{seed}" for spec in PAPER_MODELS for seed in range(seeds)}
    for record in reversed(records):
        trained = {run.get("run") for run in record.get("runs", []) if "error" not in run}
        if (record.get("profile"), record.get("data")) == ("cpu", "real") and trained == wanted:
            return record
    return None


def recorded_rows(scores_dir: str | Path) -> list[dict]:
    """Comparison rows of the recorded main-table training (none without a record)."""
    path = Path(scores_dir) / TRAIN_RUNS_TIMING_FILE
    record = main_table_record(json.loads(path.read_text())) if path.exists() else None
    if record is None:
        log(f"recorded: no record of a whole 3-seed main-table training in {path}")
        return []
    data = f"real; new path: train-runs, {record['workers']} workers, {record['commit']}, {record['started']}"
    return comparison_rows(
        COMPARISON_SECTION,
        MAIN_TABLE,
        "cpu",
        OLD_MAIN_TABLE_MIN,
        record["wall_s"] / 60,
        "min",
        data,
        higher_is_better=False,
    )
