"""`make clean` removes generated files only, never a committed file (issue 13, section 5)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(
    shutil.which("make") is None or shutil.which("git") is None or not (REPO / ".git").exists(),
    reason="needs make, git and a git checkout",
)
def test_make_clean_keeps_every_committed_file(tmp_path):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--no-checkout", str(REPO), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "-q", "HEAD"], check=True)
    shutil.copy(REPO / "Makefile", clone / "Makefile")  # the working copy under test
    subprocess.run(["git", "-C", str(clone), "update-index", "--assume-unchanged", "Makefile"])
    generated = [
        "runs/cache/physionet2016/x.npy",
        "data/synthetic/smoke/a.wav",
        "results/synthetic/smoke/new_table.csv",
        "src/audiofuse/__pycache__/x.pyc",
        "tests/__pycache__/y.pyc",
        ".pytest_cache/v",
    ]
    for name in generated:
        (clone / name).parent.mkdir(parents=True, exist_ok=True)
        (clone / name).write_text("generated")
    kept_user_data = clone / "data" / "physionet2016" / "REFERENCE.csv"
    kept_user_data.parent.mkdir(parents=True)
    kept_user_data.write_text("downloaded data is not generated")

    subprocess.run(["make", "-s", "clean"], cwd=clone, check=True, capture_output=True)

    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=clone, check=True, capture_output=True, text=True
    ).stdout
    assert status == "", f"make clean touched committed files:\n{status}"
    assert [name for name in generated if (clone / name).exists()] == []
    assert kept_user_data.exists()
