"""The benchmark's driver: every row in order, then ``benchmark.csv`` and ``benchmark.md``."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd

from .extraction import bench_features
from .harness import load_sample, machine_info, settings_for
from .inference_speed import bench_inference
from .outputs import output_dir, to_frame, write_results
from .record_demo import DEMO_RECORD, demo_row
from .training_speed import bench_training

#: The repository (``make demo`` writes its record there).
REPOSITORY = Path(__file__).resolve().parents[3]


def run_benchmark(
    data_dir: str | os.PathLike | None = None,
    out: str | os.PathLike | None = None,
    quick: bool = False,
    *,
    synthetic_dir: str | os.PathLike | None = None,
) -> pd.DataFrame:
    """Measure every row and write ``benchmark.csv`` and ``benchmark.md``.

    Parameters
    ----------
    data_dir : str or Path, optional
        Folder holding ``physionet2016/``; without it (or with ``quick``) the
        synthetic set is used and the rows that read recordings say SYNTHETIC.
    out : str or Path, optional
        Output folder (default: the repository's ``results/``).
    quick : bool
        Synthetic data, the ``smoke`` profile and small sizes (the test suite's variant).
    synthetic_dir : str or Path, optional
        Where the synthetic set is written when it is used (default:
        :func:`audiofuse.paths.synthetic_dir`; never the data folder).

    Returns
    -------
    pandas.DataFrame
        The rows, as written to ``benchmark.csv``.
    """
    settings = settings_for(quick)
    started, load_before = time.perf_counter(), os.getloadavg()
    n = max(settings.feature_records, settings.original_records)
    sample, data = load_sample(data_dir, n, quick=quick, synthetic_dir=synthetic_dir)
    rows = bench_features(sample, settings, data)
    rows += bench_training(settings)
    rows += bench_inference(sample, settings, data)
    rows.append(demo_row(REPOSITORY / DEMO_RECORD))
    run = {
        "data": data,
        "records": len(sample),
        "quick": quick,
        "seconds": time.perf_counter() - started,
        "load_before": load_before,
        "load_after": os.getloadavg(),
        **machine_info(),
    }
    frame = to_frame(rows, run)
    write_results(frame, run, output_dir(out))
    return frame


def main(args) -> int:
    """Entry point of ``audiofuse bench`` (``args.quick``, ``args.data_dir``, ``args.out``)."""
    frame = run_benchmark(data_dir=args.data_dir, out=args.out, quick=args.quick)
    out = output_dir(args.out)
    print(f"{len(frame)} rows written to {out / 'benchmark.csv'} and {out / 'benchmark.md'}")
    return 0
