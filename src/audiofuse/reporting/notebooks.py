"""Run the notebooks headlessly with papermill, two at a time where they allow it.

``make reproduce`` (and so ``make demo``) calls this after ``train-runs``: by then
every run is trained and scored, and each notebook mostly builds its tables and
figures. That work is single-threaded (a kernel start, imports, pandas, plots),
so on 2 cores two notebooks at once take about half the wall time of one after
the other.

Two notebooks may run together unless one needs what the other writes
(:data:`NOTEBOOK_NEEDS`): notebook 03 reuses the classical baseline that 02
fits and caches, 07 the same baseline's paper-balance row, 08 the classical
features of the split that 02 caches (run together, both computed them), and
09 gathers the tables of all the others.

Usage::

    python -m audiofuse.reporting.notebooks notebooks/*.ipynb \\
        --out results/synthetic/smoke/notebooks --workers 2 \\
        --parameters '{PROFILE: smoke, DATA_DIR: "", SEEDS: [0], TRAIN: true}'
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import sys
import time
from pathlib import Path

from audiofuse.workpool import run_when_ready

__all__ = ["NOTEBOOK_NEEDS", "SLOWEST_FIRST", "notebook_order", "run_notebooks", "main"]

#: Notebook (by its two-digit prefix) -> the notebooks that must finish first.
#: ``"*"``: every other notebook given.
NOTEBOOK_NEEDS = {
    "03": ("02",),  # the classical baseline, fitted and cached by 02
    "07": ("02",),  # its paper-balance row, the same cached fit
    "08": ("02",),  # its leave-one-subset-out rows featurize the split as 02 does: once
    "09": ("*",),  # the results index gathers every table
}


#: Started first when ready, longest first (in ``make demo`` notebook 08 takes the
#: longest), so that no long notebook starts last.
SLOWEST_FIRST = ("08",)


def _key(path: Path) -> str:
    return path.name[:2]


def _needs(path: Path, keys: set[str]) -> set[str]:
    """Keys of the notebooks in ``keys`` that ``path`` waits for."""
    wanted = NOTEBOOK_NEEDS.get(_key(path), ())
    if "*" in wanted:
        return keys - {_key(path)}
    return set(wanted) & keys


def notebook_order(notebooks) -> list[list[Path]]:
    """The notebooks in waves: each wave's notebooks need only earlier waves.

    Within a wave the order is the given one. Raises ``ValueError`` on a
    cycle (it cannot happen with :data:`NOTEBOOK_NEEDS`, but the check is
    cheap).
    """
    pending = [Path(nb) for nb in notebooks]
    keys = {_key(nb) for nb in pending}
    done: set[str] = set()
    waves = []
    while pending:
        wave = [nb for nb in pending if _needs(nb, keys) <= done]
        if not wave:
            raise ValueError(f"notebook dependencies form a cycle: {[str(p) for p in pending]}")
        waves.append(wave)
        done |= {_key(nb) for nb in wave}
        pending = [nb for nb in pending if nb not in wave]
    return waves


def _execute(notebook: Path, out_dir: Path, parameters: dict) -> float:
    """Run one notebook under papermill; its wall time in seconds."""
    import papermill

    start = time.perf_counter()
    papermill.execute_notebook(
        str(notebook),
        str(out_dir / notebook.name),
        parameters=parameters,
        progress_bar=False,
        log_output=False,
    )
    return time.perf_counter() - start


def run_notebooks(notebooks, out_dir, parameters: dict, *, workers: int = 2) -> dict[str, float]:
    """Execute ``notebooks`` into ``out_dir``, ``workers`` at a time, needs first.

    A notebook starts as soon as a worker is free and every notebook it
    needs (:data:`NOTEBOOK_NEEDS`) has finished (:data:`SLOWEST_FIRST` before
    the others, then in the given order). The first failure stops
    new starts; the notebooks already running finish, then it is raised.

    Returns
    -------
    dict
        Notebook name -> seconds it took, in the order they finished.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    queue = sorted((Path(nb) for nb in notebooks), key=lambda nb: _key(nb) not in SLOWEST_FIRST)
    keys = {_key(nb) for nb in queue}
    notebook_order(queue)  # fail early on a cycle
    done: set[str] = set()
    seconds: dict[str, float] = {}
    failures: list[tuple[Path, str]] = []

    def take_ready(running):
        if failures:
            return None  # the first failure stops new starts
        ready = next((nb for nb in queue if _needs(nb, keys) <= done), None)
        if ready is not None:
            queue.remove(ready)
            print(f"== {ready} (started)", file=sys.stderr, flush=True)
        return ready

    def finished(notebook: Path, future: cf.Future) -> None:
        try:
            seconds[notebook.name] = future.result()
        except Exception as exc:
            failures.append((notebook, _describe(exc, out_dir / notebook.name)))
            return
        done.add(_key(notebook))
        print(f"== {notebook} done in {seconds[notebook.name]:.0f} s", file=sys.stderr)

    with cf.ThreadPoolExecutor(max(1, workers)) as pool:
        run_when_ready(
            pool,
            workers,
            take_ready,
            lambda pool, notebook: pool.submit(_execute, notebook, out_dir, parameters),
            finished,
        )
    failure = failures[0] if failures else None
    if failure is not None:
        notebook, reason = failure
        raise RuntimeError(f"{notebook}: {reason}")
    return seconds


def _describe(exc: Exception, executed: Path) -> str:
    """One line for a failed notebook: the cell, the error, where the traceback is."""
    ename = getattr(exc, "ename", None)  # papermill's PapermillExecutionError
    if ename is None:
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    evalue = (getattr(exc, "evalue", "") or "").splitlines()
    cell = getattr(exc, "exec_count", None)
    where = f"cell {cell}: " if cell is not None else ""
    return f"{where}{ename}: {evalue[0] if evalue else ''} (traceback in {executed})"


def main(argv=None) -> int:
    import yaml

    parser = argparse.ArgumentParser(
        prog="python -m audiofuse.reporting.notebooks", description=__doc__.split("\n")[0]
    )
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="folder of the executed copies")
    parser.add_argument("--workers", type=int, default=2, help="notebooks at once (default: 2)")
    parser.add_argument(
        "--parameters", default="{}", help="the notebooks' parameters, as a YAML mapping"
    )
    args = parser.parse_args(argv)
    try:
        parameters = yaml.safe_load(args.parameters) or {}
    except yaml.YAMLError as exc:
        parser.error(f"--parameters is not YAML: {str(exc).splitlines()[0]} ({args.parameters!r})")
    if not isinstance(parameters, dict):
        parser.error(f"--parameters must be a YAML mapping, not {args.parameters!r}")
    missing = [str(nb) for nb in args.notebooks if not nb.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    start = time.perf_counter()
    try:
        seconds = run_notebooks(args.notebooks, args.out, parameters, workers=args.workers)
    except RuntimeError as exc:
        print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    print(
        f"{len(seconds)} notebooks in {time.perf_counter() - start:.0f} s "
        f"({sum(seconds.values()):.0f} s of notebook time, {args.workers} at a time)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
