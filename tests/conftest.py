"""Shared fixtures: the synthetic datasets, the real data (when present), a fast profile."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from audiofuse.model.tensorflow_env import prepare_tensorflow

prepare_tensorflow(quiet=True)  # before any test module imports TensorFlow

REPO_ROOT = Path(__file__).resolve().parents[1]


# The notebook chains first, the longest first: each runs its notebooks in order in
# one worker (--dist loadfile), ~5-6 min. Started last, they ended the suite alone
# with the other cores idle. `make test` passes --no-loadscope-reorder, so that xdist
# keeps this order instead of sorting the files by their number of tests. Then the
# other files with slow tests, then the rest, each file's tests in their own order.
LONGEST_FILES_FIRST = ("test_notebooks_beyond.py", "test_notebooks.py")


def pytest_collection_modifyitems(config, items):
    """Order the test files for the workers: see :data:`LONGEST_FILES_FIRST`."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}

    def rank(item) -> int:
        if item.path.name in LONGEST_FILES_FIRST:
            return LONGEST_FILES_FIRST.index(item.path.name)
        return len(LONGEST_FILES_FIRST) + (item.path not in slow_files)

    items.sort(key=rank)  # stable: the files' own order, and their tests', stay


def _real_data_candidates() -> list[Path]:
    """Where the real data may be, in order of precedence."""
    candidates = []
    for var in ("AUDIOFUSE_REAL_DATA_DIR", "AUDIOFUSE_DATA_DIR"):
        value = os.environ.get(var)
        if value:
            candidates.append(Path(value).expanduser())
    candidates.append(REPO_ROOT.parent / "shared" / "data")
    return candidates


def find_real_data_dir() -> Path | None:
    """The first candidate folder that holds ``physionet2016/training-a``, else None."""
    for folder in _real_data_candidates():
        if (folder / "physionet2016" / "training-a").is_dir():
            return folder
    return None


@pytest.fixture(scope="session")
def synthetic_roots(tmp_path_factory) -> dict[str, Path]:
    """``{"physionet2016": path, "pascal": path}`` of the smoke-size synthetic datasets."""
    from audiofuse.data.synthetic import make_synthetic_datasets

    return make_synthetic_datasets(tmp_path_factory.mktemp("synthetic_data"), size="smoke", seed=0)


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The real data folder (holding ``physionet2016/`` and ``pascal/``), or skip.

    Looks at ``AUDIOFUSE_REAL_DATA_DIR``, then ``AUDIOFUSE_DATA_DIR``, then
    ``../shared/data`` beside the repository; a folder counts only if it holds
    ``physionet2016/training-a``.
    """
    folder = find_real_data_dir()
    if folder is None:
        pytest.skip(
            "real data not found (set AUDIOFUSE_REAL_DATA_DIR to the folder holding "
            "physionet2016/training-a)"
        )
    return folder


@pytest.fixture(scope="session")
def smoke_profile():
    """The smoke profile, cut to 2 epochs for speed."""
    from audiofuse.config import get_profile

    smoke = get_profile("smoke")
    return smoke.replace(train=smoke.train.replace(epochs=2))


# Tables each notebook must leave behind (tests/test_notebooks*.py).
NOTEBOOK_TABLES = {
    "01_data_preparation": ["data_physionet2016"],
    "02_baselines": ["baselines"],
    "03_fusion": ["main_comparison"],
    "04_vit_ablation": ["vit_sweep"],
    "05_fusion_ablation": ["fusion_ablation"],
    "06_cross_dataset": ["pascal_robustness"],
    "07_balance_ablation": ["balance_ablation"],
    "08_plus": ["plus_ladder", "plus_pascal", "loso"],
    "09_results": [],
    "10_robust_default": ["robust_default"],
}


@pytest.fixture(scope="module")
def run_notebook(tmp_path_factory):
    """``run_notebook(path)``: execute a notebook under papermill (synthetic data, smoke
    profile, 2 epochs) in this test module's workspace and check the tables it leaves.

    Notebooks run in one module share its workspace (``run_notebook.workspace``),
    in order, as `make reproduce` runs them.
    """
    import papermill

    workspace = tmp_path_factory.mktemp("notebooks")
    old = os.environ.get("AUDIOFUSE_SYNTHETIC_DIR")
    os.environ["AUDIOFUSE_SYNTHETIC_DIR"] = str(workspace / "data")

    def run(notebook: Path) -> None:
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
            cwd=str(REPO_ROOT),
        )
        results = workspace / "results" / "synthetic" / "smoke"
        for table in NOTEBOOK_TABLES[notebook.stem]:
            md = (results / f"{table}.md").read_text()
            assert "SYNTHETIC" in md
            assert "commit" in md and "seeds" in md
            assert (results / f"{table}.csv").exists()

    run.workspace = workspace
    yield run
    if old is None:
        os.environ.pop("AUDIOFUSE_SYNTHETIC_DIR", None)
    else:
        os.environ["AUDIOFUSE_SYNTHETIC_DIR"] = old
