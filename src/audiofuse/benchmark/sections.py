"""Sections 2, 5 and 6: ``training`` and ``inference`` of every model, ``scaling``, ``peak``.

Each measurement runs in a forked child with TensorFlow (:func:`.harness.run_forked`):
:func:`bench_models` times ``train_on_batch`` and ``predict_on_batch`` of every
profile and kind (and counts their FLOPs), :func:`bench_scaling` the cost against
recording length and dataset size, :func:`bench_peak` the fraction of the
measured matmul peak that training and inference reach.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .. import config as _config
from .flops import count_flops, matmul_gflops
from .harness import (
    MODEL_KINDS,
    BenchSettings,
    log,
    median_seconds,
    peak_rss_mb,
    result_row,
    rows_from,
    run_forked,
    synthetic_recording,
    timed,
    windows_label,
)

#: Name of the row of :func:`bench_peak` that holds the best matmul rate.
MATMUL_PEAK = "matmul peak (best of the above)"


def random_inputs(kind: str, features, batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Random model inputs of the right shapes for ``kind``."""
    rng = np.random.default_rng(seed)
    inputs = {}
    if kind in ("fusion", "spectrogram"):
        inputs["spectrogram"] = rng.random((batch, *features.spectrogram_shape), np.float32)
    if kind in ("fusion", "waveform"):
        inputs["waveform"] = rng.standard_normal((batch, *features.waveform_shape), np.float32)
    return inputs


def build_untrained(profile_name: str, kind: str):
    """(profile, untrained model) for one profile and kind."""
    from ..models import build_model

    profile = _config.get_profile(profile_name)
    return profile, build_model(kind, profile.features, profile.model)


def _measure_inference(model, profile, kind: str, batch: int, repeats: int) -> dict:
    """Batch-1 and batched latency per 5 s recording, and a whole 60 s recording."""
    from audiofuse.predict.predictor import Predictor

    one, many = (random_inputs(kind, profile.features, b) for b in (1, batch))
    model.predict_on_batch(one)
    batch1 = median_seconds(lambda: model.predict_on_batch(one), repeats)
    model.predict_on_batch(many)
    batched = median_seconds(lambda: model.predict_on_batch(many), max(1, repeats // 5))
    predictor = Predictor(model, profile, kind)
    recording = synthetic_recording(60.0, profile.features.sample_rate)
    windows = predictor.predict_samples(recording)["windows"]
    whole = median_seconds(lambda: predictor.predict_samples(recording), max(1, repeats // 7))
    return {
        "batch1_ms": 1e3 * batch1,
        "batched_ms": 1e3 * batched / batch,
        "recording60_ms": 1e3 * whole,
        "recording60_windows": windows,
    }


def compile_for_training(
    model, profile, *, jit_compile: bool | str = "auto", steps_per_execution: int = 1
) -> None:
    """Compile ``model`` as the trainer does for its cost: AdamW + binary cross-entropy.

    ``jit_compile`` and ``steps_per_execution`` go to ``model.compile`` (the
    trainer leaves ``jit_compile`` at ``"auto"``). Its training variables are then
    built eagerly, as the trainer builds them (:func:`audiofuse.training.build_training_state`),
    so that a warm-up step traces what the trainer traces.
    """
    from ..training import AdamW, build_training_state

    train = profile.train
    model.compile(
        optimizer=AdamW(
            learning_rate=train.learning_rate, weight_decay=train.weight_decay
        ),
        loss="binary_crossentropy",
        jit_compile=jit_compile,
        steps_per_execution=steps_per_execution,
    )
    build_training_state(model)


def _measure_training(model, profile, kind: str, batch: int, steps: int) -> dict:
    """``train_on_batch`` samples/s after one warm-up step (AdamW + BCE)."""
    compile_for_training(model, profile)
    inputs = random_inputs(kind, profile.features, batch, seed=1)
    labels = np.random.default_rng(2).integers(0, 2, (batch, 1)).astype(np.float32)
    warmup = timed(lambda: model.train_on_batch(inputs, labels))
    seconds = timed(lambda: [model.train_on_batch(inputs, labels) for _ in range(steps)])
    return {
        "train_samples_per_s": batch * steps / seconds,
        "train_warmup_s": warmup,
        "train_batch": batch,
        "train_steps": steps,
    }


def model_worker(profile_name: str, kind: str, infer: dict | None, train: tuple | None) -> dict:
    """Child body: FLOPs, inference (first) and training (second) of one model.

    Inference runs before training so that the peak RSS taken after it is
    the inference peak; the peak after training then covers both.
    """
    t0 = time.perf_counter()
    profile, model = build_untrained(profile_name, kind)
    out = {
        "params": model.count_params(),
        "flops": count_flops(model),
        "build_s": time.perf_counter() - t0,
    }
    if infer:
        out.update(_measure_inference(model, profile, kind, infer["batch"], infer["repeats"]))
        out["inference_peak_rss_mb"] = peak_rss_mb()
    if train:
        out.update(_measure_training(model, profile, kind, *train))
        out["training_peak_rss_mb"] = peak_rss_mb()
    return out


def _model_rows(profile: str, kind: str, result: dict, batch: int) -> list[dict]:
    """CSV rows for one :func:`model_worker` result."""
    syn, rnd, rss = "synthesized signal", "random inputs", "MiB peak RSS"
    windows = windows_label(result.get("recording60_windows", 0))
    result = {**result, "gflops": result["flops"] / 1e9, "mparams": result["params"] / 1e6}
    specs = [
        ("peak", f"{kind} forward FLOPs", "gflops", "GFLOP/sample", rnd),
        ("peak", f"{kind} parameters", "mparams", "M", rnd),
        ("inference", f"{kind} batch=1", "batch1_ms", "ms/recording", rnd),
        ("inference", f"{kind} batch={batch}", "batched_ms", "ms/recording", rnd),
        ("inference", f"{kind} 60 s recording ({windows})", "recording60_ms", "ms", syn),
        ("memory", f"inference: {kind}", "inference_peak_rss_mb", rss, rnd),
        ("training", f"{kind} train_on_batch", "train_samples_per_s", "samples/s", rnd),
        ("training", f"{kind} warm-up step (tracing)", "train_warmup_s", "s", rnd),
        ("training", f"{kind} batch size", "train_batch", "samples", rnd),
        ("memory", f"training: {kind}", "training_peak_rss_mb", rss, rnd),
    ]
    return rows_from(result, profile, specs)


def bench_models(settings: BenchSettings) -> tuple[list[dict], dict]:
    """Sections 2 and 3 (and the FLOPs of 6) for every profile and kind.

    Returns
    -------
    rows : list of dict
    results : dict
        ``(profile, kind) -> model_worker result``, for the peak fractions.
    """
    rows, results = [], {}
    for profile in _config.PROFILES:
        for kind in MODEL_KINDS:
            train = settings.train.get(profile) if kind in settings.train_kinds else None
            infer = (
                {"batch": settings.batch_infer, "repeats": _repeats(settings, profile)}
                if kind in settings.infer.get(profile, ())
                else None
            )
            if not (train or infer):
                continue
            log(
                f"models: {profile} {kind} ({'inference ' if infer else ''}"
                f"{'training' if train else ''})"
            )
            result = run_forked(model_worker, profile, kind, infer, train)
            results[(profile, kind)] = result
            rows += _model_rows(profile, kind, result, settings.batch_infer)
    return rows, results


def _repeats(settings: BenchSettings, profile: str) -> int:
    """Fewer timed calls for the slow paper profile."""
    return max(2, settings.repeats // 4) if profile == "paper" else settings.repeats


def length_worker(profile_name: str, lengths: Sequence[float], repeats: int) -> dict:
    """Features and features + fusion model for recordings of each length."""
    from audiofuse.predict.predictor import Predictor

    from ..features import recording_features

    profile, model = build_untrained(profile_name, "fusion")
    predictor = Predictor(model, profile, "fusion")
    out = {}
    for seconds in lengths:
        samples = synthetic_recording(seconds, profile.features.sample_rate, seed=int(seconds))
        windows = predictor.predict_samples(samples)["windows"]  # warm-up (traces this shape)
        out[str(seconds)] = {
            "windows": windows,
            "features_s": median_seconds(
                lambda s=samples: recording_features(s, profile.features, windows=True), repeats
            ),
            "total_s": median_seconds(lambda s=samples: predictor.predict_samples(s), repeats),
        }
    return out


def dataset_worker(profile_name: str, table: pd.DataFrame, sizes: Sequence[int]) -> dict:
    """Parallel extraction plus batched fusion inference for growing record counts."""
    from ..features import extract_features

    profile, model = build_untrained(profile_name, "fusion")
    model.predict(random_inputs("fusion", profile.features, 40), batch_size=32, verbose=0)
    out = {}
    for n in sizes:
        t0 = time.perf_counter()
        fs = extract_features(table.iloc[:n], profile.features, n_jobs=2, progress=False)
        t1 = time.perf_counter()
        model.predict(fs.inputs("fusion"), batch_size=32, verbose=0)
        t2 = time.perf_counter()
        out[str(n)] = {"recordings": len(fs), "features_s": t1 - t0, "inference_s": t2 - t1}
    return out


def _length_rows(profile: str, lengths: dict) -> list[dict]:
    """Rows for one :func:`length_worker` result."""
    syn, rows = "synthesized signal", []
    for seconds, r in lengths.items():
        name = f"length {float(seconds):g} s ({windows_label(r['windows'])})"
        r = {**r, "ms_per_s": 1e3 * r["total_s"] / float(seconds)}
        rows += rows_from(
            r,
            profile,
            [
                ("scaling", f"{name}: features", "features_s", "s", syn),
                ("scaling", f"{name}: features + fusion model", "total_s", "s", syn),
                ("scaling", f"{name}: per second of audio", "ms_per_s", "ms/s", syn),
            ],
        )
    return rows


def _dataset_rows(profile: str, result: dict, data: str) -> list[dict]:
    """Rows for one :func:`dataset_worker` result."""
    rows = []
    for n, r in result.items():
        total = r["features_s"] + r["inference_s"]
        r = {**r, "total_s": total, "rate": r["recordings"] / total}
        rows += rows_from(
            r,
            profile,
            [
                ("scaling", f"dataset {n} records: features", "features_s", "s", data),
                ("scaling", f"dataset {n} records: fusion inference", "inference_s", "s", data),
                ("scaling", f"dataset {n} records: total", "total_s", "s", data),
                ("scaling", f"dataset {n} records: throughput", "rate", "recordings/s", data),
            ],
        )
    return rows


def bench_scaling(sample: pd.DataFrame, settings: BenchSettings, data: str) -> list[dict]:
    """Section 5: time against recording length and against dataset size."""
    profile, rss = settings.scaling_profile, "MiB peak RSS"
    log(f"scaling: recording length {settings.lengths_s} s ({profile} fusion)")
    lengths = run_forked(length_worker, profile, settings.lengths_s, 3)
    memory = lengths.pop("peak_rss_mb")
    rows = [
        result_row(
            "memory", "scaling: recording length", profile, memory, rss, "synthesized signal"
        )
    ]
    rows += _length_rows(profile, lengths)
    sizes = [n for n in settings.dataset_sizes if n <= len(sample)]
    log(f"scaling: dataset size {sizes} records ({profile}, n_jobs=2)")
    result = run_forked(dataset_worker, profile, sample, sizes)
    rows.append(
        result_row("memory", "scaling: dataset size", profile, result.pop("peak_rss_mb"), rss, data)
    )
    return rows + _dataset_rows(profile, result, data)


def _peak_worker(sizes: Sequence[int]) -> dict:
    """Child body: best NumPy and TensorFlow float32 matmul rates for each size."""
    return {
        f"{lib} {n}": matmul_gflops(n, repeats=8, use_keras=lib == "keras.ops")
        for n in sizes
        for lib in ("numpy", "keras.ops")
    }


def _fraction_rows(models: dict, peak: float) -> list[dict]:
    """Achieved GFLOP/s and % of ``peak`` for every timed training and inference."""
    rows, rnd = [], "random inputs"
    for (profile, kind), r in models.items():
        gflop = r["flops"] / 1e9
        achieved = {}
        if "train_samples_per_s" in r:  # forward + backward ~ 3x forward
            achieved["training"] = 3.0 * gflop * r["train_samples_per_s"]
        if "batched_ms" in r:
            achieved["batched inference"] = gflop * 1e3 / r["batched_ms"]
        for what, rate in achieved.items():
            rows += [
                result_row("peak", f"{kind} {what}: achieved", profile, rate, "GFLOP/s", rnd),
                result_row(
                    "peak", f"{kind} {what}: % of peak", profile, 100.0 * rate / peak, "%", rnd
                ),
            ]
    return rows


def matmul_peak(rows: list[dict]) -> float | None:
    """The matmul peak (GFLOP/s) among :func:`bench_peak`'s rows, or None."""
    return next((r["value"] for r in rows if r["name"] == MATMUL_PEAK), None)


def bench_peak(settings: BenchSettings, models: dict) -> list[dict]:
    """Section 6: matmul peak, and the fraction of it training and inference reach."""
    log(f"peak: float32 matmul, sizes {settings.matmul_sizes}")
    peaks = run_forked(_peak_worker, settings.matmul_sizes)
    peaks.pop("peak_rss_mb")
    rows = [
        result_row(
            "peak",
            f"matmul float32 {key.split()[1]}^2 ({key.split()[0]})",
            "",
            rate,
            "GFLOP/s",
            "random inputs",
        )
        for key, rate in peaks.items()
    ]
    peak = max(peaks.values())
    rows.append(result_row("peak", MATMUL_PEAK, "", peak, "GFLOP/s", "random inputs"))
    return rows + _fraction_rows(models, peak)
