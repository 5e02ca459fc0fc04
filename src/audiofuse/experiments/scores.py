"""Per-run scores committed beside the results, so that tables rebuild without the runs.

``export_scores`` copies what the tables read from each run folder
(``state.json``, ``config.json``, ``history.json`` and the per-record
``scores_*.csv``, gzip-compressed; never the weights) to
``results/<data>/<profile>/scores/<run>/seed<k>/``, and ``train-runs``' timing
records (:data:`~audiofuse.experiments.scheduler.TIMING_FILE`) beside them. ``restore_runs`` turns
such a folder back into a runs tree that :func:`~audiofuse.experiments.setup`
with ``train=False`` reads as finished, scored runs.
"""

from __future__ import annotations

import gzip
import json
import shutil
import sys
from pathlib import Path

from audiofuse.model.run_dir import RunDir

from .scheduler import TIMING_FILE, add_timing_records

__all__ = ["SCORES_FOLDER", "export_scores", "restore_runs"]

SCORES_FOLDER = "scores"


def _run_dirs(root: Path) -> list[RunDir]:
    return [RunDir(p) for p in sorted(root.glob("*/seed*")) if p.is_dir()]


def export_scores(runs: str | Path, dest: str | Path) -> list[Path]:
    """Copy the scores, config, history and state of every finished run under ``runs`` to ``dest``.

    ``runs`` is a context's runs folder (``runs/<data>/<profile>``); ``dest``
    usually ``results/<data>/<profile>/scores``. Returns the folders written.
    """
    written = []
    for run in _run_dirs(Path(runs)):
        if run.state is None or not run.state.get("finished"):
            continue  # not trained here (a classical run holds scores only), or still training
        out = Path(dest) / run.path.parent.name / run.path.name
        out.mkdir(parents=True, exist_ok=True)
        for path in (run.state_path, run.config_path, run.history_path):
            if path.exists():
                shutil.copyfile(path, out / path.name)
        for path in sorted(run.path.glob("scores_*.csv")):
            tmp = out / f".{path.name}.gz.tmp"
            with open(path, "rb") as src, gzip.GzipFile(tmp, "wb", mtime=0) as gz:
                shutil.copyfileobj(src, gz)  # mtime=0: the same scores give the same bytes
            tmp.replace(out / f"{path.name}.gz")
        written.append(out)
    timing = Path(runs) / TIMING_FILE  # train-runs' wall times, beside the scores
    if timing.exists():
        add_timing_records(Path(dest) / TIMING_FILE, json.loads(timing.read_text()))
    return written


def restore_runs(scores: str | Path, runs: str | Path) -> list[RunDir]:
    """Unpack committed scores into a runs folder; the state is written before the scores,
    so every run reads as finished and scored."""
    restored = []
    for saved in _run_dirs(Path(scores)):
        run = RunDir(Path(runs) / saved.path.parent.name / saved.path.name)
        if run.state is not None:
            continue  # a run trained here is never overwritten
        run.path.mkdir(parents=True, exist_ok=True)
        for name in ("state", "config", "history"):
            payload = getattr(saved, name)
            if payload:
                run.write_json(name, payload)
        for path in sorted(saved.path.glob("scores_*.csv.gz")):
            with gzip.open(path, "rb") as gz:
                data = gz.read()
            target = run.path / path.name.removesuffix(".gz")
            tmp = run.path / f".{target.name}.tmp"
            tmp.write_bytes(data)
            tmp.replace(target)
        restored.append(run)
    return restored


def main(argv: list[str] | None = None) -> int:
    """``python -m audiofuse.experiments.scores {export RUNS DEST | restore SCORES RUNS}``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m audiofuse.experiments.scores")
    parser.add_argument("action", choices=["export", "restore"])
    parser.add_argument("source", type=Path)
    parser.add_argument("dest", type=Path)
    args = parser.parse_args(argv)
    if not args.source.is_dir():
        print(f"{args.source}: not found", file=sys.stderr)
        return 2
    done = (export_scores if args.action == "export" else restore_runs)(args.source, args.dest)
    print(f"{args.action}: {len(done)} runs, {args.source} -> {args.dest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
