"""The environment TensorFlow reads once, when it is imported: set by training entry points."""

from __future__ import annotations

import os

__all__ = ["ONEDNN_VARIABLE", "prepare_tensorflow"]

ONEDNN_VARIABLE = "TF_ENABLE_ONEDNN_OPTS"


def prepare_tensorflow(*, quiet: bool = False) -> None:
    """Set TensorFlow's environment for training; call it before TensorFlow is imported.

    TensorFlow reads these variables once, at its import, so they cannot be
    set by the code that trains: the entry points set them first (the
    ``audiofuse`` command, ``train-runs`` before it starts its workers, the
    notebooks' setup cell, the test suite's ``conftest.py``). ``import
    audiofuse`` sets nothing, so a library user's process is left as it was.

    - ``TF_ENABLE_ONEDNN_OPTS=1``: TensorFlow turns its oneDNN kernels on by
      default only on CPUs with AVX512-VNNI, AVX512-BF16, AVX-VNNI or AMX.
      Elsewhere (an AVX2-only AMD EPYC, for one) it runs its own kernels, built
      without AVX2/FMA, and CPU training is several times slower
      (docs/performance.md). Each run records in its ``config.json``
      (``onednn``) whether they were on: the same seed gives other last bits
      with and without them.
    - with ``quiet``: ``TF_CPP_MIN_LOG_LEVEL=3`` (no C++ log lines in command
      output) and ``KERAS_BACKEND=tensorflow`` (the backend the package is
      tested with, whatever ``~/.keras/keras.json`` says).

    Values already in the environment win (``TF_ENABLE_ONEDNN_OPTS=0`` keeps
    the kernels off).
    """
    os.environ.setdefault(ONEDNN_VARIABLE, "1")
    if quiet:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
