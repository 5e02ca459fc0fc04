"""What every measurement of the benchmark shares: settings, rows, timing and processes.

A row is one measured number with its goal (:func:`result_row`). Measurements
that must not inherit this process's imports, threads or memory run in a fresh
interpreter (:func:`run_python`), optionally pinned to one core; this process
itself never imports TensorFlow.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from audiofuse import paths
from audiofuse.reporting.provenance import git_commit

#: Thread variables set to 1 in a process pinned to one core.
ONE_THREAD = {
    name: "1"
    for name in (
        "TF_NUM_INTRAOP_THREADS",
        "TF_NUM_INTEROP_THREADS",
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
    )
}


@dataclass(frozen=True)
class BenchSettings:
    """How much one run measures (:func:`settings_for` gives the two variants).

    Attributes
    ----------
    quick : bool
        The test variant: synthetic data, the ``smoke`` profile, small sizes.
    feature_records : int
        Recordings timed through this project's extractor and the original
        recipe without its wavelet transform.
    original_records : int
        Recordings timed through the whole original recipe (its CWT is slow).
    feature_profiles : tuple of str
        Profiles whose extractor is compared with the original recipe.
    train_profile : str
        Profile whose fusion model is trained.
    train_records : int
        Random examples per training process (the validation carve-out included).
    train_epochs : int
        Epochs per training process; the first (tracing) is not timed.
    train_processes : tuple of int
        Training processes at once for each training row (``train-runs --workers``).
    matmul_size : int
        Side of the square float32 matmul that measures the peak.
    cold_repeats : int
        Fresh ``audiofuse predict`` processes timed (the median counts); above 1,
        one untimed run first fills the page cache.
    throughput_files : int
        Recordings scored by one cold ``audiofuse predict`` call.
    warm_repeats : int
        Timed calls in the warm inference process.
    memory_lengths_s : tuple of float
        Recording lengths whose ``audiofuse predict`` peak memory is measured.
    """

    quick: bool = False
    feature_records: int = 80
    original_records: int = 5
    feature_profiles: tuple[str, ...] = ("cpu", "paper")
    train_profile: str = "cpu"
    train_records: int = 1500
    train_epochs: int = 3
    train_processes: tuple[int, ...] = (1, 2)
    matmul_size: int = 2048
    cold_repeats: int = 3
    throughput_files: int = 20
    warm_repeats: int = 20
    memory_lengths_s: tuple[float, ...] = (30.0, 600.0, 7200.0)


def settings_for(quick: bool) -> BenchSettings:
    """The full settings, or the quick ones (the test suite's variant)."""
    if not quick:
        return BenchSettings()
    return BenchSettings(
        quick=True,
        feature_records=6,
        original_records=1,
        feature_profiles=("smoke",),
        train_profile="smoke",
        train_records=200,
        train_epochs=2,
        train_processes=(1,),
        matmul_size=1024,
        cold_repeats=1,
        throughput_files=4,
        warm_repeats=3,
        memory_lengths_s=(30.0, 300.0),
    )


# --------------------------------------------------------------------------------------
# Rows and goals
# --------------------------------------------------------------------------------------


def result_row(
    section: str,
    name: str,
    profile: str,
    value: float | None,
    unit: str,
    data: str,
    goal: str = "",
) -> dict:
    """One long-format result row; ``goal`` is ``">= 10"``, ``"< 50"`` or ``""`` (none).

    A ``value`` of None means "not measured" (the row stays, its value empty).
    """
    return {
        "section": section,
        "name": name,
        "profile": profile,
        "value": np.nan if value is None else float(value),
        "unit": unit,
        "goal": goal,
        "data": data,
    }


def verdict(value: float | None, goal: str) -> str:
    """``PASS``/``FAIL`` of ``value`` against ``goal`` (``">= x"``, ``"< x"``), else ``""``."""
    if not goal or value is None or pd.isna(value):
        return ""
    sign, bound = goal.split()
    ok = value >= float(bound) if sign == ">=" else value < float(bound)
    return "PASS" if ok else "FAIL"


# --------------------------------------------------------------------------------------
# Machine, timing and processes
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


def median_seconds(call: Callable[[], object], repeats: int) -> float:
    """Median wall time, in seconds, of ``repeats`` calls (warm up before calling)."""
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


_T0 = time.perf_counter()


def log(message: str) -> None:
    """Progress line on stderr, with the seconds since the module was imported."""
    print(f"bench [{time.perf_counter() - _T0:6.1f} s]: {message}", file=sys.stderr, flush=True)


def python_env(extra: dict | None = None) -> dict[str, str]:
    """This environment with this ``audiofuse`` first on ``PYTHONPATH``, TensorFlow quiet.

    A checkout run with ``PYTHONPATH=src`` must start its own source in the
    child, not another installed copy.
    """
    package_parent = str(Path(__file__).resolve().parents[2])
    paths = [package_parent, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(dict.fromkeys(paths)))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.setdefault("KERAS_BACKEND", "tensorflow")
    return env | (extra or {})


def _pin_to_first_core() -> None:
    """``preexec_fn`` of a one-core child: run on the first core this process may use."""
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def start_python(args: list[str], *, env: dict | None = None, one_core: bool = False):
    """Start ``python *args`` in a fresh interpreter (this one's executable).

    ``one_core`` pins it to one core with one thread per library (Linux; the
    thread variables alone elsewhere). Returns the :class:`subprocess.Popen`,
    whose stdout and stderr are pipes of text.
    """
    pin = one_core and hasattr(os, "sched_setaffinity")
    return subprocess.Popen(
        [sys.executable, *args],
        env=python_env((ONE_THREAD if one_core else {}) | (env or {})),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_pin_to_first_core if pin else None,
    )


def finish_python(proc, args: list[str], timeout: float = 900) -> tuple[str, str]:
    """Wait for a :func:`start_python` child; ``(stdout, stderr)``.

    Raises
    ------
    RuntimeError
        With the end of its stderr when it exits non-zero or runs past ``timeout``.
    """
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
        raise RuntimeError(f"python {' '.join(args)[:200]} ran past {timeout:g} s") from None
    if proc.returncode != 0:
        raise RuntimeError(f"python {' '.join(args)[:200]} failed:\n{stderr[-3000:]}")
    return stdout, stderr


def run_python(args: list[str], *, env: dict | None = None, one_core: bool = False) -> tuple:
    """Run ``python *args`` fresh (see :func:`start_python`); ``(seconds, stdout, stderr)``."""
    t0 = time.perf_counter()
    stdout, stderr = finish_python(start_python(args, env=env, one_core=one_core), args)
    return time.perf_counter() - t0, stdout, stderr


def last_json(stdout: str) -> dict:
    """The JSON object on the last line of a child's stdout."""
    return json.loads(stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------


def load_sample(
    data_dir: str | os.PathLike | None,
    n: int,
    *,
    quick: bool = False,
    seed: int = 0,
    synthetic_dir: str | os.PathLike | None = None,
) -> tuple[pd.DataFrame, str]:
    """A reproducible random sample of ``n`` recordings and its data label.

    Real PhysioNet 2016 from ``data_dir/physionet2016`` unless ``quick`` or the
    folder is missing; then the synthetic set, written once under
    ``synthetic_dir`` (default :func:`audiofuse.config.synthetic_dir`, never
    the data folder, which may be read-only) and labelled ``"SYNTHETIC"``.
    """
    from audiofuse.data.indexes import index_physionet

    root = Path(data_dir).expanduser() / "physionet2016" if data_dir else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if quick or root is None or not root.is_dir():
            if not quick:
                print(f"bench: no real data at {root}; using SYNTHETIC recordings", file=sys.stderr)
            from audiofuse.data.synthetic import make_synthetic_datasets

            roots = make_synthetic_datasets(paths.synthetic_dir(synthetic_dir), size="smoke")
            table, label = index_physionet(roots["physionet2016"]), "SYNTHETIC"
        else:
            table, label = index_physionet(root), "real"
    sample = table.sample(n=min(n, len(table)), random_state=seed).reset_index(drop=True)
    for path in sample["path"]:  # page cache: no measurement pays for the first disk read
        Path(path).read_bytes()
    return sample, label
