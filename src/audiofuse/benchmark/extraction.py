"""The ``features`` rows: this project's extractor against the authors' recipe.

Both run in this process, one recording after another, on the same sampled
recordings: the original recipe (:mod:`.reference`: librosa at 22.05 kHz, a
224-mel log-Mel image and a 224-scale Morlet CWT scalogram per file, saved as
``.npy``) and :func:`audiofuse.features.extract.extract_features` with ``n_jobs=1``.
"""

from __future__ import annotations

import tempfile
import time

import pandas as pd

from audiofuse.config import get_profile

from .harness import BenchSettings, log, result_row
from .reference import original_cwt_image, original_recipe_file

#: The speed-up each profile's extractor should reach against the whole original recipe.
FEATURE_GOALS = {"cpu": ">= 10", "paper": ">= 2"}


def _original_rate(paths: list[str], with_cwt: bool) -> float:
    """Recordings/s of the original recipe over ``paths``."""
    with tempfile.TemporaryDirectory(prefix="audiofuse-bench-") as out:
        t0 = time.perf_counter()
        for path in paths:
            original_recipe_file(path, out, with_cwt=with_cwt)
        return len(paths) / (time.perf_counter() - t0)


def _extractor_rate(table: pd.DataFrame, profile: str) -> float:
    """Recordings/s of this project's extractor (one process) over ``table``."""
    from audiofuse.features.extract import extract_features

    cfg = get_profile(profile).features
    t0 = time.perf_counter()
    extract_features(table, cfg, n_jobs=1, progress=False)
    return len(table) / (time.perf_counter() - t0)


def warm_up(path: str, profiles) -> None:
    """Pay lazy imports and numba compilation once, before anything is timed."""
    import numpy as np

    from audiofuse.features.extract import load_recording, recording_features

    with tempfile.TemporaryDirectory(prefix="audiofuse-bench-") as out:
        original_recipe_file(path, out, with_cwt=False)
    original_cwt_image(np.zeros(256, np.float32))
    for profile in profiles:
        cfg = get_profile(profile).features
        recording_features(load_recording(path, cfg), cfg)


def bench_features(sample: pd.DataFrame, settings: BenchSettings, data: str) -> list[dict]:
    """Recordings/s of the original recipe and of each profile's extractor, and their ratio."""
    table = sample.iloc[: settings.feature_records].reset_index(drop=True)
    paths = table["path"].astype(str).tolist()
    warm_up(paths[0], settings.feature_profiles)
    whole_paths = paths[: settings.original_records]
    log(f"features: original recipe with its CWT, {len(whole_paths)} recordings")
    whole = _original_rate(whole_paths, with_cwt=True)
    log(f"features: original recipe without its CWT, {len(paths)} recordings")
    mel_only = _original_rate(paths, with_cwt=False)
    rows = [
        result_row("features", "original recipe (log-Mel + CWT)", "original", whole,
                   "recordings/s", data),
        result_row("features", "original recipe without its CWT", "original", mel_only,
                   "recordings/s", data),
    ]  # fmt: skip
    for profile in settings.feature_profiles:
        log(f"features: {profile} extractor, {len(table)} recordings")
        ours = _extractor_rate(table, profile)
        rows += [
            result_row("features", "extractor", profile, ours, "recordings/s", data),
            result_row("features", "extractor vs original recipe", profile, ours / whole, "x",
                       data, FEATURE_GOALS.get(profile, "")),
            result_row("features", "extractor vs original recipe without its CWT", profile,
                       ours / mel_only, "x", data),
        ]  # fmt: skip
    return rows
