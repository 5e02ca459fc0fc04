"""Shared fixtures: the synthetic datasets, the real data (when present), a fast profile."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

REPO_ROOT = Path(__file__).resolve().parents[1]


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
    from audiofuse.synthetic import make_synthetic_datasets

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
