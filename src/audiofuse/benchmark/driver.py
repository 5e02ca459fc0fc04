"""The benchmark's driver: every section in order, then the CSV and the report."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence

import pandas as pd

from .candidates import bench_candidates
from .comparisons import COMPARISONS, BenchInputs, Comparison, bench_comparisons
from .extraction import bench_features
from .harness import (
    import_tensorflow,
    load_sample,
    machine_info,
    result_row,
    run_forked,
    settings_for,
    tensorflow_initialized,
)
from .paths import tensorflow_onednn_default
from .recorded import demo_rows, recorded_rows
from .report import output_dir, to_frame, write_results
from .sections import bench_models, bench_peak, bench_scaling, matmul_peak
from .single_core import bench_single_core


def _baseline_row(when: str, data: str) -> dict:
    """Peak RSS of a forked child that does nothing: the floor of the next measurements."""
    rss = run_forked(dict)["peak_rss_mb"]
    state = "TensorFlow imported" if "tensorflow" in sys.modules else "no TensorFlow"
    return result_row(
        "memory", f"baseline: idle forked child {when} ({state})", "", rss, "MiB peak RSS", data
    )


def run_benchmark(
    data_dir: str | os.PathLike | None = None,
    out: str | os.PathLike | None = None,
    quick: bool = False,
    *,
    synthetic_dir: str | os.PathLike | None = None,
    comparisons: Sequence[Comparison] = COMPARISONS,
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
    synthetic_dir : str or Path, optional
        Where the synthetic set is written when it is used (default:
        :func:`audiofuse.config.synthetic_dir`; never the data folder).
    comparisons : sequence of Comparison
        "Old path vs new path" measurements (default: :data:`.comparisons.COMPARISONS`).

    Returns
    -------
    pandas.DataFrame
        The long-format results, as written to ``benchmark.csv``.
    """
    if tensorflow_initialized():
        raise RuntimeError(
            "TensorFlow has already run in this process, so the benchmark cannot fork its "
            "measurements safely; run it in a fresh process (`audiofuse bench`)"
        )
    settings = settings_for(quick)
    started, load_before = time.perf_counter(), os.getloadavg()
    sample, data = load_sample(
        data_dir, settings.n_sample, quick=quick, synthetic_dir=synthetic_dir
    )
    rows = [_baseline_row("before features", data)]
    rows += bench_features(sample, settings, data)
    import_tensorflow()
    rows.append(_baseline_row("before models", data))
    model_rows, models = bench_models(settings)
    rows += model_rows
    if settings.single_core_repeats:
        rows += bench_single_core(
            settings.scaling_profile, "fusion", settings.single_core_repeats, fresh=not quick
        )
    rows += bench_scaling(sample, settings, data)
    peak_rows = bench_peak(settings, models)
    rows += peak_rows
    rows += bench_candidates(settings, models, matmul_peak(peak_rows))
    rows += bench_comparisons(comparisons, BenchInputs(settings, sample, data, data_dir))
    if not quick:  # too long to measure here: the committed record of the last training
        rows += recorded_rows(output_dir(None) / "real" / "cpu" / "scores")
        rows += demo_rows(output_dir(None) / "synthetic" / "smoke")
    run = {
        "data": data,
        "records": len(sample),
        "quick": quick,
        "seconds": time.perf_counter() - started,
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "onednn_default": tensorflow_onednn_default(),
        **machine_info(),
    }
    frame = to_frame(rows, run)
    write_results(frame, run, output_dir(out))
    return frame


def main(args) -> int:
    """Entry point of ``audiofuse bench`` (``args.quick``, ``args.data_dir``, ``args.out``)."""
    frame = run_benchmark(data_dir=args.data_dir, out=args.out, quick=args.quick)
    out = output_dir(args.out)
    print(
        f"{len(frame)} measurements written to {out / 'benchmark.csv'} and {out / 'benchmark.md'}"
    )
    return 0
