"""Measurements too long for a benchmark run, read from the records that made them.

Training the 3-seed ``cpu`` main table takes most of an hour on 2 cores, so
``make bench`` does not retrain it: ``audiofuse train-runs`` records the wall
time of every call that trained (:data:`audiofuse.config.TRAIN_RUNS_TIMING_FILE`),
``scores export`` commits that record beside the scores, and this module reports
the latest call that trained the whole table, with its commit and date.

``make demo`` (minutes, and it builds the venv on a fresh clone) is recorded the
same way: the Makefile notes its start, and at its end
``python -m audiofuse.benchmark.record_demo`` appends the wall time to
:data:`DEMO_RECORD` beside the synthetic results.
"""

from __future__ import annotations

import datetime
import json
import os
import time
from pathlib import Path

from .. import reporting
from ..config import TRAIN_RUNS_TIMING_FILE
from .harness import comparison_rows, log
from .report import COMPARISON_SECTION, DEMO, MAIN_TABLE

__all__ = [
    "OLD_MAIN_TABLE_MIN",
    "OLD_DEMO_MIN",
    "DEMO_RECORD",
    "main_table_record",
    "recorded_rows",
    "demo_record",
    "demo_rows",
    "add_demo_record",
]

#: The old path: the 9 runs of the committed main table at 9b1030d, trained one after
#: another with every core. The sum of their own training times (``train_seconds`` in
#: results/real/cpu/main_comparison_per_seed.csv at that commit): 5468 s.
OLD_MAIN_TABLE_MIN = 5468.1 / 60
#: The old path of ``make demo``: 39 min from a fresh clone of e883431 on an idle
#: 2-core machine (3 seeds then, venv included), as issue 12 measured it.
OLD_DEMO_MIN = 39.0
#: The record of every ``make demo``, beside the synthetic smoke results.
DEMO_RECORD = "demo_runs.json"


def main_table_record(records: list[dict], seeds: int = 3) -> dict | None:
    """The latest ``train-runs`` record that trained every main-table run of ``seeds``
    seeds on the ``cpu`` profile and real data, and nothing else."""
    from ..experiments.specs import PAPER_MODELS  # imports Keras (the package's __init__)

    wanted = {f"{spec.slug}/seed{seed}" for spec in PAPER_MODELS for seed in range(seeds)}

    def whole_table(record: dict) -> bool:
        trained = {run.get("run") for run in record.get("runs", []) if "error" not in run}
        return (record.get("profile"), record.get("data")) == ("cpu", "real") and trained == wanted

    return _latest(records, whole_table)


def recorded_rows(scores_dir: str | Path) -> list[dict]:
    """Comparison rows of the recorded main-table training (none without a record)."""
    return _recorded_rows(
        Path(scores_dir) / TRAIN_RUNS_TIMING_FILE,
        main_table_record,
        "record of a whole 3-seed main-table training",
        MAIN_TABLE,
        "cpu",
        OLD_MAIN_TABLE_MIN,
        lambda r: f"real; new path: train-runs, {r['workers']} workers, {r['commit']}, {r['started']}",
    )


def add_demo_record(
    path: str | Path, clock: str | Path, seeds, head_splits: int, *, epochs: int | None = None
) -> dict:
    """Append the ``make demo`` that started at ``clock`` to the record at ``path``.

    ``clock`` holds ``<unix start> <1 if the venv was built by this demo, else 0>``,
    written by the Makefile before anything else ran; ``epochs`` is its cap on
    each run's epochs (None: the profile's). The record (a JSON list, oldest
    first) is rewritten atomically.
    """
    text = Path(clock).read_text()
    try:
        started, fresh = text.split()
        started = float(started)
    except ValueError:
        raise ValueError(f"{clock}: expected '<unix start> <0 or 1>', found {text.strip()!r}") from None
    record = {
        "started": datetime.datetime.fromtimestamp(started, datetime.UTC).strftime(
            "%Y-%m-%d %H:%M UTC"
        ),
        "wall_s": round(time.time() - started, 1),
        "fresh_venv": fresh == "1",
        "seeds": [int(seed) for seed in seeds],
        "head_splits": int(head_splits),
        "epochs": None if epochs is None else int(epochs),
        "commit": reporting.git_commit(),
        "cores": os.cpu_count(),
    }
    path = Path(path)
    records = json.loads(path.read_text()) if path.exists() else []
    path.parent.mkdir(parents=True, exist_ok=True)
    reporting.write_text_atomic(path, json.dumps([*records, record], indent=1) + "\n")
    return record


def demo_record(records: list[dict]) -> dict | None:
    """The latest ``make demo`` of the quick default (one seed) that built its own venv,
    i.e. ran from a fresh clone."""
    return _latest(records, lambda r: r.get("fresh_venv") and len(r.get("seeds", [])) == 1)


def demo_rows(results_dir: str | Path) -> list[dict]:
    """Comparison rows of the recorded fresh-clone ``make demo`` (none without a record)."""
    return _recorded_rows(
        Path(results_dir) / DEMO_RECORD,
        demo_record,
        "fresh-clone `make demo` of the quick default",
        DEMO,
        "smoke",
        OLD_DEMO_MIN,
        lambda r: (
            f"synthetic; new path: 1 seed, {r['head_splits']} PASCAL head splits, "
            f"{_epochs_text(r.get('epochs'))}, {r['cores']} cores, {r['commit']}, {r['started']}"
        ),
    )


def _epochs_text(epochs: int | None) -> str:
    return "the profile's epochs" if epochs is None else f"at most {epochs} epochs per run"


def _latest(records: list[dict], wanted) -> dict | None:
    """The last of ``records`` (oldest first) for which ``wanted(record)`` holds."""
    return next((record for record in reversed(records) if wanted(record)), None)


def _recorded_rows(path: Path, choose, missing: str, name, profile, old_min, describe):
    """Comparison rows, in minutes, of the record ``choose`` picks from the JSON list at
    ``path`` (old path ``old_min``; ``describe(record)`` gives their data column)."""
    record = choose(json.loads(path.read_text())) if path.exists() else None
    if record is None:
        log(f"recorded: no {missing} in {path}")
        return []
    return comparison_rows(
        COMPARISON_SECTION, name, profile, old_min, record["wall_s"] / 60, "min",
        describe(record), higher_is_better=False,
    )  # fmt: skip
