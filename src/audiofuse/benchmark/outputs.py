"""The benchmark's outputs: ``benchmark.csv`` (one row per measurement) and ``benchmark.md``."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from audiofuse.files import write_text_atomic
from audiofuse.reporting.provenance import format_table

from .harness import verdict

CSV_COLUMNS = [
    "section", "name", "profile", "value", "unit", "goal", "machine", "cores", "commit", "data",
]  # fmt: skip
SECTIONS = ("features", "training", "inference", "memory", "demo")


def to_frame(rows: list[dict], run: dict) -> pd.DataFrame:
    """Rows plus the machine, cores and commit columns, in the CSV's order."""
    frame = pd.DataFrame(rows)
    for key in ("machine", "cores", "commit"):
        frame[key] = run[key]
    return frame[CSV_COLUMNS]


def output_dir(out: str | os.PathLike | None) -> Path:
    """``out``, or the repository's ``results/`` folder."""
    return Path(out) if out else Path(__file__).resolve().parents[3] / "results"


def write_results(frame: pd.DataFrame, run: dict, out: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``benchmark.csv`` and ``benchmark.md`` into ``out``, each atomically."""
    out = Path(out)
    csv_path = write_text_atomic(out / "benchmark.csv", frame.to_csv(index=False))
    md_path = write_text_atomic(out / "benchmark.md", render_markdown(frame, run))
    return csv_path, md_path


def _fmt(value: float) -> str:
    """Three significant digits (thousands grouped); ``not recorded`` when missing."""
    if pd.isna(value):
        return "not recorded"
    return f"{value:.3g}" if abs(value) < 1e3 else f"{value:,.0f}"


def render_markdown(frame: pd.DataFrame, run: dict) -> str:
    """The report: where and on what it ran, then one row per measurement with its goal."""
    label = (
        "**SYNTHETIC recordings** (no real data used)"
        if run["data"] == "SYNTHETIC"
        else f"real PhysioNet 2016 recordings ({run['records']} sampled, seed 0)"
    )
    table = pd.DataFrame(
        {
            "section": frame["section"],
            "measurement": frame["name"],
            "profile": frame["profile"].replace("", "-"),
            "value": [f"{_fmt(v)} {u}" if not pd.isna(v) else _fmt(v)
                      for v, u in zip(frame["value"], frame["unit"], strict=True)],
            "goal": [f"{g} {u}" if g else "" for g, u in zip(frame["goal"], frame["unit"],
                                                            strict=True)],
            "verdict": [verdict(v, g) for v, g in zip(frame["value"], frame["goal"], strict=True)],
            "data": frame["data"],
        }
    )  # fmt: skip
    load = " / ".join(" ".join(f"{v:.2f}" for v in run[k]) for k in ("load_before", "load_after"))
    return "\n".join(
        [
            "# AudioFuse benchmark" + (" (quick)" if run["quick"] else ""),
            "",
            f"Machine `{run['machine']}`, {run['cores']} cores, commit `{run['commit']}`, "
            f"{label}. Measurements took {run['seconds']:.0f} s; load average before / after: "
            f"{load}. Timings are wall-clock: other work on the machine slows them.",
            "",
            format_table(table),
            "",
            "What each row measures and how to read it: `docs/performance.md`. "
            "Reproduce with `make bench` (or `audiofuse bench --data-dir DATA [--out DIR]`).",
            "",
        ]
    )
