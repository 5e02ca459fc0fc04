"""The Colab cells of the notebooks (issue 13, section 7).

Fast tests run the install cell with ``subprocess.run`` recorded; the ``colab``
test installs for real in a fresh Python 3.12 venv with a preinstalled
TensorFlow (minutes; CI skips it: ``-m "not colab"``).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
import build_notebooks as bn  # noqa: E402

NOTEBOOK_01 = REPO / "notebooks" / "01_data_preparation.ipynb"


def _cells(path: Path = NOTEBOOK_01) -> list[str]:
    return [c.source for c in nbformat.read(path, as_version=4).cells]


def test_placeholder_repository_is_named_in_exactly_one_place():
    tracked = subprocess.run(
        ["git", "grep", "-c", bn.REPO_SLUG, "--", ".", ":!notebooks", ":!results"],
        cwd=REPO,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert tracked == ["scripts/build_notebooks.py:1"]
    assert "REPO_SLUG" in (REPO / "README.md").read_text()


def test_notebooks_are_generated_from_the_script():
    for name, (title, intro, calls) in bn.NOTEBOOKS.items():
        built = [c.source for c in bn.build(name, title, intro, calls).cells]
        assert built == _cells(REPO / "notebooks" / f"{name}.ipynb"), name


def _run_install_cell(monkeypatch, tmp_path, *, installed: bool) -> tuple[dict, list]:
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a[0]))
    monkeypatch.setenv("AUDIOFUSE_COLAB", "1")
    monkeypatch.delenv("AUDIOFUSE_INSTALL_FROM", raising=False)
    monkeypatch.setenv("AUDIOFUSE_COLAB_OUT", str(tmp_path))
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: (
            (real_find_spec(name, *a) if installed else None)
            if name == "audiofuse"
            else real_find_spec(name, *a)
        ),
    )
    scope = {"RESULTS_DIR": None, "RUNS_DIR": None}
    exec(_cells()[2], scope)
    return scope, calls


def test_install_cell_pins_the_ref_and_keeps_tensorflow(monkeypatch, tmp_path):
    scope, calls = _run_install_cell(monkeypatch, tmp_path, installed=False)
    assert len(calls) == 1
    command = " ".join(calls[0])
    assert calls[0][-1] == f"git+{bn.REPO_URL}@{bn.REPO_REF}" and " install " in command
    assert "tensorflow" not in command and "-e" not in calls[0]
    assert scope["RESULTS_DIR"] == f"{tmp_path}/results" and scope["RUNS_DIR"] == f"{tmp_path}/runs"


def test_install_cell_is_idempotent(monkeypatch, tmp_path):
    _, calls = _run_install_cell(monkeypatch, tmp_path, installed=True)
    assert calls == []  # already installed: a re-run installs nothing


def test_data_cell_downloads_into_the_data_dir_only_for_real_data(monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a[0]))
    data_cell = _cells()[3]
    for data_dir in (None, "synthetic"):
        exec(
            data_cell,
            {"IN_COLAB": True, "DATA_DIR": data_dir, "subprocess": subprocess, "sys": sys},
        )
    assert calls == []
    exec(
        data_cell,
        {"IN_COLAB": True, "DATA_DIR": "/content/data", "subprocess": subprocess, "sys": sys},
    )
    assert [c[3:] for c in calls] == [
        ["data", "download", "physionet2016", "--data-dir", "/content/data"],
        ["data", "download", "pascal", "--data-dir", "/content/data"],
    ]


def _python312() -> str | None:
    candidates = sorted(Path.home().glob(".pyenv/versions/3.12*/bin/python3.12"))
    return os.environ.get("AUDIOFUSE_PYTHON312") or (
        str(candidates[-1]) if candidates else shutil.which("python3.12")
    )


@pytest.mark.colab
@pytest.mark.slow
def test_notebook_01_runs_like_colab_in_a_fresh_312_venv(tmp_path):
    """Fresh 3.12 venv + TensorFlow (as Colab has), then the install cell from a clone."""
    python312 = _python312()
    if python312 is None:
        pytest.skip("no python3.12 (set AUDIOFUSE_PYTHON312)")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    commit = subprocess.run(
        ["git", "-C", str(clone), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    venv = tmp_path / "venv"
    subprocess.run([python312, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    pins = {
        line.split("==")[0]: line
        for line in (REPO / "requirements.txt").read_text().split()
        if "==" in line
    }
    colab_like = [pins["tensorflow-cpu"], pins["papermill"], pins["ipykernel"]]
    subprocess.run([python, "-m", "pip", "install", "-q", *colab_like], check=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env |= {
        "AUDIOFUSE_COLAB": "1",
        "AUDIOFUSE_INSTALL_FROM": f"git+file://{clone}@{commit}",
        "AUDIOFUSE_COLAB_OUT": str(tmp_path / "content"),
    }
    tf_before = subprocess.run(
        [python, "-m", "pip", "show", "tensorflow-cpu"], capture_output=True, text=True, env=env
    ).stdout
    out = tmp_path / "out.ipynb"
    subprocess.run(
        [
            python,
            "-m",
            "papermill",
            "--no-progress-bar",
            str(NOTEBOOK_01),
            str(out),
            "-p",
            "PROFILE",
            "smoke",
        ],
        check=True,
        cwd=tmp_path,
        env=env,
    )
    tf_after = subprocess.run(
        [python, "-m", "pip", "show", "tensorflow-cpu"], capture_output=True, text=True, env=env
    ).stdout
    assert tf_after == tf_before  # Colab's TensorFlow kept
    assert (tmp_path / "content" / "results").is_dir()
    # re-running the install cell is a no-op
    subprocess.run(
        [
            python,
            "-m",
            "papermill",
            "--no-progress-bar",
            str(NOTEBOOK_01),
            str(tmp_path / "again.ipynb"),
            "-p",
            "PROFILE",
            "smoke",
        ],
        check=True,
        cwd=tmp_path,
        env=env,
    )
