"""The paper's main comparison (and the baselines table): ours beside the paper's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from audiofuse.reporting import plots
from audiofuse.reporting.paper import PAPER_MAIN

from ... import evaluation
from ..context import Context
from .summary import SHOWN, ci_text, no_runs, publish, summary

__all__ = ["main_table", "main_rows", "main_figures"]

_NOTES = (
    "Mean ± sd over seeds; the decision threshold is chosen on the validation carve-out "
    "of the training records (Youden's J), never on the test split. `first_5s` is the "
    "paper's protocol; `full_recording` averages P(abnormal) over 5 s windows covering "
    "each whole recording. Paper columns are the published single-run numbers."
)


def main_rows(runs: pd.DataFrame) -> pd.DataFrame:
    """The main table from per-seed rows: one row per (model, evaluation)."""
    table = []
    for row in summary(runs).itertuples(index=False):
        kind = runs.loc[runs["model"] == row.model, "kind"].iloc[0]
        paper = PAPER_MAIN.get(kind, {}) if row.evaluation == "first_5s" else {}
        entry = {"model": row.model, "evaluation": row.evaluation, "seeds": row.n_seeds}
        for metric in SHOWN:
            entry[evaluation.METRIC_LABELS[metric]] = getattr(row, f"{metric}_fmt")
        entry["ROC-AUC 95% CI (seed 1)"] = ci_text(runs, row.model, row.evaluation, "roc_auc")
        same = (runs["model"] == row.model) & (runs["evaluation"] == row.evaluation)
        entry["threshold"] = round(float(runs.loc[same, "threshold"].mean()), 3)
        for metric in ("roc_auc", "mcc", "f1_abnormal", "accuracy"):
            entry[f"paper {evaluation.METRIC_LABELS[metric]}"] = paper.get(metric, np.nan)
        table.append(entry)
    return pd.DataFrame(table)


def main_table(
    ctx: Context,
    runs: pd.DataFrame,
    *,
    name="main_comparison",
    extra_rows: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The paper's main comparison, ours (mean ± sd over seeds) beside the paper's.

    Also writes ROC curves and confusion matrices of the first seed; their
    paths are in the returned table's ``attrs["figures"]``. No table without
    neural runs (``extra_rows`` alone, e.g. the classical baseline, make none).
    """
    if runs.empty:
        return no_runs(ctx, name)
    if extra_rows is not None:
        runs = pd.concat([runs, extra_rows], ignore_index=True)
    table = main_rows(runs)
    prefix = "" if name == "main_comparison" else name.replace("_", " ").capitalize() + ": "
    return publish(
        ctx,
        table,
        name,
        runs,
        title=(
            f"{prefix}PhysioNet 2016 test split ({int(runs['n'].iloc[0])} records): "
            "ours vs the paper"
        ),
        notes=_NOTES,
        figures=main_figures(ctx, runs, name),
    )


def main_figures(ctx: Context, runs: pd.DataFrame, name: str) -> list[Path]:
    """ROC curves per evaluation and confusion matrices per model, first seed."""
    seed, figures = ctx.seeds[0], []
    for evaluation_name in runs["evaluation"].unique():
        curves = {}
        for slug, model in runs[["slug", "model"]].drop_duplicates().itertuples(index=False):
            run = ctx.run(slug, seed)
            if not run.scores_path(evaluation_name).exists():
                continue
            val, test = run.scores(evaluation_name)
            curves[model] = (test["label"].to_numpy(), test["score"].to_numpy())
            threshold = evaluation.choose_threshold(val["label"], val["score"])
            figures.append(
                plots.plot_confusion_matrix(
                    test["label"],
                    (test["score"] >= threshold).astype(int),
                    ctx.results / "figures" / f"confusion_{slug}_{evaluation_name}.png",
                    title=f"{model}, {evaluation_name} ({ctx.data}, {ctx.profile.name})",
                )
            )
        if curves:
            figures.append(
                plots.plot_roc_curves(
                    curves,
                    ctx.results / "figures" / f"roc_{name}_{evaluation_name}.png",
                    title=f"ROC, PhysioNet test, {evaluation_name} "
                    f"({ctx.data}, {ctx.profile.name}, seed {seed})",
                )
            )
    return figures
