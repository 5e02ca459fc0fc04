"""Section 3 on one core: the latency of one 5 s recording on CPU 0 alone.

The real measurement runs a fresh interpreter (``python -m audiofuse.benchmark
single-core``, see :mod:`.__main__`) under ``taskset -c 0`` with one
TensorFlow and one BLAS thread; the quick variant pins a forked child instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

from .harness import log, peak_rss_mb, rows_from, run_forked, synthetic_recording, timed
from .sections import build_untrained


def single_core_latency(profile_name: str, kind: str, repeats: int) -> dict:
    """Median ms of ``Predictor.predict_samples`` on one 5 s recording.

    Meant to run in a fresh interpreter under ``taskset -c 0`` with
    ``TF_NUM_INTRAOP_THREADS=1`` (see :func:`bench_single_core`); start-up,
    model building and one warm-up call are excluded from the timing.
    """
    from audiofuse.predict.predictor import Predictor

    from ..features import recording_features

    t0 = time.perf_counter()
    profile, model = build_untrained(profile_name, kind)
    predictor = Predictor(model, profile, kind)
    clip = synthetic_recording(profile.features.clip_seconds, profile.features.sample_rate)
    predictor.predict_samples(clip, full_recording=False)
    setup = time.perf_counter() - t0
    total, feats = [], []
    for _ in range(repeats):
        feats.append(timed(lambda: recording_features(clip, profile.features)))
        total.append(timed(lambda: predictor.predict_samples(clip, full_recording=False)))
    return {
        "median_ms": 1e3 * statistics.median(total),
        "p90_ms": 1e3 * float(np.percentile(total, 90)),
        "features_median_ms": 1e3 * statistics.median(feats),
        "setup_s": setup,
        "repeats": repeats,
        "peak_rss_mb": peak_rss_mb(),
        "affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
    }


def _single_core_command(profile: str, kind: str, repeats: int) -> tuple[list[str], dict, object]:
    """Command, environment and pre-exec hook that pin a fresh interpreter to CPU 0."""
    command = [
        sys.executable,
        "-m",
        "audiofuse.benchmark",
        "single-core",
        "--profile",
        profile,
        "--kind",
        kind,
        "--repeats",
        str(repeats),
    ]
    preexec = None
    if shutil.which("taskset"):
        command = ["taskset", "-c", "0", *command]
    elif hasattr(os, "sched_setaffinity"):

        def preexec():
            os.sched_setaffinity(0, {0})

    env = dict(
        os.environ,
        TF_NUM_INTRAOP_THREADS="1",
        TF_NUM_INTEROP_THREADS="1",
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        TF_CPP_MIN_LOG_LEVEL="3",
        KERAS_BACKEND="tensorflow",
    )
    return command, env, preexec


def _pin_to_one_core() -> None:
    """In a forked child, before any TensorFlow op: CPU 0, one TF and one BLAS thread."""
    import keras

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    with contextlib.suppress(ImportError):
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)


def _forked_single_core(profile: str, kind: str, repeats: int) -> dict:
    """Child body of the quick variant: pin this forked child, then measure."""
    _pin_to_one_core()
    return single_core_latency(profile, kind, repeats)


def _fresh_single_core(profile: str, kind: str, repeats: int) -> dict:
    """Run :func:`single_core_latency` in a fresh interpreter pinned to CPU 0."""
    command, env, preexec = _single_core_command(profile, kind, repeats)
    proc = subprocess.run(
        command, env=env, preexec_fn=preexec, capture_output=True, text=True, timeout=600
    )
    if proc.returncode != 0:
        raise RuntimeError(f"single-core latency failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench_single_core(profile: str, kind: str, repeats: int, *, fresh: bool = True) -> list[dict]:
    """Section 3 (one core): latency of one 5 s recording on CPU 0 alone.

    ``fresh`` runs a new interpreter under ``taskset -c 0`` with single-thread
    environment variables (the real measurement); otherwise a forked child
    pins itself (the quick variant, which saves TensorFlow's start-up).
    """
    how = "fresh interpreter" if fresh else "forked child"
    log(f"inference: {profile} {kind} on one core ({how}), {repeats} calls")
    if fresh:
        result = _fresh_single_core(profile, kind, repeats)
    else:
        result = run_forked(_forked_single_core, profile, kind, repeats)
    one, syn = f"{kind} 5 s recording, 1 core", "synthesized signal"
    specs = [
        ("inference", f"{one} (median)", "median_ms", "ms", syn),
        ("inference", f"{one} (p90)", "p90_ms", "ms", syn),
        ("inference", f"{one}, features only", "features_median_ms", "ms", syn),
        ("memory", f"inference: {kind} 1 core ({how})", "peak_rss_mb", "MiB peak RSS", syn),
    ]
    return rows_from(result, profile, specs)
