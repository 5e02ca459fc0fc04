"""The ``training`` rows: the trainer's samples/s and its share of the matmul peak.

Each training process is a fresh interpreter (``python -m audiofuse.benchmark
train``, :func:`train_worker`), because TensorFlow reads its thread settings
once, when it starts. It runs :func:`audiofuse.model.training.train_model` itself,
the path of ``audiofuse train`` and ``train-runs``, on random features: batches,
class weights, validation after every epoch and checkpoints included. The
first epoch (graph tracing) is not timed. Several processes at once run as
``train-runs --workers N`` runs them, the cores split between them.
"""

from __future__ import annotations

import time

import numpy as np

from .flops import matmul_gflops
from .harness import BenchSettings, finish_python, last_json, log, result_row, start_python

#: The share of the measured float32 matmul peak that training should reach.
PEAK_SHARE_GOAL = ">= 30"


def train_worker(profile_name: str, records: int, epochs: int, seed: int = 0) -> dict:
    """Train the fusion of ``profile_name`` on ``records`` random examples; its speed.

    Returns
    -------
    dict
        ``samples_per_s`` (training examples over the epochs after the first,
        validation and checkpoints included) and ``flops`` (forward FLOPs per sample).
    """
    import tempfile

    import pandas as pd

    from audiofuse.config import get_profile
    from audiofuse.features.feature_set import FeatureSet
    from audiofuse.model.training import train_model

    from .flops import count_flops

    base = get_profile(profile_name)
    profile = base.replace(train=base.train.replace(epochs=epochs, patience=epochs))
    cfg, rng = profile.features, np.random.default_rng(seed)
    labels = np.arange(records) % 2  # both classes in every carve-out
    meta = pd.DataFrame({"record": [f"r{i:05d}" for i in range(records)], "label": labels})
    features = FeatureSet(
        rng.random((records, *cfg.spectrogram_shape), np.float32).astype(np.float16),
        rng.standard_normal((records, *cfg.waveform_shape), np.float32).astype(np.float16),
        meta,
    )
    with tempfile.TemporaryDirectory(prefix="audiofuse-bench-train-") as run_dir:
        result = train_model("fusion", profile, features, run_dir, seed=seed, progress=False)
    timed = result.history["seconds"][1:]
    n_train = records - len(result.val_records)
    return {"samples_per_s": n_train * len(timed) / sum(timed), "flops": count_flops(result.model)}


def _train_processes(settings: BenchSettings, processes: int) -> list[dict]:
    """:func:`train_worker` results of ``processes`` fresh interpreters trained at once."""
    from ..experiments.scheduler import worker_threads

    env = worker_threads(processes) if processes > 1 else {}
    args = ["-m", "audiofuse.benchmark", "train", "--profile", settings.train_profile,
            "--records", str(settings.train_records), "--epochs", str(settings.train_epochs)]  # fmt: skip
    children = []
    for index in range(processes):
        argv = [*args, "--seed", str(index)]
        children.append((start_python(argv, env=env), argv))
    try:
        return [last_json(finish_python(proc, argv)[0]) for proc, argv in children]
    finally:
        for proc, _ in children:  # one that failed leaves no other behind
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def bench_training(settings: BenchSettings) -> list[dict]:
    """Samples/s of the fusion's trainer (1 process, and N at once) and their peak share."""
    profile, data = settings.train_profile, "random inputs"
    log(f"training: float32 matmul peak, {settings.matmul_size}^2")
    peak = max(matmul_gflops(settings.matmul_size, repeats=5) for _ in range(2))
    rows = [result_row("training", f"float32 matmul peak ({settings.matmul_size}^2, NumPy)", "",
                       peak, "GFLOP/s", data)]  # fmt: skip
    for processes in settings.train_processes:
        what = "1 process" if processes == 1 else f"{processes} runs at once (train-runs)"
        log(f"training: {profile} fusion, {what}")
        t0 = time.perf_counter()
        results = _train_processes(settings, processes)
        log(f"training: {what}: {time.perf_counter() - t0:.0f} s")
        rate = sum(r["samples_per_s"] for r in results)
        share = 100.0 * 3.0 * results[0]["flops"] / 1e9 * rate / peak  # backward ~ 2x forward
        rows += [
            result_row("training", f"fusion trainer, {what}", profile, rate, "samples/s", data),
            result_row("training", f"fusion trainer, {what}: share of matmul peak", profile,
                       share, "%", data, PEAK_SHARE_GOAL),
        ]  # fmt: skip
    return rows
