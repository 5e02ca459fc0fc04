"""Section 1, ``features``: this project's extractor against the authors' recipe.

Times the original recipe (:mod:`.reference`, with and without its CWT) and
this project's extractor (one process and the parallel one) on the same
recordings, reports their ratios, and what BLAS threading costs one clip.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .. import config as _config
from .harness import (
    BenchSettings,
    log,
    median_seconds,
    result_row,
    run_forked,
    synthetic_recording,
    timed,
)
from .reference import original_cwt_image, original_recipe_file


def _time_original(paths: Sequence[str], with_cwt: bool) -> dict:
    """Seconds for the original recipe over ``paths`` (one process, as the original)."""
    with tempfile.TemporaryDirectory(prefix="audiofuse-bench-") as out:
        seconds = timed(lambda: [original_recipe_file(p, out, with_cwt=with_cwt) for p in paths])
    return {"seconds": seconds, "recordings": len(paths)}


def _time_ours(table: pd.DataFrame, profile_name: str, n_jobs: int) -> dict:
    """Seconds for this project's extractor over ``table``."""
    from ..features import extract_features

    cfg = _config.get_profile(profile_name).features
    holder = {}
    seconds = timed(
        lambda: holder.setdefault("fs", extract_features(table, cfg, n_jobs=n_jobs, progress=False))
    )
    return {"seconds": seconds, "recordings": len(table), "skipped": len(holder["fs"].skipped)}


def _feature_rows(label: str, profile: str, result: dict, data: str) -> list[dict]:
    """Throughput, time, count and memory rows of one extraction measurement."""
    rate = result["recordings"] / max(result["seconds"], 1e-9)
    return [
        result_row("features", label, profile, rate, "recordings/s", data),
        result_row("features", label, profile, result["seconds"], "s", data),
        result_row("features", label, profile, result["recordings"], "recordings", data),
        result_row(
            "memory", f"features: {label}", profile, result["peak_rss_mb"], "MiB peak RSS", data
        ),
    ]


def warm_up_features(path: str, profiles: Sequence[str]) -> None:
    """Pay lazy imports and JIT compilation once, in the parent, before any fork.

    The first call of librosa's STFT, resampler and filters costs seconds
    (imports, numba compilation); every forked measurement inherits the warm
    state, so each one measures steady-state throughput.
    """
    from ..features import load_recording, recording_features

    with tempfile.TemporaryDirectory(prefix="audiofuse-bench-") as out:
        original_recipe_file(path, out, with_cwt=False)
    original_cwt_image(np.zeros(256, np.float32))
    for profile in profiles:
        cfg = _config.get_profile(profile).features
        recording_features(load_recording(path, cfg), cfg)


def bench_features(sample: pd.DataFrame, settings: BenchSettings, data: str) -> list[dict]:
    """Section 1: the original recipe against our profiles, n_jobs 1 and 2."""
    table = sample.iloc[: settings.n_records].reset_index(drop=True)
    paths = table["path"].astype(str).tolist()
    warm_up_features(paths[0], {*settings.feature_profiles, settings.scaling_profile})
    rows = []
    log(f"features: original recipe, mel only, {len(paths)} recordings")
    rows += _feature_rows(
        "original mel only", "original", run_forked(_time_original, paths, False), data
    )
    cwt_paths = paths[: settings.cwt_records]
    log(f"features: original recipe, mel + CWT, {len(cwt_paths)} recordings")
    rows += _feature_rows(
        "original mel+CWT", "original", run_forked(_time_original, cwt_paths, True), data
    )
    for profile in settings.feature_profiles:
        for n_jobs in (1, 2):
            log(f"features: {profile} profile, n_jobs={n_jobs}, {len(table)} recordings")
            rows += _feature_rows(
                f"ours n_jobs={n_jobs}",
                profile,
                run_forked(_time_ours, table, profile, n_jobs),
                data,
            )
    rows += _ratio_rows(rows, settings.feature_profiles, data)
    return rows + bench_blas_threads(settings.feature_profiles, max(3, settings.repeats))


def blas_threads_worker(profiles: Sequence[str], repeats: int) -> dict:
    """Child body: ms per log-Mel image of one clip, default BLAS threads and one thread."""
    from threadpoolctl import threadpool_limits

    from ..features import log_mel_image

    out = {}
    for name in profiles:
        cfg = _config.get_profile(name).features
        clip = synthetic_recording(cfg.clip_seconds, cfg.sample_rate)
        log_mel_image(clip, cfg)

        def one_image(c=cfg, x=clip):
            return log_mel_image(x, c)

        out[f"{name} default"] = 1e3 * median_seconds(one_image, repeats)
        with threadpool_limits(1):
            out[f"{name} one"] = 1e3 * median_seconds(one_image, repeats)
    return out


def bench_blas_threads(profiles: Sequence[str], repeats: int) -> list[dict]:
    """How much BLAS threading costs the small mel-filterbank product of one clip.

    On a busy machine a multi-threaded BLAS can spend far longer waking its
    threads than the ~1 MFLOP product takes; these rows show it.
    """
    try:
        import threadpoolctl  # noqa: F401
    except ImportError:
        return []
    log(f"features: log-Mel of one clip, default BLAS threads and one thread ({profiles})")
    result = run_forked(blas_threads_worker, profiles, repeats)
    syn = "synthesized signal"
    rows = []
    for name in profiles:
        rows += [
            result_row(
                "features",
                "log-Mel of one clip, default BLAS threads",
                name,
                result[f"{name} default"],
                "ms",
                syn,
            ),
            result_row(
                "features",
                "log-Mel of one clip, BLAS limited to 1 thread",
                name,
                result[f"{name} one"],
                "ms",
                syn,
            ),
        ]
    return rows


def _value(rows: list[dict], section: str, name: str, profile: str, unit: str) -> float | None:
    """The value of the first row matching all keys, or None."""
    for row in rows:
        if (row["section"], row["name"], row["profile"], row["unit"]) == (
            section,
            name,
            profile,
            unit,
        ):
            return row["value"]
    return None


def _ratio_rows(rows: list[dict], profiles: Sequence[str], data: str) -> list[dict]:
    """Throughput of ours over the original's (with and without its CWT)."""
    out = []
    for reference in ("original mel+CWT", "original mel only"):
        base = _value(rows, "features", reference, "original", "recordings/s")
        for profile in profiles:
            for n_jobs in (1, 2):
                ours = _value(rows, "features", f"ours n_jobs={n_jobs}", profile, "recordings/s")
                if base and ours:
                    out.append(
                        result_row(
                            "features",
                            f"speed-up n_jobs={n_jobs} vs {reference}",
                            profile,
                            ours / base,
                            "x",
                            data,
                        )
                    )
    return out
