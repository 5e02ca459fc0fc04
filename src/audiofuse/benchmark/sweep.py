"""Sweep training throughput, old path against new: one run at a time, or two at once.

The fourth comparison of :mod:`.comparisons` (the others are in :mod:`.paths`).
``audiofuse train-runs --workers 2`` trains two runs at once, each in its own
process with half the cores (:func:`audiofuse.experiments.scheduler.worker_threads`);
before, runs were trained one at a time with TensorFlow's default threads. The
new path also has oneDNN on (``import audiofuse`` sets it); the old one keeps
TensorFlow's own default for this CPU (:func:`.paths.onednn_env`). Both sides are measured as fresh training processes (:func:`train_worker`),
because TensorFlow reads its thread settings once, when it starts.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from .paths import onednn_env, python_env

if TYPE_CHECKING:
    from .comparisons import BenchInputs

#: Name of the comparison (rows ``<name>: old path``, ``: new path``, ``: new vs old``).
SWEEP_TRAINING = "sweep training, fusion, 2 runs"
#: The profile of the sweeps trained on the project's 2-core machine.
SWEEP_PROFILE = "cpu"
#: Runs at once on the new path (``train-runs --workers 2``).
SWEEP_RUNS = 2
#: Environment variable that tells each process of :func:`concurrent_training` its index.
RUN_INDEX_VARIABLE = "AUDIOFUSE_BENCH_RUN"

_TRAIN_CHILD = (
    "import sys; from audiofuse.benchmark.sweep import train_worker; "
    "train_worker(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))"
)


def train_worker(profile_name: str, kind: str, warmup: int, steps: int) -> None:
    """Child body of the sweep comparison, in a fresh interpreter: train in step with the others.

    Builds ``kind`` of ``profile_name`` untrained, compiles it as the trainer
    does, runs ``warmup`` steps (graph tracing), prints ``READY``, waits for a
    line on stdin, then runs ``steps`` ``train_on_batch`` steps of the
    profile's batch size on random inputs and prints ``RESULT`` with their
    ``start`` and ``end`` (epoch seconds) and ``samples`` as JSON. TensorFlow's
    threads come from the environment (``TF_NUM_INTRAOP_THREADS``, ...).
    """
    from .harness import import_tensorflow
    from .sections import build_untrained, compile_for_training, random_inputs

    import_tensorflow()
    profile, model = build_untrained(profile_name, kind)
    compile_for_training(model, profile)
    batch = profile.train.batch_size
    inputs = random_inputs(kind, profile.features, batch, seed=1)
    labels = np.random.default_rng(2).integers(0, 2, (batch, 1)).astype(np.float32)
    for _ in range(warmup):
        model.train_on_batch(inputs, labels)
    time_on_go(lambda: [model.train_on_batch(inputs, labels) for _ in range(steps)], batch * steps)


def time_on_go(call: Callable[[], object], samples: int) -> None:
    """A training child's side of :func:`concurrent_training`: ready, wait, time, report.

    Prints ``READY``, waits for a line on stdin, runs ``call`` and prints
    ``RESULT`` with its ``start`` and ``end`` (epoch seconds) and ``samples``
    as JSON. A ``call`` that returns a float gives its own ``end`` (the last
    sample trained, before any teardown).
    """
    print("READY", flush=True)
    sys.stdin.readline()
    start = time.time()
    ended = call()
    end = ended if isinstance(ended, float) else time.time()
    print("RESULT " + json.dumps({"start": start, "end": end, "samples": samples}), flush=True)


def _expect(proc: subprocess.Popen, stderr, prefix: str) -> str:
    """The rest of ``proc``'s first stdout line starting with ``prefix``."""
    for line in proc.stdout:
        if line.startswith(prefix):
            return line[len(prefix) :].strip()
    proc.wait()
    stderr.seek(0)
    raise RuntimeError(f"training worker exited ({proc.returncode}):\n{stderr.read()[-3000:]}")


def _stop(proc: subprocess.Popen) -> None:
    """Kill ``proc`` if it still runs (a failed comparison leaves no worker behind)."""
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def concurrent_training(
    runs: int, env: dict, steps: int, *, warmup: int = 2, worker: str = _TRAIN_CHILD
) -> float:
    """Samples/s of ``runs`` training processes together, timed over the same span.

    Each is a fresh interpreter running :func:`train_worker` on the sweep's
    profile (fusion) with ``env``; all start their timed steps at once, once
    every one has built, compiled and warmed up its model. ``worker`` is the
    child's ``python -c`` code (its argv: profile, kind, warm-up and timed
    steps; see :func:`train_worker` for what it must print); process ``i``
    also gets ``i`` in :data:`RUN_INDEX_VARIABLE`.

    Returns
    -------
    float
        Samples of all processes over the span from the first start to the last end.
    """
    argv = [SWEEP_PROFILE, "fusion", str(warmup), str(steps)]
    with contextlib.ExitStack() as stack:
        workers = []
        for run in range(runs):
            stderr = stack.enter_context(tempfile.TemporaryFile("w+"))
            proc = subprocess.Popen(
                [sys.executable, "-c", worker, *argv],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=env | {RUN_INDEX_VARIABLE: str(run)},
                text=True,
            )
            stack.callback(_stop, proc)
            workers.append((proc, stderr))
        for proc, stderr in workers:
            _expect(proc, stderr, "READY")
        for proc, _ in workers:
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = [json.loads(_expect(proc, stderr, "RESULT")) for proc, stderr in workers]
    span = max(r["end"] for r in results) - min(r["start"] for r in results)
    return sum(r["samples"] for r in results) / span


def sweep_training_old(inputs: BenchInputs) -> float:
    """One sweep run at a time: one training process with TensorFlow's default threads
    and its own oneDNN default.

    What ``audiofuse train-runs`` (``--workers 1``) does: it sets no thread
    variable, so TensorFlow uses as many threads as there are cores (2 on the
    2-core machine of the project). Measured as :func:`concurrent_training`
    with one process: ``cpu`` fusion, the profile's batch size, random inputs,
    ``settings.sweep_steps`` timed ``train_on_batch`` steps after 2 warm-up
    steps; data loading is not included.

    Returns
    -------
    float
        Training samples/s.
    """
    return concurrent_training(1, python_env(onednn_env(None)), inputs.settings.sweep_steps)


def sweep_training_new(inputs: BenchInputs) -> float:
    """Two sweep runs at once, each single-threaded: ``train-runs --workers 2``.

    Two training processes with the thread settings of
    :func:`audiofuse.experiments.scheduler.worker_threads` (the cores split
    evenly, one inter-op thread) and oneDNN on, timed over the same span, otherwise as in
    :func:`sweep_training_old`.

    Returns
    -------
    float
        Training samples/s of both processes together.
    """
    from ..experiments.scheduler import worker_threads

    env = python_env(worker_threads(SWEEP_RUNS) | onednn_env(True))
    return concurrent_training(SWEEP_RUNS, env, inputs.settings.sweep_steps)
