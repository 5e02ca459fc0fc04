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
from audiofuse.config import get_profile
from audiofuse.experiments.scores import restore_runs

ROOT = Path(__file__).resolve().parents[1]
CPU_RESULTS = ROOT / "results" / "real" / "cpu"
PAPER_RESULTS = ROOT / "results" / "real" / "paper"


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


def _restored(real_data_dir, tmp_path, seeds, n_boot=50, profile="cpu") -> ex.Context:
    """A context (no training) over a profile's committed scores, restored into ``tmp_path``."""
    restore_runs(ROOT / "results" / "real" / profile / "scores", tmp_path / "runs" / "real" / profile)
    return ex.setup(
        profile,
        str(real_data_dir),
        seeds=seeds,
        runs_dir=str(tmp_path / "runs"),
        results_dir=str(tmp_path / "results"),
        n_boot=n_boot,
        progress=False,
        train=False,
    )


def _committed_scores(specs, profile="cpu") -> bool:
    """True when the committed scores hold every seed of every run of ``specs``."""
    folders = {spec.run_slug(get_profile(profile)) for spec in specs}
    scores = ROOT / "results" / "real" / profile / "scores"
    return all((scores / folder / f"seed{k}").is_dir() for folder in folders for k in (0, 1, 2))


def _committed_rows(per_seed_csv: str, models, profile="cpu") -> pd.DataFrame:
    """The committed per-seed rows of ``models`` (a table may hold others, e.g. classical)."""
    committed = pd.read_csv(ROOT / "results" / "real" / profile / per_seed_csv)
    return committed[committed["model"].isin(models)].reset_index(drop=True)


@pytest.mark.parametrize(
    "profile",
    [
        pytest.param(
            profile,
            marks=pytest.mark.skipif(
                not _committed_scores(ex.PAPER_MODELS, profile),
                reason=f"no committed {profile} scores of the main table's runs",
            ),
        )
        for profile in ("cpu", "paper")
    ],
)
def test_main_table_rows_rebuild_from_committed_scores(real_data_dir, tmp_path, profile):
    ctx = _restored(real_data_dir, tmp_path, seeds=(0, 1, 2), n_boot=1000, profile=profile)
    rebuilt = ex.run_models(ctx, ex.PAPER_MODELS)  # per seed and evaluation, CIs included
    committed = _committed_rows("main_comparison_per_seed.csv", rebuilt["model"], profile)
    assert len(rebuilt) == len(committed) == 18
    pd.testing.assert_frame_equal(rebuilt, committed, check_dtype=False)


@pytest.mark.skipif(
    not _committed_scores(ex.PAPER_MODELS, "paper")
    or not (PAPER_RESULTS / "test_selection.csv").exists(),
    reason="no committed paper scores with the test-selection diagnostic",
)
def test_paper_diagnostics_rebuild_from_committed_scores(real_data_dir, tmp_path):
    """The test-selection table and the fusion's knock-outs, from the committed scores
    and histories alone (the knock-outs were scored on the GPU machine)."""
    ctx = _restored(real_data_dir, tmp_path, seeds=(0, 1, 2), profile="paper")
    ex.test_selection_table(ctx)
    ex.branch_knockout_table(ctx, ex.run_models(ctx, ex.PAPER_MODELS))
    for name in ("test_selection", "branch_knockouts"):
        pd.testing.assert_frame_equal(
            _table(ctx.results / f"{name}.csv"), _table(PAPER_RESULTS / f"{name}.csv")
        )


@pytest.mark.skipif(
    not _committed_scores(ex.PAPER_MODELS), reason="no committed scores of the main table's runs"
)
def test_pascal_table_rebuilds_from_committed_scores(real_data_dir, tmp_path):
    ctx = _restored(real_data_dir, tmp_path, seeds=(0, 1, 2))  # the table shows no CI
    ex.cross_dataset(ctx, ex.PAPER_MODELS)
    pd.testing.assert_frame_equal(
        _table(ctx.results / "pascal_robustness.csv"), _table(CPU_RESULTS / "pascal_robustness.csv")
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
    committed = _committed_rows("loso_per_seed.csv", rebuilt["model"])
    assert len(rebuilt) == len(committed) > 0
    pd.testing.assert_frame_equal(rebuilt, committed, check_dtype=False)


@pytest.mark.skipif(
    not _committed_scores(ex.BALANCE_ABLATION),
    reason="no committed scores of the subset-balance ablation's runs",
)
def test_balance_ablation_rows_rebuild_from_committed_scores(real_data_dir, tmp_path):
    ctx = _restored(real_data_dir, tmp_path, seeds=(0, 1, 2), n_boot=1000)
    rebuilt = ex.run_models(ctx, ex.BALANCE_ABLATION)
    committed = _committed_rows("balance_ablation_per_seed.csv", rebuilt["model"])
    assert len(rebuilt) == len(committed) == 36
    pd.testing.assert_frame_equal(rebuilt, committed, check_dtype=False)
