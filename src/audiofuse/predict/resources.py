"""Where the committed default model lives, in a checkout and in an installed package.

The model folders of ``models/`` ship inside the wheel as the data-only package
``audiofuse._models`` (``pyproject.toml`` maps that package onto ``models/``),
so a plain ``pip install .`` finds them through :mod:`importlib.resources`.
Run from a source checkout (``PYTHONPATH=src``), the folder ``models/`` beside
``src/`` is used directly.
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
from pathlib import Path

__all__ = ["DEFAULT_MODEL_NAME", "default_model", "models_root", "package_version"]

DEFAULT_MODEL_NAME = "audiofuse-short-ensemble"
_CHECKOUT_MODELS = Path(__file__).resolve().parents[3] / "models"


def models_root() -> Path:
    """The folder holding the committed model folders (``models/``).

    Returns
    -------
    Path
        ``audiofuse/_models/`` when installed as package data
        (a wheel, i.e. a plain ``pip install .``), else ``models/`` of the checkout.
    """
    # files() of the regular package is a plain path; files("audiofuse._models")
    # would be a namespace MultiplexedPath.
    installed = Path(str(importlib.resources.files("audiofuse"))) / "_models"
    if (installed / DEFAULT_MODEL_NAME).is_dir():
        return installed
    return _CHECKOUT_MODELS


def default_model() -> Path:
    """The committed default model folder (``model.onnx`` + ``config.json``)."""
    return models_root() / DEFAULT_MODEL_NAME


def package_version() -> str:
    """The installed distribution's version; ``audiofuse.__version__`` when not installed.

    Running from a checkout with ``PYTHONPATH=src`` there may be no
    distribution metadata, hence the fallback.
    """
    try:
        return importlib.metadata.version("audiofuse")
    except importlib.metadata.PackageNotFoundError:
        from audiofuse import __version__

        return __version__
