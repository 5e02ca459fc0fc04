"""The ``inference`` and ``memory`` rows: ``audiofuse predict`` on one core.

Every measurement runs the default model (what ``audiofuse predict`` uses
without ``--model``) in a fresh interpreter pinned to one core with one
thread per library, on the first sampled recording tiled to each length and
written as a 16-bit WAV at its own rate:

- cold: ``audiofuse predict`` from start to answer, one recording, and many
  in one call (recordings/s, its start-up included);
- warm: :meth:`audiofuse.predict.predictor.Predictor.predict_file` once the model is
  loaded and warmed up (``python -m audiofuse.benchmark warm-predict``,
  :func:`warm_worker`);
- memory: the peak resident memory (``VmHWM``) of ``audiofuse predict`` on
  recordings of growing length.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from .harness import BenchSettings, last_json, log, median_seconds, result_row, run_python

#: Goals: a cold answer within 2 s, a warm 5 s recording within 50 ms, 10 warm (and 5
#: cold) 30 s recordings a second on one core, and 600 MB of memory at any length.
COLD_LATENCY_GOAL = "< 2"
COLD_THROUGHPUT_GOAL = ">= 5"
WARM_LATENCY_GOAL = "< 50"
WARM_THROUGHPUT_GOAL = ">= 10"
MEMORY_GOAL = f"< {600e6 / 2**20:.0f}"

# `audiofuse predict ARGS`, then this process's own peak memory on stderr. Not
# ru_maxrss: after exec it may also count the parent's peak.
_PREDICT_CHILD = """
import resource, sys
from audiofuse.cli.main import main
code = main(sys.argv[1:])
try:
    peak = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024
except (OSError, IndexError):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"PEAK_MIB {peak:.1f}", file=sys.stderr)
raise SystemExit(code)
"""


def write_recording(samples: np.ndarray, rate: int, seconds: float, path: Path) -> Path:
    """``samples`` tiled or cut to ``seconds``, written to ``path`` as a 16-bit WAV."""
    import soundfile as sf

    clip = np.resize(samples, int(seconds * rate))
    peak = float(np.max(np.abs(clip))) or 1.0
    sf.write(path, 0.9 * clip / peak, rate, subtype="PCM_16")
    return path


def _predict(files: list[Path]) -> tuple[float, float]:
    """``(wall seconds, peak MiB)`` of one pinned fresh ``audiofuse predict FILES`` call."""
    args = ["-c", _PREDICT_CHILD, "predict", *map(str, files), "--format", "json"]
    seconds, stdout, stderr = run_python(args, one_core=True)
    answers = json.loads(stdout)
    if len(answers) != len(files):
        raise RuntimeError(f"audiofuse predict answered {len(answers)} of {len(files)} files")
    peak = next(line for line in stderr.splitlines() if line.startswith("PEAK_MIB"))
    return seconds, float(peak.split()[1])


def warm_worker(model: str, short: str, long: str, repeats: int) -> dict:
    """Warm latency (ms, the ``short`` file) and throughput (files/s, the ``long`` one).

    The model is loaded and each file scored once before anything is timed.
    """
    from ..predict.predictor import Predictor

    predictor = Predictor.load(model)
    for path in (short, long):
        predictor.predict_file(path)
    latency = median_seconds(lambda: predictor.predict_file(short), repeats)
    t0 = time.perf_counter()
    for _ in range(repeats):
        predictor.predict_file(long)
    return {"latency_ms": 1e3 * latency, "per_s": repeats / (time.perf_counter() - t0)}


def bench_inference(sample, settings: BenchSettings, data: str) -> list[dict]:
    """The cold and warm ``inference`` rows and the ``memory`` rows."""
    from audiofuse.data.audio import read_audio

    from ..predict.resources import default_model

    model = default_model()
    profile = json.loads((model / "config.json").read_text())["profile"]["name"]
    samples, rate = read_audio(sample["path"].iloc[0])
    one = "1 core"
    rows = []
    with tempfile.TemporaryDirectory(prefix="audiofuse-bench-") as tmp:
        short = write_recording(samples, rate, 5.0, Path(tmp) / "recording5s.wav")
        long = write_recording(samples, rate, 30.0, Path(tmp) / "recording30s.wav")
        log(f"inference: cold audiofuse predict, one 30 s recording x {settings.cold_repeats}")
        if settings.cold_repeats > 1:
            _predict([long])  # fills the page cache with the libraries
        cold = statistics.median(_predict([long])[0] for _ in range(settings.cold_repeats))
        n = settings.throughput_files
        log(f"inference: cold audiofuse predict, {n} recordings of 30 s in one call")
        many = _predict([long] * n)[0]
        log(f"inference: warm Predictor.predict_file x {settings.warm_repeats}")
        args = ["-m", "audiofuse.benchmark", "warm-predict", "--model", str(model),
                "--short", str(short), "--long", str(long), "--repeats", str(settings.warm_repeats)]  # fmt: skip
        warm = last_json(run_python(args, one_core=True)[1])
        rows += [
            result_row("inference", f"cold: one 30 s recording, start to answer, {one}", profile,
                       cold, "s", data, COLD_LATENCY_GOAL),
            result_row("inference", f"cold: {n} recordings of 30 s in one call, {one}", profile,
                       n / many, "recordings/s", data, COLD_THROUGHPUT_GOAL),
            result_row("inference", f"warm: one 5 s recording, {one} (median)", profile,
                       warm["latency_ms"], "ms", data, WARM_LATENCY_GOAL),
            result_row("inference", f"warm: 30 s recordings, {one}", profile, warm["per_s"],
                       "recordings/s", data, WARM_THROUGHPUT_GOAL),
        ]  # fmt: skip
        for seconds in settings.memory_lengths_s:
            log(f"memory: audiofuse predict, one {_length(seconds)} recording")
            path = write_recording(samples, rate, seconds, Path(tmp) / f"recording{seconds:g}.wav")
            peak = _predict([path])[1]
            path.unlink()
            rows.append(result_row("memory", f"audiofuse predict peak RSS, {_length(seconds)} "
                                   "recording", profile, peak, "MiB", data, MEMORY_GOAL))  # fmt: skip
    return rows


def _length(seconds: float) -> str:
    """``30 s``, ``10 min``, ``2 h``."""
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"
