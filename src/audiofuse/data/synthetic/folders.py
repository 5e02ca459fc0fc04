"""Dataset folders: the SYNTHETIC marker, the cache check, atomic writing, WAV files.

A folder is written into a scratch folder beside its target and renamed into
place when complete; its ``SYNTHETIC`` marker records the generator's
parameters, so that a folder written with other parameters is rewritten and a
real dataset folder (no marker) is never overwritten.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf

from audiofuse.data.indexes import SYNTHETIC_MARKER

# Part of the synthetic datasets' bytes (tests pin them), so it keeps the package's first name.
_MARKER_NOTE = (
    "Synthetic heart sounds written by audiofuse.synthetic: for running the code "
    "offline, NOT real data; results on it say nothing about real PCG classification."
)


def read_synthetic_params(root: str | Path) -> dict | None:
    """Parameters a synthetic folder was written with (None if not synthetic).

    The ``SYNTHETIC`` marker holds a one-line explanation, then the
    parameters as one line of JSON.
    """
    marker = Path(root) / SYNTHETIC_MARKER
    if not marker.is_file():
        return None
    lines = marker.read_text(encoding="utf-8").strip().splitlines()
    try:
        return json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        return None


def _write_marker(folder: Path, params: dict) -> None:
    """The ``SYNTHETIC`` marker: a note for humans, then the parameters as JSON."""
    text = _MARKER_NOTE + "\n" + json.dumps(params, sort_keys=True) + "\n"
    (folder / SYNTHETIC_MARKER).write_text(text, encoding="utf-8")


def is_cached(root: Path, params: dict) -> bool:
    """True when ``root`` holds a complete folder written with exactly ``params``."""
    return read_synthetic_params(root) == json.loads(json.dumps(params, sort_keys=True))


@contextlib.contextmanager
def atomic_folder(root: Path, params: dict) -> Iterator[Path]:
    """Write a dataset into a scratch folder, then move it to ``root``.

    The marker is written last, so an interrupted run never looks complete,
    and ``root`` is only replaced once the new folder is whole. A folder
    without our marker (real data, most likely) is never replaced.
    """
    if root.exists() and any(root.iterdir()) and read_synthetic_params(root) is None:
        raise FileExistsError(
            f"{root} exists and is not a synthetic dataset (no {SYNTHETIC_MARKER} marker); "
            "refusing to overwrite it"
        )
    scratch = root.parent / f".{root.name}.partial-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    try:
        yield scratch
        _write_marker(scratch, params)
        if root.exists():
            shutil.rmtree(root)
        try:
            scratch.rename(root)
        except OSError:
            # another process wrote the same folder meanwhile: keep theirs if it matches
            if not is_cached(root, params):
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def write_wav(path: Path, samples: np.ndarray, sample_rate: int) -> None:
    """Write ``samples`` as 16-bit PCM WAV (what PhysioNet and PASCAL ship)."""
    sf.write(str(path), samples, sample_rate, subtype="PCM_16")


def write_lines(path: Path, lines: list[str]) -> None:
    """Write ``lines`` as a text file, each ending in a newline."""
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
