"""Training candidates: ways to train the ``cpu`` fusion on 2 cores, side by side.

Issue 12 asks for the fastest correct way to train the ``cpu`` profile.
:data:`CANDIDATES` starts with the trainer's path before this section chose
one (:func:`audiofuse.training.train_model`: TensorFlow with its default
threads, op determinism on, ``jit_compile="auto"``, i.e. off on a CPU, batch
32, one step per call of the compiled step and a
:class:`audiofuse.batches.FeatureBatches` PyDataset over a float16
:class:`audiofuse.features.FeatureSet`, which Keras reads through tf.data with
its autotuner on); every other candidate changes one or
two things of it, and the last ones combine what the trainer took up. Each
is measured as fresh training processes (:func:`.sweep.concurrent_training`
with :func:`candidate_worker`), because the backend and the thread settings
are read once, when a process starts.

Each is timed over two epochs in one ``fit``, as the trainer trains: the
boundary between epochs costs what it costs in training (with the autotuner
on, the first step of an epoch can wait seconds for the last epoch's
iterator to be deleted; see :func:`audiofuse.batches.fit_input`).

Rows (section :data:`CANDIDATE_SECTION`): training samples/s of each
candidate, its ratio to the reference (``x``) and its share of the measured
float32 matmul peak (``%``: 3 x forward FLOPs x samples/s, as in the ``peak``
section). A candidate that fails (JAX missing, say) gets no rows and a log line.

Threads: TensorFlow reads ``TF_NUM_INTRAOP_THREADS``, ``TF_NUM_INTEROP_THREADS``
and ``OMP_NUM_THREADS``. JAX (jaxlib 0.10) has no thread setting that works:
``XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"``
is accepted and changes nothing (four threads stay busy on 2 cores), while its
thread pools follow the CPU affinity; so a JAX candidate with ``threads`` is
pinned to that many cores (run ``i`` of several to the ``i``-th such group).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..config import STEPS_PER_EXECUTION
from .harness import BenchSettings, log, result_row
from .paths import onednn_env, python_env
from .sweep import RUN_INDEX_VARIABLE, SWEEP_PROFILE, concurrent_training, time_on_go

#: Section of the candidates' rows in the report.
CANDIDATE_SECTION = "training candidates"
#: The profile and model kind trained by every candidate (the sweeps' profile).
CANDIDATE_PROFILE = SWEEP_PROFILE
CANDIDATE_KIND = "fusion"
#: Suffixes of a candidate's ratio and peak rows (its samples/s row is its bare name).
RATIO_SUFFIX = ": vs reference"
PEAK_SUFFIX = ": % of matmul peak"
#: The trainer's steps per call of its compiled training step.
STEPS_PER_CALL = STEPS_PER_EXECUTION
#: Epochs of a candidate's timed ``fit`` (its batches split between them).
TIMED_EPOCHS = 2
#: Environment variable that carries a candidate, as JSON, to its training processes.
CANDIDATE_VARIABLE = "AUDIOFUSE_BENCH_CANDIDATE"
#: Thread variables of TensorFlow (and its OpenMP): set by ``threads``, else removed.
THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")

_CANDIDATE_CHILD = (
    "import sys; from audiofuse.benchmark.candidates import candidate_worker; "
    "candidate_worker(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))"
)


@dataclass(frozen=True)
class Candidate:
    """One way to train: backend, threads, compilation, batch, data path and processes.

    Attributes
    ----------
    name : str
        Its row name in the report.
    backend : {"tensorflow", "jax"}
        ``KERAS_BACKEND`` of its processes.
    threads : int or None
        Threads per process; None: the backend's default (all cores).
    jit_compile : bool or "auto"
        Passed to ``model.compile`` ("auto": XLA off with TensorFlow on a
        CPU, on with JAX). The child fails if Keras refuses True.
    batch_size : int or None
        None: the profile's (32 for ``cpu``).
    in_memory : bool
        Fit on float32 NumPy arrays made once, instead of the trainer's
        ``FeatureBatches`` (per-batch float16 -> float32 copies).
    runs : int
        Training processes at once (samples/s is their total).
    deterministic : bool
        The trainer's ``set_seed`` (TensorFlow op determinism on, with which
        Keras refuses ``jit_compile=True``); False: only seeded.
    steps_per_execution : int
        Batches per call of the compiled training step (``model.compile``).
    autotune : bool
        Let Keras read the PyDataset through tf.data with its autotuner on (the
        old path); False: through :func:`audiofuse.batches.fit_input`, as the
        trainer does. Only TensorFlow reads through tf.data.
    onednn : bool or None
        TensorFlow's oneDNN kernels on or off; None: TensorFlow's own default
        on this CPU (the old path; on only with AVX512-VNNI, AVX512-BF16,
        AVX-VNNI or AMX). ``import audiofuse`` now turns them on.
    dropout : float or None
        None: the profile's dropout rates; a number replaces every one of
        them, the ViT's and the head's (a recipe change: ``0.0`` measures what
        the dropout layers cost, whose random masks are per-step work that no
        matmul counts).
    """

    name: str
    backend: str = "tensorflow"
    threads: int | None = None
    jit_compile: bool | str = "auto"
    batch_size: int | None = None
    in_memory: bool = False
    runs: int = 1
    deterministic: bool = True
    steps_per_execution: int = 1
    autotune: bool = True
    onednn: bool | None = None
    dropout: float | None = None

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Candidate:
        return cls(**json.loads(text))


#: The trainer's own path today (:func:`audiofuse.training.train_model`).
TRAINER_NOW = Candidate(
    f"trainer now: {STEPS_PER_CALL} steps per call, tf.data autotuner off, oneDNN on",
    steps_per_execution=STEPS_PER_CALL,
    autotune=False,
    onednn=True,
)
#: What ``train-runs`` does now: two such runs at once, single-threaded (the headline's).
TRAIN_RUNS_NOW = Candidate(
    f"{STEPS_PER_CALL} steps per call, autotuner off, oneDNN on, 2 single-threaded runs"
    " at once (train-runs now)",
    threads=1,
    runs=2,
    steps_per_execution=STEPS_PER_CALL,
    autotune=False,
    onednn=True,
)
#: The reference (the trainer's path before it ran several steps per call) first,
#: then one change (or two) each; the last rows combine the changes that keep the
#: recipe (:data:`TRAINER_NOW`, then ``train-runs``' two single-threaded runs).
CANDIDATES: tuple[Candidate, ...] = (
    Candidate("old trainer: TensorFlow, all cores, batch 32, 1 step per call"),
    Candidate("TensorFlow, op determinism off", deterministic=False),
    # Keras refuses jit_compile=True while op determinism is on
    Candidate(
        "TensorFlow jit_compile=True (determinism off)", jit_compile=True, deterministic=False
    ),
    Candidate("JAX (XLA)", backend="jax", jit_compile=True),
    Candidate("batch 64", batch_size=64),
    Candidate("batch 128", batch_size=128),
    Candidate("in-memory float32 arrays", in_memory=True),
    Candidate("1 thread", threads=1),
    Candidate("2 single-threaded runs at once", threads=1, runs=2),
    Candidate("tf.data autotuner off (fit_input)", autotune=False),
    Candidate("oneDNN on", onednn=True),
    TRAINER_NOW,
    TRAIN_RUNS_NOW,
    # the same with JAX: the backend the issue allows as a training default if it wins
    # here (it did not: 180 samples/s against TensorFlow's 283, make bench at 27ec585)
    Candidate(
        f"JAX, {STEPS_PER_CALL} steps per call, 2 single-threaded runs at once",
        backend="jax",
        jit_compile=True,
        threads=1,
        runs=2,
        steps_per_execution=STEPS_PER_CALL,
    ),
    # ceilings, not defaults: train-runs' path with one recipe change each. A larger
    # batch; dropout off, which measures what the recipe's dropout costs (its masks)
    dataclasses.replace(
        TRAIN_RUNS_NOW,
        name=f"{STEPS_PER_CALL} steps per call, autotuner off, oneDNN on, batch 64,"
        " 2 single-threaded runs at once",
        batch_size=64,
    ),
    dataclasses.replace(
        TRAIN_RUNS_NOW,
        name=f"{STEPS_PER_CALL} steps per call, autotuner off, oneDNN on, dropout off,"
        " 2 single-threaded runs at once",
        dropout=0.0,
    ),
)


def profile_batch_size() -> int:
    """Batch size of :data:`CANDIDATE_PROFILE` (the trainer's)."""
    from .. import config as _config

    return _config.get_profile(CANDIDATE_PROFILE).train.batch_size


def timed_steps(candidate: Candidate, steps: int) -> int:
    """Timed batches for ``candidate``: ``steps`` at the profile's batch size, scaled so
    that every candidate times about as many samples per process."""
    batch = profile_batch_size()
    return max(1, round(steps * batch / (candidate.batch_size or batch)))


def candidate_env(candidate: Candidate) -> dict[str, str]:
    """The environment of ``candidate``'s training processes (see the module's docstring)."""
    env = python_env(
        {"KERAS_BACKEND": candidate.backend, CANDIDATE_VARIABLE: candidate.to_json()}
        | (onednn_env(candidate.onednn) if candidate.backend == "tensorflow" else {})
    )
    for name in THREAD_VARIABLES:  # None means the backend's default, not the caller's
        env.pop(name, None)
    if candidate.threads is not None and candidate.backend == "tensorflow":
        threads = str(candidate.threads)
        env |= {"TF_NUM_INTRAOP_THREADS": threads, "OMP_NUM_THREADS": threads}
        env["TF_NUM_INTEROP_THREADS"] = "1"
    return env


def _pin_cores(threads: int, run: int) -> None:
    """Restrict this process to ``threads`` cores, run ``run``'s share (JAX's only thread knob)."""
    cores = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cores[(run * threads + k) % len(cores)] for k in range(threads)})


def _fit_data(candidate: Candidate, profile, kind: str, rows: int, n_outputs: int) -> dict:
    """``fit`` keywords for ``rows`` random examples on the candidate's data path.

    The trainer's: its own :func:`audiofuse.training.training_batches` over a
    float16 FeatureSet (one window per record drawn per epoch, class weights),
    through :func:`audiofuse.batches.fit_input` unless ``candidate.autotune``.
    In memory: the same examples and weights as float32 arrays, shuffled by ``fit``.
    """
    import pandas as pd

    from ..batches import fit_input
    from ..features import FeatureSet
    from ..training import training_batches
    from .sections import random_inputs

    inputs = random_inputs(kind, profile.features, rows, seed=1)
    labels = np.random.default_rng(2).integers(0, 2, rows)
    meta = pd.DataFrame({"record": [f"r{i}" for i in range(rows)], "label": labels})
    features = FeatureSet(
        inputs["spectrogram"].astype(np.float16), inputs["waveform"].astype(np.float16), meta
    )
    batches = training_batches(features, kind, profile, 0, True, n_outputs)
    if not candidate.in_memory:
        x = batches if candidate.autotune else fit_input(batches)
        return {"x": x, "shuffle": False, "callbacks": [batches.epoch_callback()]}
    return {
        "x": features.inputs(kind),
        "y": labels.astype(np.float32),
        "sample_weight": batches.row_weights,
        "batch_size": batches.batch_size,
        "shuffle": True,
    }


def candidate_profile(candidate: Candidate, profile):
    """``profile`` as ``candidate`` trains it: its batch size and dropout rates."""
    profile = profile.replace(
        train=profile.train.replace(batch_size=candidate.batch_size or profile.train.batch_size)
    )
    if candidate.dropout is None:
        return profile
    rate = candidate.dropout
    return profile.replace(model=profile.model.replace(dropout=rate, head_dropout=rate))


def candidate_worker(profile_name: str, kind: str, warmup: int, steps: int) -> None:
    """Child body of a candidate (:data:`CANDIDATE_VARIABLE`), in a fresh interpreter.

    Builds ``kind`` of ``profile_name`` untrained at the candidate's batch size,
    seeds and compiles it as the trainer does (AdamW + binary cross-entropy,
    the candidate's ``jit_compile``), warms up with a ``fit`` of ``warmup``
    batches (tracing, compilation), prints ``READY``, waits for a line on
    stdin, then times one ``fit`` of :data:`TIMED_EPOCHS` epochs, ``steps``
    batches in all, up to the last epoch's end, and prints ``RESULT`` (see
    :func:`.sweep.train_worker`).

    Raises
    ------
    RuntimeError
        When the backend is not the candidate's, Keras refused
        ``jit_compile=True``, or TensorFlow was imported under JAX.
    """
    candidate = Candidate.from_json(os.environ[CANDIDATE_VARIABLE])
    if candidate.backend == "jax" and candidate.threads:
        _pin_cores(candidate.threads, int(os.environ.get(RUN_INDEX_VARIABLE, "0")))
    import keras

    from .. import config as _config
    from ..models import build_model
    from ..training import set_seed
    from .sections import compile_for_training

    if keras.backend.backend() != candidate.backend:
        raise RuntimeError(f"backend {keras.backend.backend()}, not {candidate.backend}")
    # seeding does not change the cost; keras.utils.set_random_seed (and so the trainer's
    # set_seed) imports TensorFlow whenever it is installed, so JAX runs are not seeded
    if candidate.backend == "tensorflow" and candidate.deterministic:
        set_seed(0)
    elif candidate.backend == "tensorflow":
        keras.utils.set_random_seed(0)
    profile = candidate_profile(candidate, _config.get_profile(profile_name))
    batch = profile.train.batch_size
    model = build_model(kind, profile.features, profile.model)
    compile_for_training(
        model,
        profile,
        jit_compile=candidate.jit_compile,
        steps_per_execution=candidate.steps_per_execution,
    )
    if candidate.jit_compile is True and not model.jit_compile:
        raise RuntimeError("Keras refused jit_compile=True (TensorFlow op determinism is on)")
    per_epoch = max(1, steps // TIMED_EPOCHS)
    data = _fit_data(candidate, profile, kind, per_epoch * batch, len(model.outputs))
    model.fit(**data, steps_per_epoch=warmup, verbose=0)

    def timed_fit() -> float:
        # Up to the last epoch's end, not fit's: as fit returns, it deletes the last
        # epoch's iterator, which with the autotuner on can wait seconds (see
        # audiofuse.batches.fit_input); once per training run, not training throughput.
        # The epochs' boundary, where the same wait falls inside training, is timed.
        ended = []
        stamp = keras.callbacks.LambdaCallback(on_epoch_end=lambda *_: ended.append(time.time()))
        model.fit(
            **data | {"callbacks": [*data.get("callbacks", []), stamp]},
            epochs=TIMED_EPOCHS,
            verbose=0,
        )
        if candidate.backend != "tensorflow" and "tensorflow" in sys.modules:
            raise RuntimeError(f"TensorFlow was imported under {candidate.backend}")
        return ended[-1]

    time_on_go(timed_fit, batch * per_epoch * TIMED_EPOCHS)


def candidate_samples_per_s(candidate: Candidate, steps: int) -> float:
    """Training samples/s of ``candidate`` (all its processes), ``steps`` scaled by
    :func:`timed_steps`, 2 warm-up batches each."""
    return concurrent_training(
        candidate.runs,
        candidate_env(candidate),
        timed_steps(candidate, steps),
        worker=_CANDIDATE_CHILD,
    )


def candidate_rows(
    rates: dict[str, float], reference: str, peak_gflops: float | None, flops: float | None
) -> list[dict]:
    """Rows of the measured candidates: samples/s, ratio to ``reference``, % of peak.

    ``rates`` maps a candidate's name to its samples/s; the ratio rows need
    the reference's rate, the peak rows ``peak_gflops`` and the model's
    forward ``flops`` per sample (training counts 3x forward).
    """
    rows, profile, data = [], CANDIDATE_PROFILE, "random inputs"
    base = rates.get(reference)
    for name, rate in rates.items():
        rows.append(result_row(CANDIDATE_SECTION, name, profile, rate, "samples/s", data))
        if base:
            rows.append(
                result_row(CANDIDATE_SECTION, name + RATIO_SUFFIX, profile, rate / base, "x", data)
            )
        if peak_gflops and flops:
            percent = 100.0 * 3.0 * flops / 1e9 * rate / peak_gflops
            rows.append(
                result_row(CANDIDATE_SECTION, name + PEAK_SUFFIX, profile, percent, "%", data)
            )
    return rows


def _one_line(error: Exception) -> str:
    """The last non-empty line of ``error`` (a child's traceback ends with its cause)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


def bench_candidates(
    settings: BenchSettings,
    models: dict,
    peak_gflops: float | None,
    candidates: Sequence[Candidate] = CANDIDATES,
    *,
    measure: Callable[[Candidate, int], float] = candidate_samples_per_s,
) -> list[dict]:
    """The ``training candidates`` section; the first candidate is the reference.

    ``models`` holds :func:`.sections.bench_models`' results (the forward FLOPs
    of the ``cpu`` fusion), ``peak_gflops`` the matmul peak of
    :func:`.sections.bench_peak`. Skipped when ``settings.candidate_steps`` is 0
    (quick runs). ``measure(candidate, steps)`` gives a candidate's samples/s;
    one that raises is logged and left out.
    """
    if not settings.candidate_steps:
        log("training candidates: skipped in quick runs")
        return []
    rates = {}
    for candidate in candidates:
        log(f"training candidates: {candidate.name}")
        try:
            rates[candidate.name] = measure(candidate, settings.candidate_steps)
        except Exception as error:  # one failed candidate must not stop the benchmark
            log(f"training candidates: {candidate.name}: failed, no rows: {_one_line(error)}")
    flops = models.get((CANDIDATE_PROFILE, CANDIDATE_KIND), {}).get("flops")
    return candidate_rows(rates, candidates[0].name, peak_gflops, flops)
