"""The committed real-data tables equal what the committed per-run scores give.

``results/real/<profile>/scores/`` holds every run's per-record scores, config,
history and state (no weights). Restored into an empty runs folder, they must
rebuild the committed tables value for value, with no model and no training.
Needs the real data folder (the context indexes it); skips cleanly without it.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from audiofuse import experiments as ex
from audiofuse.experiments.scores import restore_runs

ROOT = Path(__file__).resolve().parents[1]
CPU_RESULTS = ROOT / "results" / "real" / "cpu"


@pytest.mark.skipif(
    not (CPU_RESULTS / "scores").is_dir() or not (CPU_RESULTS / "plus_ladder.csv").exists(),
    reason="no committed cpu scores or ladder",
)
def test_plus_ladder_rebuilds_from_committed_scores(real_data_dir, tmp_path):
    ctx = _restored(real_data_dir, tmp_path, seeds=(0, 1, 2))
    fusions = ex.PLUS_LADDER + ex.PLUS_LABEL_BALANCE
    runs = ex.run_models(ctx, fusions + ex.PLUS_BRANCHES)
    knockouts = ex.knockout_rows(ctx, fusions)
    ex.plus_ladder_table(ctx, runs, knockouts, ex.ensemble_rows(ctx, runs))
    # the provenance header (commit, date) differs by design; the table must not
    pd.testing.assert_frame_equal(
        _table(ctx.results / "plus_ladder.csv"), _table(CPU_RESULTS / "plus_ladder.csv")
    )


def _restored(real_data_dir, tmp_path, seeds) -> ex.Context:
    """A ``cpu`` context (no training) over the committed scores, restored into ``tmp_path``."""
    restore_runs(CPU_RESULTS / "scores", tmp_path / "runs" / "real" / "cpu")
    return ex.setup(
        "cpu",
        str(real_data_dir),
        seeds=seeds,
        runs_dir=str(tmp_path / "runs"),
        results_dir=str(tmp_path / "results"),
        n_boot=50,
        progress=False,
        train=False,
    )


def _table(path: Path) -> pd.DataFrame:
    """A results CSV without its ``# key: value`` provenance header."""
    lines = path.read_text().splitlines(keepends=True)
    body = "".join(line for line in lines if not line.startswith("# "))
    return pd.read_csv(io.StringIO(body), keep_default_na=False)


@pytest.mark.skipif(
    not (CPU_RESULTS / "loso_per_seed.csv").exists()
    or not any((CPU_RESULTS / "scores").glob("*-fold_*")),
    reason="no committed leave-one-subset-out scores",
)
def test_loso_neural_rows_rebuild_from_committed_scores(real_data_dir, tmp_path):
    ctx = _restored(real_data_dir, tmp_path, seeds=(0,))
    rebuilt = ex.loso_neural(ctx)
    committed = pd.read_csv(CPU_RESULTS / "loso_per_seed.csv")
    committed = committed[committed["model"].isin(rebuilt["model"])].reset_index(drop=True)
    assert len(rebuilt) == len(committed) > 0
    pd.testing.assert_frame_equal(rebuilt, committed, check_dtype=False)
