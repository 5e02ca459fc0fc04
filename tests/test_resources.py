"""The default model is found in a checkout and in a plain (non-editable) install;
``audiofuse --version``; the Python versions the pins support (issue 13, sections 5-6)."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from audiofuse.cli.main import main
from audiofuse.predict import resources

REPO = Path(__file__).resolve().parents[1]


def test_default_model_is_the_committed_folder():
    folder = resources.default_model()
    assert folder.name == resources.DEFAULT_MODEL_NAME
    assert (folder / "model.onnx").is_file() and (folder / "config.json").is_file()


def test_version_flag_prints_the_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out.strip()
    assert out == f"audiofuse {resources.package_version()}"
    assert out.split()[1][0].isdigit()


def test_version_falls_back_when_not_installed(monkeypatch):
    import audiofuse

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    assert resources.package_version() == audiofuse.__version__


def test_requires_python_matches_the_readme():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11"
    readme = (REPO / "README.md").read_text()
    assert "Python ≥ 3.11" in readme and "3.10" not in readme


def _build_wheel(tmp_path: Path) -> Path:
    """A wheel of the working tree (built from a copy, so no build/ lands in the repo)."""
    source = tmp_path / "source"  # a copy, so that setuptools' build/ stays out of the repo
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("src", "models"):
        shutil.copytree(REPO / name, source / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, source / name)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheels),
            str(source),
        ],
        check=True,
        cwd=tmp_path,
    )
    (wheel,) = wheels.glob("audiofuse-*.whl")
    return wheel


def _python312() -> str | None:
    # a pyenv install first: pyenv's python3.12 shim fails unless 3.12 is selected
    candidates = sorted(Path.home().glob(".pyenv/versions/3.12*/bin/python3.12"))
    if os.environ.get("AUDIOFUSE_PYTHON312"):
        return os.environ["AUDIOFUSE_PYTHON312"]
    return str(candidates[-1]) if candidates else shutil.which("python3.12")


@pytest.mark.slow
def test_plain_install_finds_the_default_model(tmp_path):
    """Build a wheel, install it (no deps) into a fresh venv, resolve the model there."""
    wheel = _build_wheel(tmp_path)
    # the paper-scale models (22 MB) stay in the repository, out of the wheel
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("audiofuse/_models/audiofuse-plus/") for n in names)
    assert not [n for n in names if "-paper/" in n]
    assert "audiofuse/cli/app_page.html" in names  # package data of `audiofuse app`
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", site, str(wheel)],
        check=True,
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    probe = (
        "from audiofuse.predict.resources import default_model, package_version; "
        "m = default_model(); print(m); print((m / 'model.onnx').stat().st_size); "
        "print(package_version())"
    )
    out = subprocess.run(
        [str(python), "-c", probe],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    ).stdout.split()
    assert Path(out[0]).is_relative_to(site) and "_models" in out[0]
    # every source module made it into the wheel (pyproject lists the packages by hand)
    shipped = {p.relative_to(site) for p in Path(site, "audiofuse").rglob("*.py")}
    here = {p.relative_to(REPO / "src") for p in (REPO / "src" / "audiofuse").rglob("*.py")}
    assert here <= shipped, sorted(here - shipped)
    assert int(out[1]) == (resources.default_model() / "model.onnx").stat().st_size
    assert out[2] == resources.package_version()


@pytest.mark.slow
def test_python_312_resolves_the_pins_and_runs_the_cli(tmp_path):
    """Colab's Python: the pinned requirements resolve, the package installs and runs.

    Resolution only (``pip install --dry-run``): installing TensorFlow here would
    take minutes. CI runs the whole suite on 3.11, the oldest supported Python.
    """
    python312 = _python312()
    if python312 is None:
        pytest.skip("no python3.12 (set AUDIOFUSE_PYTHON312)")
    venv = tmp_path / "venv312"
    subprocess.run([python312, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip"]
    resolved = subprocess.run(
        [*pip, "install", "-q", "--dry-run", "-r", str(REPO / "requirements.txt")],
        capture_output=True,
        text=True,
    )
    assert resolved.returncode == 0, resolved.stderr[-2000:]
    subprocess.run([*pip, "install", "-q", "--no-deps", str(_build_wheel(tmp_path))], check=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run(
        [str(venv / "bin" / "audiofuse"), "--version"],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    ).stdout
    assert out.strip() == f"audiofuse {resources.package_version()}"
