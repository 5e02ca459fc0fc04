"""Speed and cost of AudioFuse on this machine: ``audiofuse bench`` / ``make bench``.

One run measures, on the same sample of recordings (real PhysioNet 2016 when
available, else the synthetic set, then labelled SYNTHETIC):

1. ``features``: feature-extraction throughput of the ``paper`` and ``cpu``
   profiles (one process and the parallel extractor) against the ORIGINAL
   recipe of the authors' notebooks, re-implemented here as a reference
   (:func:`original_recipe_file`: 22050 Hz, 224-mel log-Mel *and* a 224-scale
   Morlet CWT scalogram per file, saved as ``.npy``);
2. ``training``: ``train_on_batch`` throughput for every model kind and
   profile (random inputs; weights and data do not change the cost);
3. ``inference``: latency per 5 s recording (batch 1 and batched), a whole
   60 s recording through :class:`audiofuse.predict.Predictor`, and one 5 s
   recording on ONE CPU core (a fresh interpreter under ``taskset -c 0``);
4. ``memory``: peak resident memory of each measurement;
5. ``scaling``: cost against recording length and dataset size;
6. ``peak``: FLOPs per sample (:func:`count_flops`) and the fraction of the
   measured matmul peak that training and inference reach.

Each measurement runs in its own forked child process (:func:`run_forked`), so
its peak RSS (``ru_maxrss``) is its own; children forked after TensorFlow is
imported include TensorFlow's ~0.5 GB in that peak, which the ``memory``
section reports as a baseline. TensorFlow ops run only in children.

Results go to ``results/benchmark.csv`` (long format: ``section, name,
profile, value, unit, machine, cores, commit, data``) and
``results/benchmark.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import config as _config
from .reporting import format_table, git_commit, write_text_atomic

__all__ = [
    "ORIGINAL",
    "BenchSettings",
    "settings_for",
    "machine_info",
    "peak_rss_mb",
    "run_forked",
    "original_recipe_file",
    "count_flops",
    "layer_flops",
    "matmul_gflops",
    "run_benchmark",
    "write_results",
    "main",
]

CSV_COLUMNS = ["section", "name", "profile", "value", "unit", "machine", "cores", "commit", "data"]
SECTIONS = ("features", "training", "inference", "memory", "scaling", "peak")
MODEL_KINDS = ("fusion", "spectrogram", "waveform")

#: The authors' preprocessing, as their notebooks run it for every file.
ORIGINAL = {
    "sample_rate": 22050,
    "clip_seconds": 5.0,
    "n_fft": 2048,
    "hop_length": 512,
    "n_mels": 224,
    "image_size": 224,
    "cwt_scales": 224,
    "wavelet": "morl",
}

# Goals from the project's issues: extraction speed-ups (single process, like
# for like) and the one-core latency of the deployable profile.
GOAL_CPU_SPEEDUP = 10.0
GOAL_PAPER_SPEEDUP = 2.0
GOAL_LATENCY_MS = 50.0


# --------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchSettings:
    """How much of everything one run measures.

    Attributes
    ----------
    quick : bool
        The test-suite variant: smoke profile, synthetic data, tiny sizes.
    n_records : int
        Recordings for the feature-extraction comparison.
    cwt_records : int
        Recordings for the (very slow) original recipe with its CWT.
    dataset_sizes : tuple of int
        Record counts for the dataset-size scaling.
    lengths_s : tuple of float
        Recording lengths, in seconds, for the length scaling.
    feature_profiles : tuple of str
        Profiles whose extractor is compared with the original.
    train : dict
        ``profile -> (batch size, timed steps)``; a profile left out is not trained.
    train_kinds : tuple of str
        Model kinds that are trained.
    infer : dict
        ``profile -> kinds`` whose inference latency is measured.
    batch_infer : int
        Batch size of the batched-inference measurement.
    repeats : int
        Timed calls for the batch-1 latency (the median is reported).
    single_core_repeats : int
        Timed calls in the one-core subprocess (0 skips it).
    matmul_sizes : tuple of int
        Sizes of the square float32 matmuls that measure the peak (the best counts).
    scaling_profile : str
        Profile of the scaling measurements.
    """

    quick: bool = False
    n_records: int = 80
    cwt_records: int = 5
    dataset_sizes: tuple[int, ...] = (25, 50, 100)
    lengths_s: tuple[float, ...] = (5.0, 30.0, 120.0)
    feature_profiles: tuple[str, ...] = ("paper", "cpu")
    train: dict = field(default_factory=lambda: {"smoke": (32, 5), "cpu": (32, 4), "paper": (8, 3)})
    train_kinds: tuple[str, ...] = MODEL_KINDS
    infer: dict = field(default_factory=lambda: {"cpu": MODEL_KINDS, "paper": ("fusion",)})
    batch_infer: int = 32
    repeats: int = 20
    single_core_repeats: int = 20
    matmul_sizes: tuple[int, ...] = (1024, 2048)
    scaling_profile: str = "cpu"

    @property
    def n_sample(self) -> int:
        """Recordings drawn from the dataset (the largest of all uses)."""
        return max(self.n_records, self.cwt_records, *self.dataset_sizes)


def settings_for(quick: bool) -> BenchSettings:
    """The full settings, or the quick ones (smoke profile, < 60 s in all)."""
    if not quick:
        return BenchSettings()
    return BenchSettings(
        quick=True,
        n_records=6,
        cwt_records=1,
        dataset_sizes=(3, 6),
        lengths_s=(5.0, 30.0, 120.0),
        feature_profiles=("smoke",),
        train={"smoke": (8, 2)},
        train_kinds=("waveform",),  # the quickest to trace
        infer={"smoke": ("fusion",)},
        batch_infer=8,
        repeats=3,
        single_core_repeats=3,
        matmul_sizes=(512,),
        scaling_profile="smoke",
    )


# --------------------------------------------------------------------------------------
# Machine, processes and memory
# --------------------------------------------------------------------------------------


def cpu_model() -> str:
    """CPU model name from ``/proc/cpuinfo`` (``platform.processor()`` elsewhere)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def machine_info() -> dict:
    """Machine, core count and git commit that every result row carries."""
    return {
        "machine": f"{platform.machine()} {cpu_model()}".strip(),
        "cores": os.cpu_count() or 1,
        "commit": git_commit(),
    }


def peak_rss_mb() -> float:
    """Peak resident memory, in MiB, of this process or its largest child."""
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    peak = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    )
    return round(peak / scale, 1)


def _child_entry(conn, func, args, kwargs) -> None:
    """Body of a forked child: run ``func`` and send back its result and peak RSS."""
    try:
        result = dict(func(*args, **kwargs) or {})
        result["peak_rss_mb"] = peak_rss_mb()
        conn.send(("ok", result))
    except BaseException:  # report anything, including KeyboardInterrupt, to the parent
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


def run_forked(func: Callable[..., dict], *args, **kwargs) -> dict:
    """Run ``func(*args, **kwargs)`` in a forked child process.

    Returns
    -------
    dict
        What ``func`` returned, plus ``peak_rss_mb``: the child's own peak
        resident memory (pages shared with the parent included).

    Raises
    ------
    RuntimeError
        With the child's traceback when ``func`` raised, or when the child
        died without answering (killed, out of memory).
    """
    ctx = mp.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)
    sys.stdout.flush()
    sys.stderr.flush()
    child = ctx.Process(target=_child_entry, args=(sender, func, args, kwargs))
    child.start()
    sender.close()
    try:
        status, payload = receiver.recv()
    except EOFError:
        child.join()
        raise RuntimeError(f"{func.__name__}: child died (exit code {child.exitcode})") from None
    finally:
        receiver.close()
    child.join()
    if status != "ok":
        raise RuntimeError(f"{func.__name__} failed in its child process:\n{payload}")
    return payload


def _median_seconds(call: Callable[[], object], repeats: int) -> float:
    """Median wall time, in seconds, of ``repeats`` calls (warm up before calling)."""
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _timed(call: Callable[[], object]) -> float:
    """Wall time of one call, in seconds."""
    t0 = time.perf_counter()
    call()
    return time.perf_counter() - t0


def _tensorflow_initialized() -> bool:
    """True once TensorFlow has run an op here (forking is then unsafe)."""
    if "tensorflow" not in sys.modules:
        return False
    try:
        from tensorflow.python.eager import context

        return context.context()._context_handle is not None
    except Exception:  # private API; assume the best when it changes
        return False


def _import_tensorflow():
    """Import Keras (TensorFlow backend) quietly; run no op, so forking stays safe."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

    return keras


# --------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------


def _synthetic_table() -> pd.DataFrame:
    """PhysioNet-like synthetic index (written once under the project's data folder)."""
    from .data import index_physionet
    from .synthetic import make_synthetic_datasets

    base = _config.data_dir() / "synthetic" / "smoke"
    roots = make_synthetic_datasets(base, size="smoke")
    return index_physionet(roots["physionet2016"])


def load_sample(
    data_dir: str | os.PathLike | None, n: int, *, quick: bool = False, seed: int = 0
) -> tuple[pd.DataFrame, str]:
    """A reproducible random sample of ``n`` recordings and its data label.

    Real PhysioNet 2016 from ``data_dir/physionet2016`` unless ``quick`` or the
    folder is missing; then the synthetic set, labelled ``"SYNTHETIC"``.
    """
    from .data import index_physionet

    root = Path(data_dir).expanduser() / "physionet2016" if data_dir else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if quick or root is None or not root.is_dir():
            if not quick:
                print(f"bench: no real data at {root}; using SYNTHETIC recordings", file=sys.stderr)
            table, label = _synthetic_table(), "SYNTHETIC"
        else:
            table, label = index_physionet(root), "real"
    sample = table.sample(n=min(n, len(table)), random_state=seed).reset_index(drop=True)
    for path in sample["path"]:  # page cache: no measurement pays for the first disk read
        Path(path).read_bytes()
    return sample, label


def synthetic_recording(seconds: float, sample_rate: int, seed: int = 0) -> np.ndarray:
    """A synthetic heart-sound recording of ``seconds`` at ``sample_rate``."""
    from .synthetic import synthesize_pcg

    return synthesize_pcg(seconds, sample_rate, rng=np.random.default_rng(seed))


# --------------------------------------------------------------------------------------
# 1. Feature extraction: ours against the original recipe
# --------------------------------------------------------------------------------------


def _minmax(image: np.ndarray) -> np.ndarray:
    """The authors' min-max scaling to [0, 1] (with ``+ 1e-6``)."""
    return (image - image.min()) / (image.max() - image.min() + 1e-6)


def original_mel_image(clip: np.ndarray) -> np.ndarray:
    """The original log-Mel image: 224 mels, n_fft 2048, hop 512, 224x224."""
    import cv2
    import librosa

    mel = librosa.feature.melspectrogram(
        y=clip,
        sr=ORIGINAL["sample_rate"],
        n_fft=ORIGINAL["n_fft"],
        hop_length=ORIGINAL["hop_length"],
        n_mels=ORIGINAL["n_mels"],
    )
    log_mel = librosa.power_to_db(mel, ref=np.max)
    size = ORIGINAL["image_size"]
    return _minmax(cv2.resize(log_mel, (size, size)))


def original_cwt_image(clip: np.ndarray) -> np.ndarray:
    """The original scalogram: 224-scale Morlet CWT, ``log1p(|coeffs|)``, 224x224."""
    import cv2
    import pywt

    coeffs, _ = pywt.cwt(clip, np.arange(1, ORIGINAL["cwt_scales"] + 1), ORIGINAL["wavelet"])
    size = ORIGINAL["image_size"]
    return _minmax(cv2.resize(np.log1p(np.abs(coeffs)).astype(np.float32), (size, size)))


def original_recipe_file(
    path: str | os.PathLike, out_dir: str | os.PathLike, *, with_cwt: bool = True
) -> Path:
    """The original per-file preprocessing, saved as one ``.npy``.

    ``librosa.load`` of the whole file at 22050 Hz (mono), the first 5 s
    zero-padded, the log-Mel image and (``with_cwt``) the CWT scalogram,
    stacked as ``(channels, 224, 224)`` float32.

    Returns
    -------
    Path
        The ``.npy`` file written into ``out_dir``.
    """
    import librosa

    samples, _ = librosa.load(str(path), sr=ORIGINAL["sample_rate"], mono=True)
    n = int(round(ORIGINAL["clip_seconds"] * ORIGINAL["sample_rate"]))
    clip = samples[:n]
    if len(clip) < n:
        clip = np.pad(clip, (0, n - len(clip)))
    channels = [original_mel_image(clip)]
    if with_cwt:
        channels.append(original_cwt_image(clip))
    target = Path(out_dir) / f"{Path(path).stem}.npy"
    np.save(target, np.stack(channels).astype(np.float32))
    return target


def _time_original(paths: Sequence[str], with_cwt: bool) -> dict:
    """Seconds for the original recipe over ``paths`` (one process, as the original)."""
    with tempfile.TemporaryDirectory(prefix="audiofuse-bench-") as out:
        seconds = _timed(lambda: [original_recipe_file(p, out, with_cwt=with_cwt) for p in paths])
    return {"seconds": seconds, "recordings": len(paths)}


def _time_ours(table: pd.DataFrame, profile_name: str, n_jobs: int) -> dict:
    """Seconds for this project's extractor over ``table``."""
    from .features import extract_features

    cfg = _config.get_profile(profile_name).features
    holder = {}
    seconds = _timed(
        lambda: holder.setdefault("fs", extract_features(table, cfg, n_jobs=n_jobs, progress=False))
    )
    return {"seconds": seconds, "recordings": len(table), "skipped": len(holder["fs"].skipped)}


def _feature_rows(label: str, profile: str, result: dict, data: str) -> list[dict]:
    """Throughput, time, count and memory rows of one extraction measurement."""
    rate = result["recordings"] / max(result["seconds"], 1e-9)
    return [
        _row("features", label, profile, rate, "recordings/s", data),
        _row("features", label, profile, result["seconds"], "s", data),
        _row("features", label, profile, result["recordings"], "recordings", data),
        _row("memory", f"features: {label}", profile, result["peak_rss_mb"], "MiB peak RSS", data),
    ]


def warm_up_features(path: str, profiles: Sequence[str]) -> None:
    """Pay lazy imports and JIT compilation once, in the parent, before any fork.

    The first call of librosa's STFT, resampler and filters costs seconds
    (imports, numba compilation); every forked measurement inherits the warm
    state, so each one measures steady-state throughput.
    """
    from .features import _features_for_path

    with tempfile.TemporaryDirectory(prefix="audiofuse-bench-") as out:
        original_recipe_file(path, out, with_cwt=False)
    original_cwt_image(np.zeros(256, np.float32))
    for profile in profiles:
        _features_for_path((path, _config.get_profile(profile).features, False))


def bench_features(sample: pd.DataFrame, settings: BenchSettings, data: str) -> list[dict]:
    """Section 1: the original recipe against our profiles, n_jobs 1 and 2."""
    table = sample.iloc[: settings.n_records].reset_index(drop=True)
    paths = table["path"].astype(str).tolist()
    warm_up_features(paths[0], {*settings.feature_profiles, settings.scaling_profile})
    rows = []
    _log(f"features: original recipe, mel only, {len(paths)} recordings")
    rows += _feature_rows(
        "original mel only", "original", run_forked(_time_original, paths, False), data
    )
    cwt_paths = paths[: settings.cwt_records]
    _log(f"features: original recipe, mel + CWT, {len(cwt_paths)} recordings")
    rows += _feature_rows(
        "original mel+CWT", "original", run_forked(_time_original, cwt_paths, True), data
    )
    for profile in settings.feature_profiles:
        for n_jobs in (1, 2):
            _log(f"features: {profile} profile, n_jobs={n_jobs}, {len(table)} recordings")
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

    from .features import log_mel_image

    out = {}
    for name in profiles:
        cfg = _config.get_profile(name).features
        clip = synthetic_recording(cfg.clip_seconds, cfg.sample_rate)
        log_mel_image(clip, cfg)

        def one_image(c=cfg, x=clip):
            return log_mel_image(x, c)

        out[f"{name} default"] = 1e3 * _median_seconds(one_image, repeats)
        with threadpool_limits(1):
            out[f"{name} one"] = 1e3 * _median_seconds(one_image, repeats)
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
    _log(f"features: log-Mel of one clip, default BLAS threads and one thread ({profiles})")
    result = run_forked(blas_threads_worker, profiles, repeats)
    syn = "synthesized signal"
    rows = []
    for name in profiles:
        rows += [
            _row(
                "features",
                "log-Mel of one clip, default BLAS threads",
                name,
                result[f"{name} default"],
                "ms",
                syn,
            ),
            _row(
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
                        _row(
                            "features",
                            f"speed-up n_jobs={n_jobs} vs {reference}",
                            profile,
                            ours / base,
                            "x",
                            data,
                        )
                    )
    return out


# --------------------------------------------------------------------------------------
# 6 (counting part). FLOPs of a Keras model
# --------------------------------------------------------------------------------------


def _prod(values) -> int:
    """Product of the known dimensions (``None`` counts as 1)."""
    total = 1
    for value in values:
        total *= int(value) if value is not None else 1
    return total


def _mha_macs(layer) -> int:
    """MACs of one MultiHeadAttention call: projections, scores and weighted sum."""
    inputs = layer.input if isinstance(layer.input, list) else [layer.input]
    query, value = inputs[0], inputs[1] if len(inputs) > 1 else inputs[0]
    key = inputs[2] if len(inputs) > 2 else value
    tq, tk, tv = (_prod(t.shape[1:-1]) for t in (query, key, value))
    heads, key_dim = layer.query_dense.kernel.shape[-2:]
    value_dim = layer.value_dense.kernel.shape[-1]
    projections = (
        tq * _prod(layer.query_dense.kernel.shape)
        + tk * _prod(layer.key_dense.kernel.shape)
        + tv * _prod(layer.value_dense.kernel.shape)
        + tq * _prod(layer.output_dense.kernel.shape)
    )
    attention = heads * tq * tk * (key_dim + value_dim)  # Q K^T and softmax(.) V
    return int(projections + attention)


def layer_flops(layer) -> int:
    """Forward FLOPs (2 x multiply-accumulates) of one layer for one sample.

    Counts Conv1D/Conv2D (output positions x kernel volume), Dense (applied to
    every leading position of its input), MultiHeadAttention (Q/K/V/output
    projections plus the score and value matmuls) and nested models. Biases,
    activations, normalisation, pooling and softmax are not counted (they are
    a few percent at most).
    """
    from keras import layers

    if hasattr(layer, "layers") and not isinstance(layer, layers.MultiHeadAttention):
        return count_flops(layer)
    if isinstance(layer, layers.MultiHeadAttention):
        return 2 * _mha_macs(layer)
    if isinstance(layer, (layers.Conv1D, layers.Conv2D)):
        return 2 * _prod(layer.output.shape[1:-1]) * _prod(layer.kernel.shape)
    if isinstance(layer, layers.Dense):
        return 2 * _prod(layer.input.shape[1:]) * int(layer.units)
    return 0


def count_flops(model) -> int:
    """Forward FLOPs per sample of a built Keras model (see :func:`layer_flops`)."""
    return int(sum(layer_flops(layer) for layer in model.layers))


# --------------------------------------------------------------------------------------
# 2, 3, 5. Model measurements (each in a forked child with TensorFlow)
# --------------------------------------------------------------------------------------


def _random_inputs(kind: str, features, batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Random model inputs of the right shapes for ``kind``."""
    rng = np.random.default_rng(seed)
    inputs = {}
    if kind in ("fusion", "spectrogram"):
        inputs["spectrogram"] = rng.random((batch, *features.spectrogram_shape), np.float32)
    if kind in ("fusion", "waveform"):
        inputs["waveform"] = rng.standard_normal((batch, *features.waveform_shape), np.float32)
    return inputs


def _build(profile_name: str, kind: str):
    """(profile, untrained model) for one profile and kind."""
    from .models import build_model

    profile = _config.get_profile(profile_name)
    return profile, build_model(kind, profile.features, profile.model)


def _measure_inference(model, profile, kind: str, batch: int, repeats: int) -> dict:
    """Batch-1 and batched latency per 5 s recording, and a whole 60 s recording."""
    from .predict import Predictor

    one, many = (_random_inputs(kind, profile.features, b) for b in (1, batch))
    model.predict_on_batch(one)
    batch1 = _median_seconds(lambda: model.predict_on_batch(one), repeats)
    model.predict_on_batch(many)
    batched = _median_seconds(lambda: model.predict_on_batch(many), max(1, repeats // 5))
    predictor = Predictor(model, profile, kind)
    recording = synthetic_recording(60.0, profile.features.sample_rate)
    windows = predictor.predict_samples(recording)["windows"]
    whole = _median_seconds(lambda: predictor.predict_samples(recording), max(1, repeats // 7))
    return {
        "batch1_ms": 1e3 * batch1,
        "batched_ms": 1e3 * batched / batch,
        "recording60_ms": 1e3 * whole,
        "recording60_windows": windows,
    }


def _measure_training(model, profile, kind: str, batch: int, steps: int) -> dict:
    """``train_on_batch`` samples/s after one warm-up step (AdamW + BCE)."""
    import keras

    train = profile.train
    model.compile(
        optimizer=keras.optimizers.AdamW(
            learning_rate=train.learning_rate, weight_decay=train.weight_decay
        ),
        loss="binary_crossentropy",
    )
    inputs = _random_inputs(kind, profile.features, batch, seed=1)
    labels = np.random.default_rng(2).integers(0, 2, (batch, 1)).astype(np.float32)
    warmup = _timed(lambda: model.train_on_batch(inputs, labels))
    seconds = _timed(lambda: [model.train_on_batch(inputs, labels) for _ in range(steps)])
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
    profile, model = _build(profile_name, kind)
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


def _rows_from(result: dict, profile: str, specs) -> list[dict]:
    """Rows for ``(section, name, key, unit, data)`` specs whose ``key`` is in ``result``."""
    return [
        _row(section, name, profile, result[key], unit, data)
        for section, name, key, unit, data in specs
        if key in result
    ]


def _model_rows(profile: str, kind: str, result: dict, batch: int) -> list[dict]:
    """CSV rows for one :func:`model_worker` result."""
    syn, rnd, rss = "synthesized signal", "random inputs", "MiB peak RSS"
    windows = _windows(result.get("recording60_windows", 0))
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
    return _rows_from(result, profile, specs)


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
            _log(
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


# --------------------------------------------------------------------------------------
# 3 (one core). A fresh interpreter pinned to CPU 0 with single-threaded TensorFlow
# --------------------------------------------------------------------------------------


def single_core_latency(profile_name: str, kind: str, repeats: int) -> dict:
    """Median ms of ``Predictor.predict_samples`` on one 5 s recording.

    Meant to run in a fresh interpreter under ``taskset -c 0`` with
    ``TF_NUM_INTRAOP_THREADS=1`` (see :func:`bench_single_core`); start-up,
    model building and one warm-up call are excluded from the timing.
    """
    from .features import recording_features
    from .predict import Predictor

    t0 = time.perf_counter()
    profile, model = _build(profile_name, kind)
    predictor = Predictor(model, profile, kind)
    clip = synthetic_recording(profile.features.clip_seconds, profile.features.sample_rate)
    predictor.predict_samples(clip, full_recording=False)
    setup = time.perf_counter() - t0
    total, feats = [], []
    for _ in range(repeats):
        feats.append(_timed(lambda: recording_features(clip, profile.features)))
        total.append(_timed(lambda: predictor.predict_samples(clip, full_recording=False)))
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
    _log(f"inference: {profile} {kind} on one core ({how}), {repeats} calls")
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
    return _rows_from(result, profile, specs)


# --------------------------------------------------------------------------------------
# 5. Scaling with recording length and dataset size
# --------------------------------------------------------------------------------------


def length_worker(profile_name: str, lengths: Sequence[float], repeats: int) -> dict:
    """Features and features + fusion model for recordings of each length."""
    from .features import recording_features
    from .predict import Predictor

    profile, model = _build(profile_name, "fusion")
    predictor = Predictor(model, profile, "fusion")
    out = {}
    for seconds in lengths:
        samples = synthetic_recording(seconds, profile.features.sample_rate, seed=int(seconds))
        windows = predictor.predict_samples(samples)["windows"]  # warm-up (traces this shape)
        out[str(seconds)] = {
            "windows": windows,
            "features_s": _median_seconds(
                lambda s=samples: recording_features(s, profile.features, windows=True), repeats
            ),
            "total_s": _median_seconds(lambda s=samples: predictor.predict_samples(s), repeats),
        }
    return out


def dataset_worker(profile_name: str, table: pd.DataFrame, sizes: Sequence[int]) -> dict:
    """Parallel extraction plus batched fusion inference for growing record counts."""
    from .features import extract_features

    profile, model = _build(profile_name, "fusion")
    model.predict(_random_inputs("fusion", profile.features, 40), batch_size=32, verbose=0)
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
        name = f"length {float(seconds):g} s ({_windows(r['windows'])})"
        r = {**r, "ms_per_s": 1e3 * r["total_s"] / float(seconds)}
        rows += _rows_from(
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
        rows += _rows_from(
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
    _log(f"scaling: recording length {settings.lengths_s} s ({profile} fusion)")
    lengths = run_forked(length_worker, profile, settings.lengths_s, 3)
    memory = lengths.pop("peak_rss_mb")
    rows = [_row("memory", "scaling: recording length", profile, memory, rss, "synthesized signal")]
    rows += _length_rows(profile, lengths)
    sizes = [n for n in settings.dataset_sizes if n <= len(sample)]
    _log(f"scaling: dataset size {sizes} records ({profile}, n_jobs=2)")
    result = run_forked(dataset_worker, profile, sample, sizes)
    rows.append(
        _row("memory", "scaling: dataset size", profile, result.pop("peak_rss_mb"), rss, data)
    )
    return rows + _dataset_rows(profile, result, data)


# --------------------------------------------------------------------------------------
# 6. Distance to the hardware limit
# --------------------------------------------------------------------------------------


def matmul_gflops(n: int = 2048, repeats: int = 5, use_keras: bool = False) -> float:
    """Best float32 ``n x n`` matmul rate in GFLOP/s (NumPy, or ``keras.ops``)."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
    if use_keras:
        from keras import ops

        a, b = ops.convert_to_tensor(a), ops.convert_to_tensor(b)

        def call():
            return np.asarray(ops.matmul(a, b))
    else:

        def call():
            return a @ b

    call()
    best = min(_timed(call) for _ in range(max(1, repeats)))
    return 2.0 * n**3 / best / 1e9


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
                _row("peak", f"{kind} {what}: achieved", profile, rate, "GFLOP/s", rnd),
                _row("peak", f"{kind} {what}: % of peak", profile, 100.0 * rate / peak, "%", rnd),
            ]
    return rows


def bench_peak(settings: BenchSettings, models: dict) -> list[dict]:
    """Section 6: matmul peak, and the fraction of it training and inference reach."""
    _log(f"peak: float32 matmul, sizes {settings.matmul_sizes}")
    peaks = run_forked(_peak_worker, settings.matmul_sizes)
    peaks.pop("peak_rss_mb")
    rows = [
        _row(
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
    rows.append(
        _row("peak", "matmul peak (best of the above)", "", peak, "GFLOP/s", "random inputs")
    )
    return rows + _fraction_rows(models, peak)


# --------------------------------------------------------------------------------------
# Driver and reports
# --------------------------------------------------------------------------------------


def _row(section: str, name: str, profile: str, value: float, unit: str, data: str) -> dict:
    """One long-format result row (machine columns are added at the end)."""
    return {
        "section": section,
        "name": name,
        "profile": profile,
        "value": float(value),
        "unit": unit,
        "data": data,
    }


_T0 = time.perf_counter()


def _windows(n: int) -> str:
    """``"1 window"``, ``"23 windows"``."""
    return f"{n} window" + ("" if n == 1 else "s")


def _log(message: str) -> None:
    """Progress line on stderr, with the seconds since the module was imported."""
    print(f"bench [{time.perf_counter() - _T0:6.1f} s]: {message}", file=sys.stderr, flush=True)


def _baseline_row(when: str, data: str) -> dict:
    """Peak RSS of a forked child that does nothing: the floor of the next measurements."""
    rss = run_forked(dict)["peak_rss_mb"]
    state = "TensorFlow imported" if "tensorflow" in sys.modules else "no TensorFlow"
    return _row(
        "memory", f"baseline: idle forked child {when} ({state})", "", rss, "MiB peak RSS", data
    )


def run_benchmark(
    data_dir: str | os.PathLike | None = None,
    out: str | os.PathLike | None = None,
    quick: bool = False,
) -> pd.DataFrame:
    """Run every measurement and write ``benchmark.csv`` and ``benchmark.md``.

    Parameters
    ----------
    data_dir : str or Path, optional
        Folder holding ``physionet2016/``; without it (or with ``quick``) the
        synthetic set is used and every data-based row is labelled SYNTHETIC.
    out : str or Path, optional
        Output folder (default: the repository's ``results/``).
    quick : bool
        Smoke profile, synthetic data and tiny sizes (for tests; < 60 s).

    Returns
    -------
    pandas.DataFrame
        The long-format results, as written to ``benchmark.csv``.
    """
    if _tensorflow_initialized():
        raise RuntimeError(
            "TensorFlow has already run in this process, so the benchmark cannot fork its "
            "measurements safely; run it in a fresh process (`audiofuse bench`)"
        )
    settings = settings_for(quick)
    started, load_before = time.perf_counter(), os.getloadavg()
    sample, data = load_sample(data_dir, settings.n_sample, quick=quick)
    rows = [_baseline_row("before features", data)]
    rows += bench_features(sample, settings, data)
    _import_tensorflow()
    rows.append(_baseline_row("before models", data))
    model_rows, models = bench_models(settings)
    rows += model_rows
    if settings.single_core_repeats:
        rows += bench_single_core(
            settings.scaling_profile, "fusion", settings.single_core_repeats, fresh=not quick
        )
    rows += bench_scaling(sample, settings, data)
    rows += bench_peak(settings, models)
    run = {
        "data": data,
        "records": len(sample),
        "quick": quick,
        "seconds": time.perf_counter() - started,
        "load_before": load_before,
        "load_after": os.getloadavg(),
        **machine_info(),
    }
    frame = _to_frame(rows, run)
    write_results(frame, run, _output_dir(out))
    return frame


def _to_frame(rows: list[dict], run: dict) -> pd.DataFrame:
    """Rows plus the machine, cores and commit columns, in the CSV's order."""
    frame = pd.DataFrame(rows)
    for key in ("machine", "cores", "commit"):
        frame[key] = run[key]
    return frame[CSV_COLUMNS]


def _output_dir(out: str | os.PathLike | None) -> Path:
    """``out``, or the repository's ``results/`` folder."""
    return Path(out) if out else Path(__file__).resolve().parents[2] / "results"


def write_results(frame: pd.DataFrame, run: dict, out: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``benchmark.csv`` and ``benchmark.md`` into ``out``, each atomically."""
    out = Path(out)
    csv_path = write_text_atomic(out / "benchmark.csv", frame.to_csv(index=False))
    md_path = write_text_atomic(out / "benchmark.md", render_markdown(frame, run))
    return csv_path, md_path


def _pick(frame: pd.DataFrame, section: str, name: str, profile: str, unit: str) -> float | None:
    """The value of the first row matching every key, or None."""
    hit = frame[
        (frame.section == section)
        & (frame.name == name)
        & (frame.profile == profile)
        & (frame.unit == unit)
    ]
    return float(hit.value.iloc[0]) if len(hit) else None


def _goal_line(label: str, value: float | None, goal: float, unit: str, below: bool = False) -> str:
    """``- label: value (goal >= x): PASS`` (or FAIL, or not measured)."""
    if value is None:
        return f"- {label}: not measured in this run"
    ok = value < goal if below else value >= goal
    sign = "<" if below else ">="
    sep = "" if unit == "x" else " "
    return (
        f"- {label}: **{_fmt(value)}{sep}{unit}** (goal {sign} {goal:g}{sep}{unit}): "
        f"**{'PASS' if ok else 'FAIL'}**"
    )


def _headline(frame: pd.DataFrame, run: dict) -> str:
    """Goal lines and the speed-ups against the original recipe."""
    lines = ["## Headline", ""]
    ref = "original mel+CWT"
    goals = {"cpu": GOAL_CPU_SPEEDUP, "paper": GOAL_PAPER_SPEEDUP}
    for profile in ("smoke", "cpu", "paper"):
        one = _pick(frame, "features", f"speed-up n_jobs=1 vs {ref}", profile, "x")
        if one is None:
            continue
        label = f"`{profile}` feature extraction vs the original recipe (1 process each)"
        lines.append(
            _goal_line(label, one, goals[profile], "x")
            if profile in goals
            else f"- {label}: **{_fmt(one)}x** (no goal for this profile)"
        )
        two = _pick(frame, "features", f"speed-up n_jobs=2 vs {ref}", profile, "x")
        mel = _pick(frame, "features", "speed-up n_jobs=1 vs original mel only", profile, "x")
        lines.append(
            f"  - with the parallel extractor (n_jobs=2): {_fmt(two)}x; "
            f"against the original without its CWT (1 process): {_fmt(mel)}x"
        )
    latency_profile = "smoke" if run["quick"] else "cpu"
    lines.append(
        _goal_line(
            f"`{latency_profile}` fusion, one 5 s recording on 1 core (median)",
            _pick(
                frame, "inference", "fusion 5 s recording, 1 core (median)", latency_profile, "ms"
            ),
            GOAL_LATENCY_MS,
            "ms",
            below=True,
        )
    )
    return "\n".join(lines) + "\n"


def _section_table(frame: pd.DataFrame, section: str) -> str:
    """One section as a Markdown table: a row per measurement, a column per profile."""
    part = frame[frame.section == section].copy()
    part["profile"] = part["profile"].replace("", "-")
    part["measurement"] = part["name"] + " [" + part["unit"] + "]"
    order = list(dict.fromkeys(part["measurement"]))
    table = part.pivot_table(
        index="measurement", columns="profile", values="value", aggfunc="first", sort=False
    ).reindex(order)
    columns = [p for p in ("original", "smoke", "cpu", "paper", "-") if p in table.columns]
    table = table[columns].reset_index()
    table = table.map(lambda v: _fmt(v) if isinstance(v, float) else v)
    return format_table(table)


def _fmt(value: float | None) -> str:
    """Three significant digits, blank for missing values."""
    if value is None or pd.isna(value):
        return ""
    return f"{value:.3g}" if abs(value) < 1e3 else f"{value:,.0f}"


_SECTION_NOTES = {
    "features": "Recordings/s over the sampled recordings, one process (`n_jobs=1`) or the "
    "project's parallel extractor (`n_jobs=2`). The original recipe loads each "
    "whole file at 22050 Hz, builds the 224x224 log-Mel image and the 224-scale "
    "Morlet CWT scalogram and saves them as `.npy`; the CWT is so slow that it "
    "is timed on a subset (its `recordings` row).",
    "training": "`train_on_batch` (AdamW + binary cross-entropy, the trainer's compile) on "
    "random inputs, timed after one warm-up step (whose time, mostly graph "
    "tracing, is listed too).",
    "inference": "`predict_on_batch` per 5 s recording at batch 1 and batched; the 60 s "
    "recording goes through `Predictor.predict_samples` (features of every "
    "window + model). The 1-core rows come from a process pinned to CPU 0 with "
    "one TensorFlow thread, timed after start-up and one warm-up call: a fresh "
    "interpreter under `taskset -c 0` (the quick variant pins a forked child).",
    "memory": "Peak RSS (`ru_maxrss`) of the process that ran each measurement (a forked "
    "child; for the parallel extractor, its largest process). The baselines are "
    "forked children that do nothing: subtract them for the measurement's own cost.",
    "scaling": "Cost against recording length (full-recording windows, features + fusion "
    "model) and against dataset size (parallel extraction + batched fusion "
    "inference).",
    "peak": "Forward FLOPs per sample counted from the Keras layers (Conv, Dense, attention "
    "incl. score and value matmuls; 2 FLOPs per multiply-accumulate). Training counts "
    "3x forward. The fraction is of the best measured float32 matmul rate.",
}


def render_markdown(frame: pd.DataFrame, run: dict) -> str:
    """The human report: provenance, headline goals, then one table per section."""
    label = (
        "**SYNTHETIC recordings** (no real data used)"
        if run["data"] == "SYNTHETIC"
        else f"real PhysioNet 2016 recordings ({run['records']} sampled, seed 0)"
    )
    parts = [
        "# AudioFuse benchmark" + (" (quick)" if run["quick"] else ""),
        "",
        f"Machine `{run['machine']}`, {run['cores']} cores, commit `{run['commit']}`, "
        f"{label}. Measurements took {run['seconds']:.0f} s.",
        "",
        f"Load average before / after: {_load(run['load_before'])} / "
        f"{_load(run['load_after'])}. Timings are wall-clock; other work on the machine "
        "slows them and they are best read as ratios measured in the same run.",
        "",
        _headline(frame, run),
    ]
    for section in SECTIONS:
        if (frame.section == section).any():
            parts += [
                f"## {section.capitalize()}",
                "",
                _SECTION_NOTES[section],
                "",
                _section_table(frame, section),
                "",
            ]
    parts += [
        "## Reproduce",
        "",
        "```",
        "make bench",
        "# or: audiofuse bench --data-dir ../shared/data [--out results/]",
        "```",
        "",
    ]
    return "\n".join(parts)


def _load(values) -> str:
    """Load averages (1, 5, 15 min) as text."""
    return " ".join(f"{v:.2f}" for v in values)


def main(args) -> int:
    """Entry point of ``audiofuse bench`` (``args.quick``, ``args.data_dir``, ``args.out``)."""
    frame = run_benchmark(data_dir=args.data_dir, out=args.out, quick=args.quick)
    out = _output_dir(args.out)
    print(
        f"{len(frame)} measurements written to {out / 'benchmark.csv'} and {out / 'benchmark.md'}"
    )
    return 0


def _worker_main(argv: Sequence[str] | None = None) -> int:
    """``python -m audiofuse.benchmark single-core ...``: the pinned latency child."""
    parser = argparse.ArgumentParser(prog="python -m audiofuse.benchmark")
    sub = parser.add_subparsers(dest="command", required=True)
    single = sub.add_parser("single-core", help="latency of one 5 s recording (run it pinned)")
    single.add_argument("--profile", default="cpu", choices=list(_config.PROFILES))
    single.add_argument("--kind", default="fusion", choices=list(MODEL_KINDS))
    single.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    _import_tensorflow()
    print(json.dumps(single_core_latency(args.profile, args.kind, args.repeats)))
    return 0


if __name__ == "__main__":
    sys.exit(_worker_main())
