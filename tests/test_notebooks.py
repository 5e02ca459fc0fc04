"""Every notebook runs headlessly under papermill (synthetic data, smoke profile, few epochs).

This is what keeps the notebooks, the package and `make demo` from drifting
apart. The notebooks run in order in one shared folder, as `make reproduce`
runs them, and each must leave its table behind.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

papermill = pytest.importorskip("papermill")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
EXPECTED_TABLES = {
    "01_data_preparation": ["data_physionet2016"],
    "02_baselines": ["baselines"],
    "03_fusion": ["main_comparison"],
    "04_vit_ablation": ["vit_sweep"],
    "05_fusion_ablation": ["fusion_ablation"],
    "06_cross_dataset": ["pascal_robustness"],
    "07_balance_ablation": ["balance_ablation"],
    "08_plus": ["plus_ladder", "plus_pascal", "loso"],
    "09_results": [],
}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    base = tmp_path_factory.mktemp("notebooks")
    old = {k: os.environ.get(k) for k in ("AUDIOFUSE_SYNTHETIC_DIR",)}
    os.environ["AUDIOFUSE_SYNTHETIC_DIR"] = str(base / "data")
    yield base
    for key, value in old.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def test_notebooks_are_committed_without_outputs():
    assert len(NOTEBOOKS) == 9
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


# Under pytest-xdist (`make test` runs `-n 2 --dist loadgroup`) the notebooks run
# as two chains, each in order in its own worker and workspace: 07 and 08 train
# every run they need, so they need nothing from 01-06; the rest of the suite
# fills the gaps. Run serially, the chains are one, in file order, as before.
INDEPENDENT_CHAIN = {"07_balance_ablation", "08_plus"}


def _chain(notebook: Path):
    group = "notebooks_beyond" if notebook.stem in INDEPENDENT_CHAIN else "notebooks"
    return pytest.param(notebook, marks=pytest.mark.xdist_group(group), id=notebook.stem)


@pytest.mark.slow
@pytest.mark.parametrize("notebook", [_chain(nb) for nb in NOTEBOOKS])
def test_notebook_runs(notebook, workspace):
    out = workspace / "executed" / notebook.name
    out.parent.mkdir(exist_ok=True)
    papermill.execute_notebook(
        str(notebook),
        str(out),
        parameters={
            "PROFILE": "smoke",
            "DATA_DIR": None,
            "SEEDS": [0],
            "EPOCHS": 2,
            "N_BOOT": 50,
            "HEAD_SPLITS": 2,
            "RESULTS_DIR": str(workspace / "results"),
            "RUNS_DIR": str(workspace / "runs"),
        },
        progress_bar=False,
        cwd=str(ROOT),
    )
    results = workspace / "results" / "synthetic" / "smoke"
    for table in EXPECTED_TABLES[notebook.stem]:
        md = (results / f"{table}.md").read_text()
        assert "SYNTHETIC" in md
        assert "commit" in md and "seeds" in md
        assert (results / f"{table}.csv").exists()
    if notebook.stem == "09_results":
        index = (workspace / "results" / "README.md").read_text()
        assert "PhysioNet 2016 test split" in index
        assert "Cross-dataset" in index


@pytest.mark.slow
@pytest.mark.xdist_group("notebooks")
def test_tables_rebuild_from_saved_scores_without_models(workspace):
    """What `make reproduce TRAIN=False` does with runs trained on another machine."""
    import pandas as pd

    from audiofuse import experiments as ex

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
