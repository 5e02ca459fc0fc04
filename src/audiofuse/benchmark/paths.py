"""Old path against new path for ``predict`` and ``data index``: the measuring functions.

Each public ``*_old`` / ``*_new`` function is one side of a
:class:`.comparisons.Comparison`: ``f(inputs: BenchInputs) -> float``, run in
its own forked child by :func:`.comparisons.bench_comparisons`. What a user
starts is a fresh interpreter, so every side times or watches one
(:func:`run_python`) rather than the forked child itself: the bench process
has imported TensorFlow by then, and a forked child carries its ~0.4 GB.

1. ``predict`` one 30 s recording, cold start to answer (s):
   :func:`predict_cold_start_new` / :func:`predict_cold_start_old`;
2. ``data index`` cold start (s):
   :func:`index_cold_start_new` / :func:`index_cold_start_old`;
3. ``predict`` peak memory on a long recording (MiB):
   :func:`predict_peak_new` / :func:`predict_peak_old`.

The fourth, sweep training throughput, is in :mod:`.sweep`. The names of the
comparisons are constants so that the report's headline (:mod:`.report`) can
find their rows. :func:`python_env` and :func:`run_python` start the fresh
interpreters.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .. import ONEDNN_VARIABLE
from .harness import synthetic_recording

if TYPE_CHECKING:
    from .comparisons import BenchInputs

#: Names of the comparisons (rows ``<name>: old path``, ``: new path``, ``: new vs old``).
PREDICT_COLD_START = "predict, one 30 s recording, cold start to answer"
INDEX_COLD_START = "data index physionet2016, cold start to answer"
PREDICT_PEAK = "predict_samples peak memory, 2 h recording"
PREDICT_PEAK_QUICK = "predict_samples peak memory, 20 min recording"


# --------------------------------------------------------------------------------------
# Fresh interpreters
# --------------------------------------------------------------------------------------


def python_env(extra: dict | None = None) -> dict[str, str]:
    """This environment, with this ``audiofuse`` first on ``PYTHONPATH`` and TensorFlow quiet.

    A checkout or worktree run with ``PYTHONPATH=src`` must start its own
    source in the child, not another installed copy.
    """
    package_parent = str(Path(__file__).resolve().parents[2])
    paths = [package_parent, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(dict.fromkeys(paths)))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.setdefault("KERAS_BACKEND", "tensorflow")
    return env | (extra or {})


@functools.cache
def tensorflow_onednn_default() -> bool:
    """Whether TensorFlow turns oneDNN on by itself on this CPU (the old path's setting).

    ``import audiofuse`` sets ``TF_ENABLE_ONEDNN_OPTS=1`` unless it is given
    (see ``audiofuse/__init__.py``); TensorFlow's own default depends on the
    CPU's features. Asked of a fresh interpreter that imports TensorFlow
    without the variable and without ``audiofuse``.
    """
    env = {k: v for k, v in python_env().items() if k != ONEDNN_VARIABLE}
    code = (
        "from tensorflow.python.util import _pywrap_util_port as p; "
        "print(int(p.IsMklEnabled()))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.strip().splitlines()[-1] == "1"


def onednn_env(on: bool | None) -> dict[str, str]:
    """``TF_ENABLE_ONEDNN_OPTS`` for a child: on, off, or None for TensorFlow's own
    default on this CPU (:func:`tensorflow_onednn_default`, the path before the
    project set it)."""
    if on is None:
        on = tensorflow_onednn_default()
    return {ONEDNN_VARIABLE: "1" if on else "0"}


def run_python(args: list[str], *, env: dict | None = None, timeout: float = 600) -> tuple:
    """Run ``python *args`` in a fresh interpreter (this one's executable).

    Returns
    -------
    seconds : float
        Wall time from start to exit.
    stdout : str

    Raises
    ------
    RuntimeError
        With the end of its stderr when it exits non-zero.
    """
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, *args],
        env=env or python_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"python {' '.join(args)[:200]} failed:\n{proc.stderr[-3000:]}")
    return seconds, proc.stdout


def cold_start_seconds(args: list[str], repeats: int, *, check=None) -> float:
    """Median wall time of ``repeats`` fresh ``python *args``, start to exit.

    With more than one repeat, one untimed run first fills the page cache,
    so that no path pays for the first read of its libraries from disk.
    ``check(stdout)`` may raise when the answer is wrong.
    """
    if repeats > 1:
        run_python(args)
    times = []
    for _ in range(max(1, repeats)):
        seconds, stdout = run_python(args)
        if check is not None:
            check(stdout)
        times.append(seconds)
    return statistics.median(times)


def source_recording(inputs: BenchInputs, sample_rate: int | None = None) -> tuple:
    """``(samples, rate)`` of the first sampled recording (real or synthetic).

    At its own rate, or resampled to ``sample_rate``; a synthesized one when
    the sample is empty.
    """
    from ..data import load_audio, read_audio

    if len(inputs.sample):
        path = inputs.sample["path"].iloc[0]
        if sample_rate is None:
            return read_audio(path)
        return load_audio(path, sample_rate), sample_rate
    rate = sample_rate or 2000
    return synthetic_recording(30.0, rate), rate


# --------------------------------------------------------------------------------------
# 1. predict, cold start
# --------------------------------------------------------------------------------------


def _predict_seconds(inputs: BenchInputs, model: Path | None) -> float:
    """Median cold start of ``audiofuse predict`` on a 30 s WAV made from the sample."""
    import soundfile as sf

    samples, rate = source_recording(inputs)
    with tempfile.TemporaryDirectory(prefix="audiofuse-bench-") as tmp:
        wav = Path(tmp) / "recording30.wav"
        sf.write(wav, np.resize(samples, int(30 * rate)), rate, subtype="FLOAT")
        args = ["-m", "audiofuse.cli", "predict", str(wav), "--format", "json"]
        args += ["--model", str(model)] if model else []

        def check(stdout: str) -> None:
            (result,) = json.loads(stdout)
            if abs(result["duration_s"] - 30.0) > 0.1:
                raise RuntimeError(f"predict read {result['duration_s']} s, not 30 s")

        return cold_start_seconds(args, inputs.settings.cold_start_repeats, check=check)


def predict_cold_start_new(inputs: BenchInputs) -> float:
    """``audiofuse predict FILE --format json`` with the default model: start to answer.

    The default model folder (``models/audiofuse-plus``) holds ``model.onnx``,
    so :meth:`audiofuse.predict.predictor.Predictor.load` runs it with onnxruntime and
    the process never imports TensorFlow or Keras. The recording is the first
    sampled one, tiled or cut to 30 s and written as a WAV.

    Returns
    -------
    float
        Median wall seconds of a fresh ``python -m audiofuse.cli`` process.
    """
    return _predict_seconds(inputs, None)


def predict_cold_start_old(inputs: BenchInputs) -> float:
    """The same command on the same model without its ONNX export: the Keras path.

    The default model folder is copied without ``model.onnx``, so
    ``Predictor.load(runtime="auto")`` falls back to ``best.keras``, which
    imports TensorFlow and Keras and loads the model with them: what every
    ``predict`` did before the ONNX export. Everything else (the file, the
    command, the answer) is the same.

    Returns
    -------
    float
        Median wall seconds of a fresh ``python -m audiofuse.cli`` process.
    """
    from audiofuse.predict.resources import default_model

    with tempfile.TemporaryDirectory(prefix="audiofuse-bench-model-") as tmp:
        keras_only = Path(tmp) / default_model().name
        shutil.copytree(default_model(), keras_only, ignore=shutil.ignore_patterns("model.onnx"))
        return _predict_seconds(inputs, keras_only)


# --------------------------------------------------------------------------------------
# 2. data index, cold start
# --------------------------------------------------------------------------------------


def _index_argv(inputs: BenchInputs) -> list[str]:
    """``data index physionet2016 ROOT``, ROOT holding the sampled recordings."""
    if not len(inputs.sample):
        raise ValueError("the data index comparison needs sampled recordings")
    root = Path(inputs.sample["path"].iloc[0]).parents[1]  # ROOT/training-x/record.flac
    return ["data", "index", "physionet2016", str(root)]


def index_cold_start_new(inputs: BenchInputs) -> float:
    """``audiofuse data index physionet2016 ROOT`` in a fresh interpreter: start to answer.

    ROOT is the PhysioNet 2016 folder of the run's sample (the real one, or
    the synthetic set). The command imports neither TensorFlow nor Keras.

    Returns
    -------
    float
        Median wall seconds of a fresh ``python -m audiofuse.cli`` process.
    """
    argv = _index_argv(inputs)
    return cold_start_seconds(["-m", "audiofuse.cli", *argv], inputs.settings.cold_start_repeats)


def index_cold_start_old(inputs: BenchInputs) -> float:
    """The same command in a fresh interpreter that imports TensorFlow and Keras first.

    That is what the command imported before lazy imports: ``audiofuse``'s
    ``main`` imported the training and evaluation modules (and with them
    TensorFlow and Keras) to catch their errors, whatever the command. It is
    re-created here, not the old code run.

    Returns
    -------
    float
        Median wall seconds of ``python -c "import tensorflow, keras; ... main(argv)"``.
    """
    code = (
        "import sys; import tensorflow, keras; from audiofuse.cli.main import main; "
        "raise SystemExit(main(sys.argv[1:]))"
    )
    args = ["-c", code, *_index_argv(inputs)]
    return cold_start_seconds(args, inputs.settings.cold_start_repeats)


# --------------------------------------------------------------------------------------
# 3. predict, peak memory on a long recording
# --------------------------------------------------------------------------------------

# argv: model folder, samples (.npy), windows per model call (0: predict.WINDOW_BATCH)
_PEAK_CHILD = """
import json, resource, sys
import numpy as np
from audiofuse.predict import predictor as predict
model, samples, window_batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
if window_batch:
    predict.WINDOW_BATCH = window_batch
result = predict.Predictor.load(model, runtime="onnx").predict_samples(np.load(samples))
try:  # this process's own peak: ru_maxrss after exec also counts the parent's
    status = open("/proc/self/status").read().split("VmHWM:")[1]
    peak = int(status.split()[0]) / 1024
except (OSError, IndexError):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"peak_mib": peak, "windows": result["windows"]}))
"""


def _predict_peak(inputs: BenchInputs, window_batch: int) -> float:
    """Peak RSS (MiB) of a fresh interpreter scoring the long recording with ONNX."""
    from audiofuse.predict.resources import default_model

    from ..config import Profile
    from ..reporting import read_json_object

    model = default_model()
    rate = Profile.from_dict(read_json_object(model / "config.json")["profile"]).features.sample_rate
    samples, _ = source_recording(inputs, rate)
    seconds = inputs.settings.predict_peak_seconds
    with tempfile.TemporaryDirectory(prefix="audiofuse-bench-") as tmp:
        path = Path(tmp) / "recording.npy"
        np.save(path, np.resize(samples, int(seconds * rate)).astype(np.float32))
        del samples
        _, stdout = run_python(["-c", _PEAK_CHILD, str(model), str(path), str(window_batch)])
    return round(json.loads(stdout.strip().splitlines()[-1])["peak_mib"], 1)


def predict_peak_new(inputs: BenchInputs) -> float:
    """Peak memory of ``Predictor.predict_samples`` on a long recording, as it is.

    A fresh interpreter loads the default model with onnxruntime and scores
    the first sampled recording, tiled to ``settings.predict_peak_seconds``
    (2 h; 20 min in quick runs) at the model's rate, in batches of
    ``WINDOW_BATCH`` windows (featurized and scored batch by batch).

    Returns
    -------
    float
        That interpreter's own peak RSS in MiB (``VmHWM``), interpreter,
        imports, model and the recording's samples included. Not
        ``ru_maxrss``: after ``exec`` it also counts the peak of the forked
        bench child that started it, which holds TensorFlow.
    """
    return _predict_peak(inputs, 0)


def predict_peak_old(inputs: BenchInputs) -> float:
    """The same with every window in one batch: what ``predict_samples`` did before.

    ``predict.WINDOW_BATCH`` is set past the number of windows in the child,
    so every window is featurized first and the model is called once, as
    before commit db3c803 (then through Keras; here through the same
    onnxruntime model, so only the batching differs).

    Returns
    -------
    float
        That interpreter's own peak RSS in MiB (``VmHWM``).
    """
    return _predict_peak(inputs, 10**9)

