"""The record of ``make demo``'s wall time: the demo writes it, ``make bench`` reads it.

``python -m audiofuse.benchmark.record_demo RECORD --clock FILE --seeds ...
--head-splits N --epochs N|null`` ends ``make demo``: it appends the time since
the start written in ``FILE`` (``<unix start> <1 if the demo built the venv>``)
to the JSON list ``RECORD``. The demo takes minutes, so the benchmark reports
the latest record of a fresh clone's quick default instead of running it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import time
from pathlib import Path

from audiofuse.files import write_text_atomic
from audiofuse.reporting.provenance import git_commit

from .harness import result_row

#: Where ``make demo`` writes its record, relative to the repository.
DEMO_RECORD = Path("results/synthetic/smoke/demo_runs.json")
#: ``make demo`` on a fresh clone, quick default, should take less than this (minutes).
DEMO_GOAL = "< 8"


def add_demo_record(path, clock, seeds, head_splits: int, epochs: int | None) -> dict:
    """Append the demo that started at ``clock``'s time to the record at ``path``."""
    text = Path(clock).read_text()
    try:
        started, fresh = float(text.split()[0]), text.split()[1]
    except (ValueError, IndexError):
        raise ValueError(f"{clock}: expected '<unix start> <0 or 1>', found {text.strip()!r}") from None
    record = {
        "started": f"{datetime.datetime.fromtimestamp(started, datetime.UTC):%Y-%m-%d %H:%M} UTC",
        "wall_s": round(time.time() - started, 1),
        "fresh_venv": fresh == "1",
        "seeds": [int(seed) for seed in seeds],
        "head_splits": int(head_splits),
        "epochs": epochs,
        "commit": git_commit(),
        "cores": os.cpu_count(),
    }
    path = Path(path)
    records = json.loads(path.read_text()) if path.exists() else []
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps([*records, record], indent=1) + "\n")
    return record


def demo_row(path: str | os.PathLike) -> dict:
    """The row of the latest fresh-clone quick-default demo in ``path`` (value None
    and data ``not recorded`` without one)."""
    path = Path(path)
    records = json.loads(path.read_text()) if path.exists() else []
    fresh = [r for r in records if r.get("fresh_venv") and len(r.get("seeds", [])) == 1]
    latest = fresh[-1] if fresh else None
    data = "not recorded" if latest is None else (
        f"synthetic; recorded at {latest['commit']}, {latest['started']}, {latest['cores']} cores"
    )
    minutes = None if latest is None else latest["wall_s"] / 60
    return result_row("demo", "`make demo` on a fresh clone, quick default", "smoke", minutes,
                      "min", data, DEMO_GOAL)  # fmt: skip


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m audiofuse.benchmark.record_demo")
    parser.add_argument("record", help="the JSON list to append to")
    parser.add_argument("--clock", required=True, help="the start written by `make demo`")
    parser.add_argument("--seeds", nargs="+", required=True)
    parser.add_argument("--head-splits", type=int, required=True)
    parser.add_argument("--epochs", type=lambda t: None if t == "null" else int(t), default=None)
    args = parser.parse_args(argv)
    try:
        record = add_demo_record(args.record, args.clock, args.seeds, args.head_splits, args.epochs)
    except (OSError, ValueError) as exc:
        parser.exit(1, f"{parser.prog}: error: {exc}\n")
    print(f"make demo: {record['wall_s'] / 60:.1f} min, recorded in {args.record}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
