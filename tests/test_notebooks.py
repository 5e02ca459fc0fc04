"""Every notebook runs headlessly under papermill (synthetic data, smoke profile, few epochs).

This is what keeps the notebooks, the package and `make demo` from drifting
apart. The notebooks run in order in one shared folder, as `make reproduce`
runs them, and each must leave its table behind (the ``run_notebook`` fixture
in conftest.py); 07 and 08 run in test_notebooks_beyond.py.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

papermill = pytest.importorskip("papermill")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_notebooks_are_committed_without_outputs():
    assert len(NOTEBOOKS) == 10
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text())
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert all(not c.get("outputs") for c in code), f"{path.name} has outputs"
        assert "parameters" in code[0]["metadata"].get("tags", []), path.name
        text = "".join("".join(c["source"]) for c in code)
        # thin notebooks: no model or preprocessing code
        for forbidden in ("keras.layers", "librosa.", "def ", "class "):
            assert forbidden not in text, f"{path.name} contains {forbidden!r}"


def test_committed_notebooks_match_what_build_notebooks_generates(tmp_path, monkeypatch, capsys):
    spec = importlib.util.spec_from_file_location(
        "build_notebooks", ROOT / "scripts" / "build_notebooks.py"
    )
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    monkeypatch.setattr(builder, "ROOT", tmp_path)  # generate into a temporary folder
    builder.main()
    generated = sorted((tmp_path / "notebooks").glob("*.ipynb"))
    assert [p.name for p in generated] == [p.name for p in NOTEBOOKS]
    for fresh in generated:
        committed = ROOT / "notebooks" / fresh.name
        assert json.loads(fresh.read_text()) == json.loads(committed.read_text()), (
            f"{committed.name} differs from what scripts/build_notebooks.py generates; "
            "run `make notebooks` and commit the result"
        )


# 07 and 08 train every run they need, so they run as a chain of their own in
# test_notebooks_beyond.py: `make test` (pytest-xdist, --dist loadfile) runs the
# two files in two workers, each in its own workspace, beside the rest of the suite
# (both start first: see LONGEST_FILES_FIRST in conftest.py).
CHAIN = [nb for nb in NOTEBOOKS if nb.stem not in ("07_balance_ablation", "08_plus")]


@pytest.mark.slow
@pytest.mark.parametrize("notebook", CHAIN, ids=lambda p: p.stem)
def test_notebook_runs(notebook, run_notebook):
    run_notebook(notebook)
    if notebook.stem == "09_results":
        # synthetic results are indexed beside them, never in the committed results/README.md
        index = (run_notebook.workspace / "results" / "synthetic" / "README.md").read_text()
        assert "PhysioNet 2016 test split" in index
        assert "Cross-dataset" in index


@pytest.mark.slow
def test_tables_rebuild_from_saved_scores_without_models(run_notebook):
    """What `make reproduce TRAIN=False` does with runs trained on another machine."""
    import pandas as pd

    from audiofuse import experiments as ex

    workspace = run_notebook.workspace
    runs = workspace / "runs"
    for model in runs.rglob("*.keras"):
        model.unlink()
    ctx = ex.setup(
        profile="smoke",
        seeds=[0, 7],
        epochs=2,
        n_boot=50,
        runs_dir=str(runs),
        results_dir=str(workspace / "rebuilt"),
        train=False,
        progress=False,
    )
    rebuilt = ex.run_models(ctx, ex.PAPER_MODELS)  # seed 7 was never trained: skipped
    assert set(rebuilt["seed"]) == {0}
    original = pd.read_csv(
        workspace / "results" / "synthetic" / "smoke" / "main_comparison_per_seed.csv"
    )
    original = original[original["kind"] != "classical"]
    key = ["model", "evaluation"]
    merged = original.merge(rebuilt, on=key, suffixes=("", "_rebuilt"))
    assert len(merged) == len(rebuilt) == 6
    assert (merged["roc_auc"] - merged["roc_auc_rebuilt"]).abs().max() < 1e-12
    pascal = ex.cross_dataset(ctx, ex.PAPER_MODELS)
    assert set(pascal["protocol"]) == {"zero_shot", "head_trained"}
