"""The benchmark's outputs: the long-format CSV and the Markdown report.

The CSV holds one row per measurement (:data:`CSV_COLUMNS`); the report gives
the provenance, the goal lines (PASS / FAIL) and one table per section, with
a row per measurement and a column per profile.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ..reporting import format_table, write_text_atomic
from .candidates import (
    CANDIDATE_PROFILE,
    CANDIDATE_SECTION,
    PEAK_SUFFIX,
    RATIO_SUFFIX,
    TRAIN_RUNS_NOW,
)
from .paths import INDEX_COLD_START, PREDICT_COLD_START, PREDICT_PEAK
from .sweep import SWEEP_PROFILE, SWEEP_TRAINING

CSV_COLUMNS = ["section", "name", "profile", "value", "unit", "machine", "cores", "commit", "data"]
SECTIONS = ("features", "training", "inference", "memory", "scaling", "peak")
#: Section of the "old path vs new path" rows (:mod:`.comparisons`), reported when present.
COMPARISON_SECTION = "comparisons"

# Goals from the project's issues: extraction speed-ups (single process, like
# for like) and the one-core latency of the deployable profile.
GOAL_CPU_SPEEDUP = 10.0
GOAL_PAPER_SPEEDUP = 2.0
GOAL_LATENCY_MS = 50.0
# Goals of issue 12 ("Faster") for the "old path vs new path" comparisons: cold
# starts of predict and data index, predict's peak on a 2 h recording (600 MB,
# i.e. 572 MiB), and sweep training 3x the 99-141 samples/s measured before.
GOAL_PREDICT_COLD_S = 2.0
GOAL_INDEX_COLD_S = 2.0
GOAL_PREDICT_PEAK_MIB = round(600e6 / 2**20, 1)
GOAL_SWEEP_FACTOR = 3.0
OLD_SWEEP_SAMPLES_PER_S = (99.0, 141.0)
# Issue 12's goals for training the `cpu` profile (the "training candidates"
# section): 3x the trainer's samples/s today, and 30 % of the matmul peak.
GOAL_TRAINING_FACTOR = 3.0
GOAL_PEAK_PERCENT = 30.0
GOAL_MAIN_TABLE_MIN = 60.0
#: Its comparison's name (benchmark.recorded, which reads the train-runs record).
MAIN_TABLE = "3-seed cpu main table (3 models x 3 seeds), training wall time"
GOAL_DEMO_MIN = 8.0
#: ``make demo``'s comparison (benchmark.recorded, which reads the demo's record).
DEMO = "`make demo` on a fresh clone, quick default, wall time"


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


def _pick(frame: pd.DataFrame, section: str, name: str, profile: str, unit: str) -> float | None:
    """The value of the first row matching every key, or None."""
    hit = frame[
        (frame.section == section)
        & (frame.name == name)
        & (frame.profile == profile)
        & (frame.unit == unit)
    ]
    return float(hit.value.iloc[0]) if len(hit) else None


def goal_line(label: str, value: float | None, goal: float, unit: str, below: bool = False) -> str:
    """``- label: value (goal >= x): PASS`` (or FAIL, or not measured)."""
    if value is None:
        return f"- {label}: not measured in this run"
    ok = value < goal if below else value >= goal
    sign = "<" if below else ">="
    sep = "" if unit == "x" else " "
    return (
        f"- {label}: **{_fmt(value)}{sep}{unit}** (goal {sign} {goal:g}{sep}{unit}): "
        f"**{'PASS' if ok else 'FAIL'}**"
    )


def _headline(frame: pd.DataFrame, run: dict) -> str:
    """Goal lines and the speed-ups against the original recipe."""
    lines = ["## Headline", ""]
    ref = "original mel+CWT"
    goals = {"cpu": GOAL_CPU_SPEEDUP, "paper": GOAL_PAPER_SPEEDUP}
    for profile in ("smoke", "cpu", "paper"):
        one = _pick(frame, "features", f"speed-up n_jobs=1 vs {ref}", profile, "x")
        if one is None:
            continue
        label = f"`{profile}` feature extraction vs the original recipe (1 process each)"
        lines.append(
            goal_line(label, one, goals[profile], "x")
            if profile in goals
            else f"- {label}: **{_fmt(one)}x** (no goal for this profile)"
        )
        two = _pick(frame, "features", f"speed-up n_jobs=2 vs {ref}", profile, "x")
        mel = _pick(frame, "features", "speed-up n_jobs=1 vs original mel only", profile, "x")
        lines.append(
            f"  - with the parallel extractor (n_jobs=2): {_fmt(two)}x; "
            f"against the original without its CWT (1 process): {_fmt(mel)}x"
        )
    latency_profile = "smoke" if run["quick"] else "cpu"
    lines.append(
        goal_line(
            f"`{latency_profile}` fusion, one 5 s recording on 1 core (median)",
            _pick(
                frame, "inference", "fusion 5 s recording, 1 core (median)", latency_profile, "ms"
            ),
            GOAL_LATENCY_MS,
            "ms",
            below=True,
        )
    )
    lines += _candidates_headline(frame)
    lines += _comparison_headline(frame)
    return "\n".join(lines) + "\n"


def _candidates_headline(frame: pd.DataFrame) -> list[str]:
    """Goal lines of the project's training path (``train-runs`` now; without its row,
    the fastest candidate): its ratio and its % of the peak, then the fastest candidate
    when that is another (a recipe change, such as a larger batch, may be faster)."""
    label = f"`{CANDIDATE_PROFILE}` fusion training, fastest candidate vs the trainer's old path"
    ratios = frame[(frame.section == CANDIDATE_SECTION) & (frame.unit == "x")]
    if ratios.empty:
        return [goal_line(label, None, GOAL_TRAINING_FACTOR, "x")]
    best = ratios.loc[ratios.value.idxmax()]
    fastest = best["name"].removesuffix(RATIO_SUFFIX)
    now = ratios[ratios.name == TRAIN_RUNS_NOW.name + RATIO_SUFFIX]
    if not now.empty:
        best = now.iloc[0]
        label = (
            f"`{CANDIDATE_PROFILE}` fusion training, the project's path vs the trainer's old path"
        )
    name = best["name"].removesuffix(RATIO_SUFFIX)
    percent = _pick(frame, CANDIDATE_SECTION, name + PEAK_SUFFIX, CANDIDATE_PROFILE, "%")
    share = goal_line("its share of the float32 matmul peak", percent, GOAL_PEAK_PERCENT, "%")
    ratio = goal_line(f"{label} ({name})", float(best.value), GOAL_TRAINING_FACTOR, "x")
    lines = [ratio, "  " + share]
    if fastest != name:
        top = float(ratios.value.max())
        top_percent = _pick(frame, CANDIDATE_SECTION, fastest + PEAK_SUFFIX, CANDIDATE_PROFILE, "%")
        lines.append(
            f"  - fastest candidate ({fastest}): {_fmt(top)}x"
            + (f", {_fmt(top_percent)} % of the peak" if top_percent is not None else "")
        )
    return lines


def _comparison_headline(frame: pd.DataFrame) -> list[str]:
    """Goal lines of issue 12 from the comparison rows, each with its old path and ratio."""
    goals = [  # (label, comparison, profile, unit, goal: below it passes)
        ("`predict` one 30 s recording, cold start to answer", PREDICT_COLD_START, "cpu", "s",
         GOAL_PREDICT_COLD_S),
        ("`data index` cold start to answer", INDEX_COLD_START, "", "s", GOAL_INDEX_COLD_S),
        ("`predict` peak memory on a 2 h recording (600 MB)", PREDICT_PEAK, "cpu",
         "MiB peak RSS", GOAL_PREDICT_PEAK_MIB),
    ]  # fmt: skip
    lines = []
    for label, name, profile, unit, goal in goals:
        new = _pick(frame, COMPARISON_SECTION, f"{name}: new path", profile, unit)
        lines.append(goal_line(label, new, goal, unit, below=True))
        if new is not None:
            lines.append(_old_path_line(frame, name, profile, unit))
    new = _pick(frame, COMPARISON_SECTION, f"{MAIN_TABLE}: new path", "cpu", "min")
    lines.append(goal_line(f"{MAIN_TABLE} (recorded, see below)", new, GOAL_MAIN_TABLE_MIN,
                           "min", below=True))  # fmt: skip
    if new is not None:
        lines.append(_old_path_line(frame, MAIN_TABLE, "cpu", "min", "(9 runs one after another)"))
    new = _pick(frame, COMPARISON_SECTION, f"{DEMO}: new path", "smoke", "min")
    lines.append(goal_line(f"{DEMO} (recorded, see below)", new, GOAL_DEMO_MIN, "min", below=True))
    if new is not None:
        lines.append(_old_path_line(frame, DEMO, "smoke", "min", "(issue 12, 3 seeds, e883431)"))
    low, high = OLD_SWEEP_SAMPLES_PER_S
    name, unit = SWEEP_TRAINING, "samples/s"
    new = _pick(frame, COMPARISON_SECTION, f"{name}: new path", SWEEP_PROFILE, unit)
    label = (
        f"sweep training, `{SWEEP_PROFILE}` fusion, 2 runs at once (goal {GOAL_SWEEP_FACTOR:g}x "
        f"the {low:g}-{high:g} samples/s measured before, at the top of that range)"
    )
    lines.append(goal_line(label, new, GOAL_SWEEP_FACTOR * high, unit))
    if new is not None:
        bottom = GOAL_SWEEP_FACTOR * low
        lines.append(
            f"  - against {GOAL_SWEEP_FACTOR:g}x the bottom of that range ({bottom:g} {unit}): "
            f"**{'PASS' if new >= bottom else 'FAIL'}**"
        )
        lines.append(_old_path_line(frame, name, SWEEP_PROFILE, unit))
    return lines


def _old_path_line(
    frame: pd.DataFrame, name: str, profile: str, unit: str, where: str = "in this run"
) -> str:
    """``  - old path <where>: X unit; new vs old: Yx`` for one comparison."""
    old = _pick(frame, COMPARISON_SECTION, f"{name}: old path", profile, unit)
    ratio = _pick(frame, COMPARISON_SECTION, f"{name}: new vs old", profile, "x")
    return f"  - old path {where}: {_fmt(old)} {unit}; new vs old: {_fmt(ratio)}x"


def _section_table(frame: pd.DataFrame, section: str) -> str:
    """One section as a Markdown table: a row per measurement, a column per profile."""
    part = frame[frame.section == section].copy()
    part["profile"] = part["profile"].replace("", "-")
    part["measurement"] = part["name"] + " [" + part["unit"] + "]"
    order = list(dict.fromkeys(part["measurement"]))
    table = part.pivot_table(
        index="measurement", columns="profile", values="value", aggfunc="first", sort=False
    ).reindex(order)
    columns = [p for p in ("original", "smoke", "cpu", "paper", "-") if p in table.columns]
    table = table[columns].reset_index()
    table = table.map(lambda v: _fmt(v) if isinstance(v, float) else v)
    return format_table(table)


def _fmt(value: float | None) -> str:
    """Three significant digits, blank for missing values."""
    if value is None or pd.isna(value):
        return ""
    return f"{value:.3g}" if abs(value) < 1e3 else f"{value:,.0f}"


_SECTION_NOTES = {
    "features": "Recordings/s over the sampled recordings, one process (`n_jobs=1`) or the "
    "project's parallel extractor (`n_jobs=2`). The original recipe loads each "
    "whole file at 22050 Hz, builds the 224x224 log-Mel image and the 224-scale "
    "Morlet CWT scalogram and saves them as `.npy`; the CWT is so slow that it "
    "is timed on a subset (its `recordings` row).",
    "training": "`train_on_batch` (AdamW + binary cross-entropy, the trainer's compile) on "
    "random inputs, timed after one warm-up step (whose time, mostly graph "
    "tracing, is listed too).",
    "inference": "`predict_on_batch` per 5 s recording at batch 1 and batched; the 60 s "
    "recording goes through `Predictor.predict_samples` (features of every "
    "window + model). The 1-core rows come from a process pinned to CPU 0 with "
    "one TensorFlow thread, timed after start-up and one warm-up call: a fresh "
    "interpreter under `taskset -c 0` (the quick variant pins a forked child).",
    "memory": "Peak RSS (`ru_maxrss`) of the process that ran each measurement (a forked "
    "child; for the parallel extractor, its largest process). The baselines are "
    "forked children that do nothing: subtract them for the measurement's own cost.",
    "scaling": "Cost against recording length (full-recording windows, features + fusion "
    "model) and against dataset size (parallel extraction + batched fusion "
    "inference).",
    COMPARISON_SECTION: "Each measurement timed on the old path and on the new one, in the same run "
    "on the same machine; `new vs old` is the factor by which the new path wins (above 1: "
    "faster, or less memory). Cold starts: fresh `python -m audiofuse.cli` processes, start "
    "to exit (median). `predict`: the default model with its ONNX export (onnxruntime) "
    "against the same folder without it (Keras and TensorFlow). `data index`: against the "
    "same command in an interpreter that imports TensorFlow and Keras first, as every "
    "command did before its imports were made lazy. Peak memory: a fresh interpreter's own "
    "`VmHWM` while `Predictor.predict_samples` (onnxruntime) scores a recording tiled to "
    "2 h (20 min in quick runs), in batches of `WINDOW_BATCH` windows against all windows "
    "in one batch. Sweep training: `train_on_batch` on random inputs (no data loading), two "
    "single-threaded processes at once (`train-runs --workers 2`) against one process with "
    "TensorFlow's default threads; not measured in quick runs. The 3-seed `cpu` main table is "
    "not retrained by the benchmark (most of an hour): its new path is the wall time that "
    "`audiofuse train-runs` recorded for the latest call that trained all 9 runs "
    "(results/real/cpu/scores/train_runs.json; commit and date in the data column); its old "
    "path, the 9 runs of the main table committed at 9b1030d, trained one after another, "
    "the sum of their own training times.",
    CANDIDATE_SECTION: "Ways to train the `cpu` fusion on this machine, each in fresh training "
    "processes (the backend and thread settings are read at start-up): the model is built "
    "untrained, seeded and compiled as the trainer does (AdamW + binary cross-entropy), fed "
    "random float16 features through the trainer's own `FeatureBatches` (one window per "
    "record, class weights), warmed up by a `fit` of 2 batches (tracing), then timed over one "
    "`fit` of two epochs, as the trainer trains (the boundary between them included), of as "
    "many samples per process for every candidate (40 batches of 32, or fewer larger ones), "
    "up to the last epoch's end. The first row is the trainer's path before these candidates "
    "(TensorFlow, default threads, op determinism on, `jit_compile` auto, i.e. off on a CPU, "
    "batch 32, one step per call of the compiled training step, Keras' tf.data pipeline over "
    "the PyDataset with its autotuner on, whose iterator deletion can stall an epoch's first "
    "step for seconds, TensorFlow's own oneDNN default for this CPU: on only with "
    "AVX512-VNNI, AVX512-BF16, AVX-VNNI or AMX, see the header); each other row changes one "
    "thing of it, or two: jit_compile=True needs op determinism off (Keras refuses XLA with "
    "it), and two runs at once are single-threaded. The last rows combine changes: the "
    "trainer now (16 steps per call, which gives the same updates, `fit_input`'s "
    "pipeline without the autotuner, the same batches, and oneDNN on, which `import audiofuse` "
    "sets), `train-runs` now (two "
    "such runs at once, single-threaded) and, as ceilings, two recipe changes: the same at "
    "batch 64, and the same with every dropout off (what the recipe's dropout layers cost: "
    "their random masks are work that no FLOP count holds). `vs "
    "reference` is its samples/s over the first row's; `% of matmul peak` is 3x forward "
    "FLOPs x samples/s over the `peak` section's matmul peak. Several runs at once: their "
    "samples over the span from the first start to the last end. JAX runs are not seeded "
    "(Keras' seeding imports TensorFlow). A candidate that failed has no rows (see the log). "
    "Not measured in quick runs.",
    "peak": "Forward FLOPs per sample counted from the Keras layers (Conv, Dense, attention "
    "incl. score and value matmuls; 2 FLOPs per multiply-accumulate). Training counts "
    "3x forward. The fraction is of the best measured float32 matmul rate.",
}


def render_markdown(frame: pd.DataFrame, run: dict) -> str:
    """The human report: provenance, headline goals, then one table per section."""
    label = (
        "**SYNTHETIC recordings** (no real data used)"
        if run["data"] == "SYNTHETIC"
        else f"real PhysioNet 2016 recordings ({run['records']} sampled, seed 0)"
    )
    parts = [
        "# AudioFuse benchmark" + (" (quick)" if run["quick"] else ""),
        "",
        f"Machine `{run['machine']}`, {run['cores']} cores, commit `{run['commit']}`, "
        f"{label}. Measurements took {run['seconds']:.0f} s.",
        "",
        f"Load average before / after: {_load(run['load_before'])} / "
        f"{_load(run['load_after'])}. Timings are wall-clock; other work on the machine "
        "slows them and they are best read as ratios measured in the same run.",
        "",
        *_onednn_line(run),
        _headline(frame, run),
    ]
    for section in (*SECTIONS, CANDIDATE_SECTION, COMPARISON_SECTION):
        if (frame.section == section).any():
            parts += [
                f"## {section.capitalize()}",
                "",
                _SECTION_NOTES[section],
                "",
                _section_table(frame, section),
                "",
            ]
    parts += [
        "## Reproduce",
        "",
        "```",
        "make bench",
        "# or: audiofuse bench --data-dir ../shared/data [--out results/]",
        "```",
        "",
    ]
    return "\n".join(parts)


def _onednn_line(run: dict) -> list[str]:
    """Whether this CPU gets TensorFlow's oneDNN kernels by default (the old path's)."""
    if run.get("onednn_default") is None:
        return []
    state = "on" if run["onednn_default"] else "off"
    return [
        f"TensorFlow's own oneDNN default on this CPU: **{state}** (on only with AVX512-VNNI, "
        "AVX512-BF16, AVX-VNNI or AMX); `import audiofuse` turns it on, and the old-path rows "
        "keep TensorFlow's default.",
        "",
    ]


def _load(values) -> str:
    """Load averages (1, 5, 15 min) as text."""
    return " ".join(f"{v:.2f}" for v in values)
