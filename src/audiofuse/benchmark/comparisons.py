"""Old path against new path: measurements that report both and their ratio.

A change that claims a speed-up (or a memory saving) adds one
:class:`Comparison` to :data:`COMPARISONS`: two measuring functions, one per
path, each run in its own forked child on the same inputs. Every run of the
benchmark then reports three rows in the ``comparisons`` section:
``<name>: old path``, ``<name>: new path`` and ``<name>: new vs old`` (see
:func:`.harness.comparison_rows`). For example::

    COMPARISONS += (
        Comparison(
            "fusion training, cpu profile",
            "samples/s",
            old=train_samples_per_s_by_hand_loop,
            new=train_samples_per_s_with_fit,
            profile="cpu",
        ),
    )

A measuring function of peak memory returns :func:`.harness.peak_rss_mb`
after its work; its child's peak is its own (the bench process has imported
TensorFlow by then, so that peak includes it; the registered ones watch a
fresh interpreter instead).

:data:`COMPARISONS` holds the registered ones (issue 12, "Faster"), measured by
:mod:`.paths` and :mod:`.sweep`: ``predict`` and ``data index`` cold starts,
``predict`` peak memory on a 2 h recording and sweep training throughput.
Quick runs (``--quick``) measure the peak on 20 min and skip the sweep.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd

from . import paths, sweep
from .harness import BenchSettings, comparison_rows, log, run_forked
from .report import COMPARISON_SECTION


@dataclass(frozen=True)
class BenchInputs:
    """What a measuring function may use: the run's settings and data.

    Attributes
    ----------
    settings : BenchSettings
    sample : pandas.DataFrame
        The sampled recordings (an index from :mod:`audiofuse.data`).
    data : str
        Their label, ``"real"`` or ``"SYNTHETIC"``.
    data_dir : str or Path or None
        The data folder the benchmark was given.
    """

    settings: BenchSettings
    sample: pd.DataFrame
    data: str
    data_dir: str | os.PathLike | None = None


@dataclass(frozen=True)
class Comparison:
    """One measurement, taken on the old path and on the new one.

    Attributes
    ----------
    name : str
        What is measured, e.g. ``"predict cold start"``.
    unit : str
        Unit of both values, e.g. ``"samples/s"``, ``"s"``, ``"MiB peak RSS"``.
    old, new : callable
        ``f(inputs: BenchInputs) -> float``: the value on each path.
    higher_is_better : bool
        True for throughput; False for time and memory (the ratio is then
        ``old / new``, so that above 1 always means the new path wins).
    profile : str
        The profile measured (a column of the report), or ``""``.
    data : str, optional
        What the values were measured on; default: the run's data label.
    quick : bool
        Measured in quick runs too (False: skipped there, being too slow).
    quick_name : str, optional
        Its name in quick runs, when they measure it smaller (default: ``name``).
    """

    name: str
    unit: str
    old: Callable[[BenchInputs], float]
    new: Callable[[BenchInputs], float]
    higher_is_better: bool = True
    profile: str = ""
    data: str | None = None
    quick: bool = True
    quick_name: str | None = None


#: The comparisons every run measures (see the module's docstring).
COMPARISONS: tuple[Comparison, ...] = (
    Comparison(
        paths.PREDICT_COLD_START,
        "s",
        old=paths.predict_cold_start_old,
        new=paths.predict_cold_start_new,
        higher_is_better=False,
        profile="cpu",  # the default model's profile
    ),
    Comparison(
        paths.INDEX_COLD_START,
        "s",
        old=paths.index_cold_start_old,
        new=paths.index_cold_start_new,
        higher_is_better=False,
    ),
    Comparison(
        paths.PREDICT_PEAK,
        "MiB peak RSS",
        old=paths.predict_peak_old,
        new=paths.predict_peak_new,
        higher_is_better=False,
        profile="cpu",
        quick_name=paths.PREDICT_PEAK_QUICK,
    ),
    Comparison(
        sweep.SWEEP_TRAINING,
        "samples/s",
        old=sweep.sweep_training_old,
        new=sweep.sweep_training_new,
        profile=sweep.SWEEP_PROFILE,
        data="random inputs",
        quick=False,  # four TensorFlow start-ups and tracings: over a minute on 2 cores
    ),
)


def _measure(measure: Callable[[BenchInputs], float], inputs: BenchInputs) -> dict:
    """Child body: one measuring function's value."""
    return {"value": float(measure(inputs))}


def bench_comparisons(
    comparisons: Sequence[Comparison],
    inputs: BenchInputs,
    *,
    runner: Callable[..., dict] = run_forked,
) -> list[dict]:
    """The rows of every comparison: old, new and their ratio.

    In quick runs (``inputs.settings.quick``) a comparison with ``quick``
    False is skipped and one with a ``quick_name`` is reported under it.
    ``runner(func, *args)`` runs each measurement (default: in a forked child,
    so that neither path inherits the other's imports, caches or peak memory).
    """
    rows = []
    quick = inputs.settings.quick
    for comparison in comparisons:
        if quick and not comparison.quick:
            log(f"comparisons: {comparison.name}: skipped in quick runs")
            continue
        name = (quick and comparison.quick_name) or comparison.name
        log(f"comparisons: {name} (old path, then new path)")
        old = runner(_measure, comparison.old, inputs)["value"]
        new = runner(_measure, comparison.new, inputs)["value"]
        rows += comparison_rows(
            COMPARISON_SECTION,
            name,
            comparison.profile,
            old,
            new,
            comparison.unit,
            comparison.data or inputs.data,
            higher_is_better=comparison.higher_is_better,
        )
    return rows
