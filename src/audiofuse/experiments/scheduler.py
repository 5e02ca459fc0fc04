"""Train many runs at once: a process pool that shares one accelerator."""

from __future__ import annotations

import datetime
import json
import os
import sys
import time
from pathlib import Path

import pandas as pd

from audiofuse.config import TRAIN_RUNS_TABLES, TRAIN_RUNS_TIMING_FILE, TRAIN_RUNS_WORKERS
from audiofuse.data.indexes import index_pascal
from audiofuse.data.protocols import Fold, leave_one_subset_out, selection_folds
from audiofuse.data.splits import TrainingError
from audiofuse.files import write_json_atomic
from audiofuse.reporting.provenance import git_commit
from audiofuse.workpool import run_when_ready

from .context import Context, features, physionet_features, physionet_index, run_name, setup
from .runs import (
    is_scored,
    knockout_scores,
    pascal_scored,
    pascal_scores,
    short_clip_scores,
    train_and_score,
)
from .specs import (
    EVALUATIONS,
    LOSO_MODELS,
    PLUS_PASCAL,
    ROBUST_FINALISTS,
    TABLE_SPECS,
    ModelSpec,
    branch_specs,
    needs_short_clips,
    screen_only,
    unique_runs,
)

__all__ = ["TABLES", "TIMING_FILE", "add_timing_records", "train_runs", "worker_threads"]

#: What ``train-runs`` can train: the runs of each table of :data:`TABLE_SPECS`, and
#: ``loso``, the leave-one-subset-out folds of notebook 08 (:data:`LOSO_MODELS`, first seed).
TABLES = TRAIN_RUNS_TABLES

#: Beside the runs (``runs/<data>/<profile>/``): one record per ``train-runs`` call that
#: trained something (its wall time, workers, runs and their seconds), oldest first.
#: ``scores export`` commits it with the scores.
TIMING_FILE = TRAIN_RUNS_TIMING_FILE

#: Model kinds from the slowest to train to the fastest (the ``cpu`` main table's runs).
#: Within a seed the slowest start first, so that the last run to start is a short one
#: (a shorter tail).
KINDS_SLOWEST_FIRST = ("fusion", "spectrogram", "waveform")


def _run_job(
    setup_kwargs: dict, spec: ModelSpec, seed: int, pascal: bool, fold: Fold | None
) -> dict:
    """Worker: train and score one run in its own process (one GPU context each)."""
    start = time.perf_counter()
    ctx = setup(**setup_kwargs)
    result = train_and_score(ctx, spec, seed, fold=fold)
    if ctx.diagnostics and fold is None:
        knockout_scores(ctx, spec, seed)  # fusion runs only
    if needs_short_clips(spec):  # the only runs whose table reads them
        short_clip_scores(ctx, spec, seed, fold, model=result.model)
    if pascal:
        pascal_scores(ctx, spec, seed)
    return {
        "run": _label(ctx, spec, seed, fold),
        "best_val_auc": round(float(result.best_val_auc), 4),
        "epochs": len(result.history.get("loss", [])),
        "seconds": round(time.perf_counter() - start, 1),
    }


def _pending_jobs(ctx: Context, tables, pascal: bool, only=None) -> list[tuple]:
    """``(spec, seed, with_pascal, fold)`` of every run not yet scored, most important
    first: every seed of the main table (within a seed, the slowest model first), then
    the other tables seed by seed, then the leave-one-subset-out folds (``fold`` is
    None for the paper's split). With ``pascal``, the runs of the main table and of
    :data:`PLUS_PASCAL` (in the ``plus`` table) are scored on PASCAL too. ``only``
    keeps the runs of those model folders (e.g. ``fusion-balancesubset``)."""
    main = unique_runs(ctx.profile, TABLE_SPECS["main"]) if "main" in tables else []
    main = sorted(main, key=lambda spec: KINDS_SLOWEST_FIRST.index(spec.kind))
    main_slugs = {m.run_slug(ctx.profile) for m in main}
    specs = [s for t in tables if t in TABLE_SPECS and t != "main" for s in TABLE_SPECS[t]]
    others = [s for s in unique_runs(ctx.profile, specs) if s.run_slug(ctx.profile) not in main_slugs]
    jobs = [(spec, seed, pascal, None) for seed in ctx.seeds for spec in main]
    plus_pascal = {s.run_slug(ctx.profile) for s in PLUS_PASCAL} if "plus" in tables else set()
    if "robust" in tables:
        plus_pascal |= {s.run_slug(ctx.profile) for s in TABLE_SPECS["robust"]}
    jobs += [
        (spec, seed, pascal and spec.run_slug(ctx.profile) in plus_pascal, None)
        for seed in ctx.seeds
        for spec in others
        if seed == ctx.seeds[0] or not screen_only(spec, ctx.profile)
    ]
    if "loso" in tables:
        folds = leave_one_subset_out(physionet_index(ctx))
        jobs += [(spec, ctx.seeds[0], False, fold) for spec in LOSO_MODELS for fold in folds]
    if "robust_loso" in tables:
        folds = selection_folds(physionet_index(ctx))
        jobs += [(spec, ctx.seeds[0], False, fold) for spec in ROBUST_FINALISTS for fold in folds]

    if only:
        slugs = {spec.run_slug(ctx.profile) for spec, *_ in jobs}
        unknown = sorted(set(only) - slugs)
        if unknown:
            raise TrainingError(
                f"--runs {' '.join(unknown)}: not a run of the tables {' '.join(tables)} "
                f"(their runs: {', '.join(sorted(slugs))})"
            )
        jobs = [job for job in jobs if job[0].run_slug(ctx.profile) in only]

    def done(spec, seed, with_pascal, fold):
        return is_scored(ctx, spec, ctx.fold_run(spec, seed, fold), EVALUATIONS) and (
            not with_pascal or pascal_scored(ctx, spec, seed)
        )

    return [job for job in jobs if not done(*job)]


def train_runs(
    setup_kwargs: dict,
    tables=("main", "sweep", "ablation"),
    *,
    workers: int = TRAIN_RUNS_WORKERS,
    deadline_s: float | None = None,
    pascal: bool = False,
    only=None,
) -> pd.DataFrame:
    """Train and score every run that ``tables`` need, ``workers`` at a time.

    Small models leave most of a GPU idle, so several runs share it, each in
    its own process. Runs start in order of importance: every seed of the
    main table first, then the other tables seed by seed. No run starts
    when ``deadline_s`` (seconds from now) would likely cut it off; finished
    runs are reused and unfinished ones resume, so calling again completes
    the set. The tables are then built by the notebooks from the saved
    scores, here or on another machine.

    Parameters
    ----------
    setup_kwargs : dict
        Arguments of :func:`setup` (profile, data_dir, seeds, ...).
    tables : sequence of :data:`TABLES`
        ``balance`` and ``plus`` are beyond the paper (notebooks 07 and 08), as is
        ``loso``: notebook 08's leave-one-subset-out folds.
    workers : int
        Concurrent training processes (default: two, the fastest measured on
        2 CPU cores; see :data:`audiofuse.config.TRAIN_RUNS_WORKERS`).
    deadline_s : float, optional
    pascal : bool
        Also score PASCAL (zero-shot and head-trained) with every main-table run.
    only : sequence of str, optional
        Train only the runs in these model folders (``run_slug``), e.g.
        ``["fusion-balancesubset"]``; the default is every run of ``tables``.

    Returns
    -------
    pandas.DataFrame
        One row per run started here: ``run, best_val_auc, epochs, seconds``
        (or ``error``).
    """
    start = time.monotonic()
    ctx = setup(**setup_kwargs)
    jobs = _pending_jobs(ctx, tables, pascal, only)
    # features once, here, with every core; the workers memory-map the cache
    physionet_features(ctx)
    physionet_features(ctx, windows=True)
    if pascal:
        features(ctx, index_pascal(ctx.pascal_root), "pascal", windows=False)
    print(f"{len(jobs)} runs to train or score, {workers} at a time", file=sys.stderr, flush=True)
    started = datetime.datetime.now(datetime.UTC)
    # the commit the runs were trained at: the tree may change while they run for hours
    commit = git_commit()
    pool_start = time.monotonic()
    rows = _run_pool(ctx, setup_kwargs, jobs, workers, deadline_s, start)
    if rows:
        _record_timing(
            ctx, tables, workers, rows, started, time.monotonic() - pool_start, commit=commit
        )
    if jobs:
        print(
            f"deadline: {len(jobs)} runs not started: "
            + ", ".join(_label(ctx, s, k, f) for s, k, _, f in jobs),
            file=sys.stderr,
        )
    return pd.DataFrame(rows)


def add_timing_records(path: Path, records: list[dict]) -> None:
    """Add ``records`` to the timing file ``path`` (atomically): each record once,
    oldest first, the ones already there kept (e.g. made on another machine)."""
    kept = json.loads(path.read_text()) if path.exists() else []
    kept += [r for r in records if r not in kept]
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, sorted(kept, key=lambda r: r.get("started", "")))


def _record_timing(
    ctx: Context, tables, workers: int, rows, started, wall_s: float, commit: str
) -> None:
    """Add this call's record to :data:`TIMING_FILE` beside the runs, trained at ``commit``."""
    record = {
        "started": started.strftime("%Y-%m-%d %H:%M UTC"),
        "wall_s": round(wall_s, 1),
        "tables": list(tables),
        "seeds": list(ctx.seeds),
        "workers": workers,
        "cores": os.cpu_count(),
        "profile": ctx.profile.name,
        "data": ctx.data,
        "commit": commit,
        "runs": rows,
    }
    add_timing_records(ctx.runs / TIMING_FILE, [record])


def worker_threads(workers: int, cores: int | None = None) -> dict[str, str]:
    """Thread settings that split the CPU cores evenly between ``workers`` processes.

    On the CPU, several runs at once each with fewer threads beat one run with
    all of them: small models leave cores idle between ops (on 2 cores, two
    single-threaded ``cpu`` fusion runs train more samples per second in all
    than one two-threaded run). Settings already in the environment win.
    """
    per_worker = str(max(1, (cores or os.cpu_count() or 1) // max(1, workers)))
    names = ("TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS")
    wanted = {name: per_worker for name in names} | {"TF_NUM_INTEROP_THREADS": "1"}
    return {name: value for name, value in wanted.items() if name not in os.environ}


def _run_pool(ctx, setup_kwargs, jobs, workers, deadline_s, start) -> list[dict]:
    """Run ``jobs`` (popped as they start) in a spawn pool; one row per finished job."""
    import concurrent.futures as cf
    import multiprocessing as mp
    from concurrent.futures.process import BrokenProcessPool

    from audiofuse.model.tensorflow_env import prepare_tensorflow

    rows, durations, killed = [], [], []

    def take_ready(running: list):
        typical = max(durations) if durations else 0.0
        if killed or not jobs or (deadline_s is not None and time.monotonic() - start + typical >= deadline_s):
            return None
        ready = _next_ready(ctx, jobs, {_label(ctx, s, k, f) for s, k, _, f in running})
        return None if ready is None else jobs.pop(ready)  # None: all wait for running ones

    def finished(job, future) -> None:
        spec, seed, _, fold = job
        try:
            row = future.result()
            durations.append(row["seconds"])
        except BrokenProcessPool:  # a worker was killed: no new run can start
            killed.append(_label(ctx, spec, seed, fold))
            return
        except Exception as exc:  # one failed run must not sink the others
            row = {"run": _label(ctx, spec, seed, fold), "error": f"{type(exc).__name__}: {exc}"}
        rows.append(row)
        print(f"done {row}", file=sys.stderr, flush=True)

    # spawned workers inherit the environment: set it before the pool starts (they
    # import TensorFlow as they unpickle their job)
    prepare_tensorflow()
    os.environ.update(worker_threads(workers) if workers > 1 else {})
    with cf.ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
        run_when_ready(
            pool,
            workers,
            take_ready,
            lambda pool, job: pool.submit(_run_job, setup_kwargs, *job),
            finished,
        )
    if killed:
        raise TrainingError(
            f"a training process was killed (out of memory? see dmesg) while training "
            f"{', '.join(killed)}; finished runs are kept and a rerun resumes the rest"
        )
    return rows


def _label(ctx: Context, spec: ModelSpec, seed: int, fold: Fold | None = None) -> str:
    """``<model>/seed<k>``: a run's name in logs and summaries (its folder under the runs)."""
    return f"{run_name(spec, ctx.profile, fold)}/seed{seed}"


def _next_ready(ctx: Context, jobs, running: set[str]) -> int | None:
    """Index of the first job none of whose prerequisites is running or queued.

    A staged fusion starts from its trained branches (:func:`branch_specs`),
    so it waits for their runs; two processes never train the same run.
    """
    queued = {_label(ctx, s, k, f) for s, k, _, f in jobs}
    for i, (spec, seed, _, fold) in enumerate(jobs):
        needs = set()
        if spec.profile(ctx.profile).train.staged:
            needs = {_label(ctx, b, seed, fold) for b in branch_specs(spec).values()}
        if not needs & (running | queued):
            return i
    return None
