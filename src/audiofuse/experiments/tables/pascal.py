"""Cross-dataset: PhysioNet-trained models on PASCAL, scored, tabled and drawn apart."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from audiofuse import evaluation
from audiofuse.reporting import plots
from audiofuse.reporting.paper import PAPER_PASCAL

from ..context import Context
from ..runs import pascal_scored, pascal_scores
from ..specs import PAPER_MODELS, ModelSpec
from .summary import no_runs, publish, with_figures

__all__ = ["cross_dataset", "pascal_rows", "pascal_run_rows", "pascal_table", "pascal_figure"]

_NOTES = (
    "`zero_shot`: all labelled PASCAL recordings, PhysioNet threshold. "
    "`head_trained`: backbone frozen, head trained on 85 % of PASCAL, tested on a "
    "stratified 15 %, repeated over *head splits* (each its own 85/15 split and head); "
    "mean ± sd over every seed and split. Change is relative to the same model's "
    "PhysioNet test ROC-AUC. "
    "The paper's table does not say which protocol its numbers come from."
)


def pascal_run_rows(
    spec: ModelSpec,
    slug: str,
    seed: int,
    physionet: tuple[pd.DataFrame, pd.DataFrame],
    pascal: pd.DataFrame,
    n_boot: int,
    config: dict | None = None,
) -> list[dict]:
    """The two protocol rows of one run, from its PhysioNet ``(val, test)`` and PASCAL scores.

    ``slug`` names the run folder; ``config`` is the run's ``config.json``.
    """
    val, physio_test = physionet
    config = config or {}
    physio_auc = roc_auc_score(physio_test["label"], physio_test["score"])
    head = pascal[pascal["protocol"] == "head_trained"]
    if "head_split" not in head:  # saved before the protocol was repeated over splits
        head = head.assign(head_split=0)
    protocols = [("zero_shot", None, val, pascal[pascal["protocol"] == "zero_shot"])]
    for k, split in head.groupby("head_split", sort=True):
        protocols.append(
            ("head_trained", int(k), split[split["split"] == "val"], split[split["split"] == "test"])
        )
    rows = []
    for protocol, head_split, threshold_from, scored in protocols:
        threshold = evaluation.choose_threshold(threshold_from["label"], threshold_from["score"])
        metrics = evaluation.evaluate(
            scored["label"], scored["score"], threshold, n_boot=n_boot, seed=seed
        )
        rows.append(
            {
                "model": spec.name,
                "kind": spec.kind,
                "slug": slug,
                "seed": seed,
                "protocol": protocol,
                "head_split": head_split,
                "n_test": len(scored),
                "physionet_roc_auc": physio_auc,
                "change_pct": 100 * (metrics["roc_auc"] - physio_auc) / physio_auc,
                "backend": config.get("backend", "unknown"),
                "train_commit": config.get("commit", "unknown"),
                **metrics,
            }
        )
    return rows


def _score_runs(ctx: Context, specs, test_fraction: float) -> tuple[pd.DataFrame, dict]:
    """Per-seed rows of every scored run, and the first seed's zero-shot curves per model."""
    rows, curves = [], {}
    for spec in specs:
        for seed in ctx.seeds:
            run = ctx.run(spec, seed)
            if not run.scores_path("first_5s").exists():
                print(f"{run.path}: no PhysioNet scores; skipped", file=sys.stderr)
                continue
            if not pascal_scored(ctx, spec, seed) and not run.checkpoint("best").exists():
                # restored scores without PASCAL's: there is no model to score PASCAL with
                print(f"{run.path}: no PASCAL scores and no model; skipped", file=sys.stderr)
                continue
            pascal = pascal_scores(ctx, spec, seed, test_fraction=test_fraction)
            slug, physionet = spec.run_slug(ctx.profile), run.scores("first_5s")
            rows += pascal_run_rows(spec, slug, seed, physionet, pascal, ctx.n_boot, run.config)
            if seed == ctx.seeds[0]:
                zero = pascal[pascal["protocol"] == "zero_shot"]
                curves[spec.name] = (zero["label"].to_numpy(), zero["score"].to_numpy())
    return pd.DataFrame(rows), curves


def pascal_rows(runs: pd.DataFrame) -> pd.DataFrame:
    """The cross-dataset table from per-seed rows: one row per (model, protocol)."""
    summary = evaluation.summarize_seeds(
        runs, group_cols=("model", "protocol"), metrics=("roc_auc", "mcc", "accuracy", "change_pct")
    )
    table = []
    for row in summary.itertuples(index=False):
        kind = runs.loc[runs["model"] == row.model, "kind"].iloc[0]
        paper = PAPER_PASCAL.get(kind, {})
        same = (runs["model"] == row.model) & (runs["protocol"] == row.protocol)
        table.append(
            {
                "model": row.model,
                "protocol": row.protocol,
                "seeds": runs.loc[same, "seed"].nunique(),
                "head splits": runs.loc[same, "head_split"].nunique() if row.protocol
                == "head_trained" else "—",
                "n test": int(runs.loc[same, "n_test"].iloc[0]),
                "PASCAL ROC-AUC": row.roc_auc_fmt,
                "change vs PhysioNet (%)": row.change_pct_fmt,
                "MCC": row.mcc_fmt,
                "Accuracy": row.accuracy_fmt,
                "paper ROC-AUC": paper.get("roc_auc", np.nan),
                "paper change (%)": paper.get("change_pct", np.nan),
            }
        )
    return pd.DataFrame(table)


def pascal_table(ctx: Context, runs: pd.DataFrame, name: str = "pascal_robustness") -> pd.DataFrame:
    """Write ``name`` (.md/.csv) and its per-seed rows; return the table."""
    table = pascal_rows(runs)
    return publish(
        ctx,
        table,
        name,
        runs,
        title="Cross-dataset: trained on PhysioNet 2016, tested on PASCAL",
        notes=_NOTES,
    )


def pascal_figure(ctx: Context, curves: dict, name: str = "pascal") -> list[Path]:
    """ROC curves of the zero-shot protocol (first seed); none without curves."""
    if not curves:
        return []
    return [
        plots.plot_roc_curves(
            curves,
            ctx.results / "figures" / f"roc_{name}_zero_shot.png",
            title=f"ROC, PASCAL zero-shot ({ctx.data}, {ctx.profile.name})",
        )
    ]


def cross_dataset(
    ctx: Context,
    specs=PAPER_MODELS,
    physionet_runs: pd.DataFrame | None = None,
    *,
    test_fraction: float = 0.15,
    name: str = "pascal_robustness",
) -> pd.DataFrame:
    """PhysioNet-trained models on PASCAL, under two protocols.

    ``zero_shot``: every labelled PASCAL recording, first 5 s, with the
    threshold chosen on the PhysioNet validation carve-out.
    ``head_trained`` (the paper's): the backbone frozen, the MLP head trained
    on a stratified 85 % of PASCAL, tested on the other 15 % (88 recordings),
    threshold from the head's inner validation split.

    ``name`` names the table (``<name>.md/.csv``) and, unless it is the
    paper's table, its figure (``roc_<name>_zero_shot.png``). The figure's
    path is in the returned table's ``attrs["figures"]``.
    """
    runs, curves = _score_runs(ctx, specs, test_fraction)
    if runs.empty:
        return no_runs(ctx, name)
    table = pascal_table(ctx, runs, name)
    figure = "pascal" if name == "pascal_robustness" else name
    return with_figures(table, pascal_figure(ctx, curves, figure))
