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
   60 s recording through :class:`audiofuse.predict.predictor.Predictor`, and one 5 s
   recording on ONE CPU core (a fresh interpreter under ``taskset -c 0``);
4. ``memory``: peak resident memory of each measurement;
5. ``scaling``: cost against recording length and dataset size;
6. ``peak``: FLOPs per sample (:func:`count_flops`) and the fraction of the
   measured matmul peak that training and inference reach;
7. ``training candidates``: ways to train the ``cpu`` fusion side by side
   (backends, ``jit_compile``, batch size, threads, in-memory arrays, two
   runs at once), each against the trainer's old path and the matmul peak
   (skipped in quick runs);
8. ``comparisons``: measurements taken on an old and a new code path, with
   their ratio (:class:`Comparison`): ``predict`` and ``data index`` cold
   starts, ``predict`` peak memory on a 2 h recording, and sweep training
   with two runs at once against one (skipped in quick runs).

Each measurement runs in its own forked child process (:func:`run_forked`), so
its peak RSS (``ru_maxrss``) is its own; children forked after TensorFlow is
imported include TensorFlow's ~0.5 GB in that peak, which the ``memory``
section reports as a baseline. TensorFlow ops run only in children.

The package: :mod:`.harness` (settings, forked measurements, rows, data),
:mod:`.reference` (the original recipe), :mod:`.extraction` (section 1),
:mod:`.sections` (2, 5, 6), :mod:`.single_core` (3 on one core), :mod:`.flops`,
:mod:`.comparisons` ("old path vs new path" rows with their ratio, and the
registered comparisons), :mod:`.paths` (their ``predict`` and ``data index``
sides, each a fresh interpreter), :mod:`.sweep` (their sweep-training sides:
concurrent training processes), :mod:`.candidates` (section 7, on
:mod:`.sweep`'s processes), :mod:`.report` (CSV and Markdown) and
:mod:`.driver` (:func:`run_benchmark`).

Results go to ``results/benchmark.csv`` (long format: ``section, name,
profile, value, unit, machine, cores, commit, data``) and
``results/benchmark.md``.
"""

from __future__ import annotations

from .comparisons import COMPARISONS, BenchInputs, Comparison, bench_comparisons
from .driver import main, run_benchmark
from .flops import count_flops, layer_flops, matmul_gflops
from .harness import (
    MODEL_KINDS,
    BenchSettings,
    comparison_rows,
    import_tensorflow,
    machine_info,
    peak_rss_mb,
    result_row,
    run_forked,
    settings_for,
)
from .reference import ORIGINAL, original_recipe_file
from .report import (
    COMPARISON_SECTION,
    CSV_COLUMNS,
    SECTIONS,
    goal_line,
    render_markdown,
    write_results,
)

__all__ = [
    "COMPARISONS",
    "COMPARISON_SECTION",
    "CSV_COLUMNS",
    "MODEL_KINDS",
    "ORIGINAL",
    "SECTIONS",
    "BenchInputs",
    "BenchSettings",
    "Comparison",
    "bench_comparisons",
    "comparison_rows",
    "count_flops",
    "goal_line",
    "import_tensorflow",
    "layer_flops",
    "machine_info",
    "main",
    "matmul_gflops",
    "original_recipe_file",
    "peak_rss_mb",
    "render_markdown",
    "result_row",
    "run_benchmark",
    "run_forked",
    "settings_for",
    "write_results",
]
