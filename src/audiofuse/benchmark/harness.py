"""The benchmark's harness: settings, forked measurements, timing, rows and data.

Every measurement of :mod:`audiofuse.benchmark` runs through these helpers:
:func:`run_forked` gives each one its own process (and so its own peak RSS),
:func:`timed` / :func:`median_seconds` time it, and :func:`result_row` /
:func:`comparison_rows` turn its numbers into long-format result rows.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import platform
import resource
import statistics
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import config as _config
from ..reporting import git_commit

MODEL_KINDS = ("fusion", "spectrogram", "waveform")

#: Unit of the ratio row that :func:`comparison_rows` adds.
RATIO_UNIT = "x"


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
    cold_start_repeats : int
        Fresh processes timed per cold-start comparison (the median counts);
        above 1, one untimed run first fills the page cache.
    predict_peak_seconds : float
        Length of the recording whose ``predict`` peak memory is compared.
    sweep_steps : int
        Timed ``train_on_batch`` steps per process in the sweep comparison.
    candidate_steps : int
        Timed batches of the profile's size (32) per process and training
        candidate, scaled to each candidate's batch size so that all time
        about as many samples (40: ~5-10 s on 2 cores); 0 skips the section.
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
    cold_start_repeats: int = 3
    predict_peak_seconds: float = 7200.0
    sweep_steps: int = 20
    candidate_steps: int = 40

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
        cold_start_repeats=1,
        predict_peak_seconds=1200.0,
        sweep_steps=3,
        candidate_steps=0,  # several TensorFlow start-ups: minutes
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


def median_seconds(call: Callable[[], object], repeats: int) -> float:
    """Median wall time, in seconds, of ``repeats`` calls (warm up before calling)."""
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def timed(call: Callable[[], object]) -> float:
    """Wall time of one call, in seconds."""
    t0 = time.perf_counter()
    call()
    return time.perf_counter() - t0


def tensorflow_initialized() -> bool:
    """True once TensorFlow has run an op here (forking is then unsafe)."""
    if "tensorflow" not in sys.modules:
        return False
    try:
        from tensorflow.python.eager import context

        return context.context()._context_handle is not None
    except Exception:  # private API; assume the best when it changes
        return False


def import_tensorflow():
    """Import Keras (TensorFlow backend) quietly; run no op, so forking stays safe."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

    return keras


# --------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------


def synthetic_table(synthetic_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """PhysioNet-like synthetic index, written once (and then reused) for the benchmark.

    The set goes where every synthetic set goes (``synthetic_dir``, default
    :func:`audiofuse.config.synthetic_dir`, i.e. ``<it>/synthetic/smoke/``), never
    into the data folder, which may be a read-only copy of the real data.
    """
    from ..data import index_physionet
    from ..synthetic import make_synthetic_datasets

    roots = make_synthetic_datasets(_config.synthetic_dir(synthetic_dir), size="smoke")
    return index_physionet(roots["physionet2016"])


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
    folder is missing; then the synthetic set of :func:`synthetic_table`
    (under ``synthetic_dir``), labelled ``"SYNTHETIC"``.
    """
    from ..data import index_physionet

    root = Path(data_dir).expanduser() / "physionet2016" if data_dir else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if quick or root is None or not root.is_dir():
            if not quick:
                print(f"bench: no real data at {root}; using SYNTHETIC recordings", file=sys.stderr)
            table, label = synthetic_table(synthetic_dir), "SYNTHETIC"
        else:
            table, label = index_physionet(root), "real"
    sample = table.sample(n=min(n, len(table)), random_state=seed).reset_index(drop=True)
    for path in sample["path"]:  # page cache: no measurement pays for the first disk read
        Path(path).read_bytes()
    return sample, label


def synthetic_recording(seconds: float, sample_rate: int, seed: int = 0) -> np.ndarray:
    """A synthetic heart-sound recording of ``seconds`` at ``sample_rate``."""
    from ..synthetic import synthesize_pcg

    return synthesize_pcg(seconds, sample_rate, rng=np.random.default_rng(seed))


def result_row(section: str, name: str, profile: str, value: float, unit: str, data: str) -> dict:
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


def windows_label(n: int) -> str:
    """``"1 window"``, ``"23 windows"``."""
    return f"{n} window" + ("" if n == 1 else "s")


def log(message: str) -> None:
    """Progress line on stderr, with the seconds since the module was imported."""
    print(f"bench [{time.perf_counter() - _T0:6.1f} s]: {message}", file=sys.stderr, flush=True)


def rows_from(result: dict, profile: str, specs) -> list[dict]:
    """Rows for ``(section, name, key, unit, data)`` specs whose ``key`` is in ``result``."""
    return [
        result_row(section, name, profile, result[key], unit, data)
        for section, name, key, unit, data in specs
        if key in result
    ]


def comparison_rows(
    section: str,
    name: str,
    profile: str,
    old: float | None,
    new: float | None,
    unit: str,
    data: str,
    *,
    higher_is_better: bool = True,
) -> list[dict]:
    """Rows of one "old path vs new path" measurement, with their ratio.

    Gives ``name: old path`` and ``name: new path`` in ``unit``, and
    ``name: new vs old`` in ``x``: ``new / old`` when a higher value is better
    (throughput), ``old / new`` when a lower one is (time, memory), so that a
    ratio above 1 always means the new path wins. A side that was not measured
    (``None``) gets no row, and then there is no ratio either.
    """
    rows = [
        result_row(section, f"{name}: {label}", profile, value, unit, data)
        for label, value in (("old path", old), ("new path", new))
        if value is not None
    ]
    if old and new:
        ratio = new / old if higher_is_better else old / new
        rows.append(result_row(section, f"{name}: new vs old", profile, ratio, RATIO_UNIT, data))
    return rows
