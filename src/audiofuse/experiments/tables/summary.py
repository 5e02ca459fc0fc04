"""What every table shares: the metrics shown, seed summaries and provenance."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ... import evaluation

__all__ = ["SHOWN", "summary", "ci_text", "trained_by", "with_figures"]

SHOWN = ("roc_auc", "mcc", "f1_abnormal", "accuracy", "sensitivity", "specificity", "macc")


def summary(runs: pd.DataFrame, group=("model", "evaluation")) -> pd.DataFrame:
    """Mean ± sd over seeds of the :data:`SHOWN` metrics, per ``group``."""
    return evaluation.summarize_seeds(runs, group_cols=group, metrics=SHOWN)


def ci_text(runs: pd.DataFrame, model: str, evaluation_name: str, metric: str) -> str:
    """95 % bootstrap CI of the first seed, as text."""
    row = runs[(runs["model"] == model) & (runs["evaluation"] == evaluation_name)].iloc[0]
    return f"[{row[f'{metric}_ci_low']:.3f}, {row[f'{metric}_ci_high']:.3f}]"


def trained_by(runs: pd.DataFrame) -> dict:
    """Backend and commit that trained a table's runs (which may predate the table)."""
    if "backend" not in runs or "train_commit" not in runs:
        return {}
    trained = runs.dropna(subset=["backend", "train_commit"])  # classical rows have none
    pairs = sorted(
        {f"{b} @ {c}" for b, c in zip(trained["backend"], trained["train_commit"], strict=True)}
    )
    return {"trained": "; ".join(pairs)} if pairs else {}


def with_figures(table: pd.DataFrame, figures: list[Path]) -> pd.DataFrame:
    """``table`` carrying the paths of the figures written with it, in ``table.attrs["figures"]``.

    Tables stay plain DataFrames for the notebooks; callers that want the
    figures read them from ``attrs`` instead of retyping file names.
    """
    table.attrs["figures"] = [Path(p) for p in figures]
    return table
