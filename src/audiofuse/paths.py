"""Where things live: the data, synthetic, runs, cache and results folders.

Each folder is an explicit argument, else an ``AUDIOFUSE_*`` environment
variable, else a default under :func:`output_root` (the source checkout, or
the current folder for an installed package). :class:`Paths` resolves them
once for a session. Re-exported by :mod:`audiofuse.config`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "REPO_ROOT",
    "output_root",
    "data_dir",
    "synthetic_dir",
    "runs_dir",
    "experiment_data_dir",
    "Paths",
]


REPO_ROOT = Path(__file__).resolve().parents[2]


def output_root(package_file: str | os.PathLike = __file__) -> Path:
    """Where ``data/``, ``runs/`` and ``results/`` go by default.

    The source checkout that holds the package (as today), else (an
    installed package, e.g. in site-packages) the current working directory.
    """
    root = Path(package_file).resolve().parents[2]
    if (root / "pyproject.toml").is_file() and (root / "src" / "audiofuse").is_dir():
        return root
    return Path.cwd()


def _folder(override, env: str, default: str) -> Path:
    """``override``, else ``$env``, else ``default`` under :func:`output_root`."""
    if override:
        return Path(override).expanduser()
    if os.environ.get(env):
        return Path(os.environ[env]).expanduser()
    return output_root() / default


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """The project's data directory.

    Order of precedence: the explicit ``override``, the ``AUDIOFUSE_DATA_DIR``
    environment variable, then ``data/`` under :func:`output_root`.
    """
    return _folder(override, "AUDIOFUSE_DATA_DIR", "data")


def synthetic_dir(override: str | os.PathLike | None = None) -> Path:
    """Where the synthetic datasets are written (``AUDIOFUSE_SYNTHETIC_DIR``).

    Kept apart from :func:`data_dir`, which may point at a read-only copy of
    the real data; defaults to ``data/`` under :func:`output_root`.
    """
    return _folder(override, "AUDIOFUSE_SYNTHETIC_DIR", "data")


def runs_dir(override: str | os.PathLike | None = None) -> Path:
    """Where trained models, logs and caches of runs go (``AUDIOFUSE_RUNS_DIR``)."""
    return _folder(override, "AUDIOFUSE_RUNS_DIR", "runs")


def experiment_data_dir(override: str | os.PathLike | None = None) -> str | None:
    """The data folder of an experiment command: ``override``, else ``$AUDIOFUSE_DATA_DIR``,
    else ``None`` (the synthetic datasets)."""
    return str(override) if override else os.environ.get("AUDIOFUSE_DATA_DIR") or None


@dataclass(frozen=True)
class Paths:
    """Every folder a session reads or writes, resolved once.

    ``data``: the real data (may be read-only); ``synthetic``: generated
    datasets; ``runs``: trained runs; ``cache``: feature caches (shared by
    every data and profile); ``results``: tables and figures.
    """

    data: Path
    synthetic: Path
    runs: Path
    cache: Path
    results: Path

    @classmethod
    def resolve(
        cls,
        *,
        data: str | os.PathLike | None = None,
        synthetic: str | os.PathLike | None = None,
        runs: str | os.PathLike | None = None,
        results: str | os.PathLike | None = None,
    ) -> Paths:
        """Explicit folders, else the environment, else the defaults under :func:`output_root`."""
        runs_root = runs_dir(runs)
        return cls(
            data=data_dir(data),
            synthetic=synthetic_dir(synthetic),
            runs=runs_root,
            cache=runs_root / "cache",
            results=Path(results).expanduser() if results else output_root() / "results",
        )
