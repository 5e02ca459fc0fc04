"""Notebooks 07 and 08 under papermill: the chain that trains every run it needs.

Split from test_notebooks.py so that `make test` (pytest-xdist, ``--dist
loadfile``) runs the two chains in two workers; each file has its own
workspace (see the ``run_notebook`` fixture in conftest.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("papermill")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["07_balance_ablation", "08_plus"])
def test_notebook_runs(name, run_notebook):
    run_notebook(NOTEBOOKS / f"{name}.ipynb")
