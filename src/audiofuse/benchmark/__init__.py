"""Speed and cost of AudioFuse on this machine: ``audiofuse bench`` / ``make bench``.

One run gives one row per measurement, each with its goal (``docs/performance.md``
says what each measures and how to read it):

- ``features``: this project's extractor against the authors' original recipe
  (:mod:`.extraction`, :mod:`.reference`);
- ``training``: the fusion trainer's samples/s and its share of the measured
  float32 matmul peak (:mod:`.training_speed`, :mod:`.flops`);
- ``inference``: ``audiofuse predict`` latency and throughput, cold and warm,
  on one core, and ``memory``: its peak against recording length
  (:mod:`.inference_speed`);
- ``demo``: the wall time ``make demo`` recorded (:mod:`.record_demo`).

:mod:`.harness` holds the settings, rows and fresh processes, :mod:`.outputs`
writes ``results/benchmark.csv`` and ``results/benchmark.md``, and
:mod:`.driver` runs it all (:func:`run_benchmark`).
"""

from __future__ import annotations

from .driver import main, run_benchmark
from .flops import count_flops, layer_flops, matmul_gflops
from .harness import BenchSettings, result_row, settings_for, verdict
from .outputs import CSV_COLUMNS, SECTIONS, render_markdown, write_results
from .reference import ORIGINAL, original_recipe_file

__all__ = [
    "CSV_COLUMNS",
    "ORIGINAL",
    "SECTIONS",
    "BenchSettings",
    "count_flops",
    "layer_flops",
    "main",
    "matmul_gflops",
    "original_recipe_file",
    "render_markdown",
    "result_row",
    "run_benchmark",
    "settings_for",
    "verdict",
    "write_results",
]
