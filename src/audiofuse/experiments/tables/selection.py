"""Diagnostics of the main models: what selection on the test list could gain, and
what each branch of the fusion contributes.

Neither table chooses anything. The validation carve-out of the training records
still picks every epoch, threshold and model; these tables only say, with numbers,
how far the honest result is from what choosing on the test list would report:

* **test selection**: runs trained with ``audiofuse train-runs --diagnostics``
  record their test ROC-AUC after every epoch (``DIAGNOSTIC_TEST_AUC``). The
  *epoch gain* is the best of that curve minus its value at the epoch the
  carve-out chose; the *run gain* is the best seed's test ROC-AUC minus the mean
  over seeds; both together pick the best epoch of the best seed.
* **branch knock-outs**: each fusion run scored again with one branch's input
  replaced by its training mean (:data:`~audiofuse.experiments.runs.KNOCKOUTS`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from audiofuse.model.run_dir import DIAGNOSTIC_TEST_AUC
from audiofuse.reporting import plots

from ... import evaluation
from ..context import Context
from ..specs import EVALUATIONS, PAPER_MODELS
from .plus import knockout_rows
from .summary import no_runs, publish, summary

__all__ = [
    "selection_rows",
    "selection_summary",
    "test_selection_table",
    "knockout_summary",
    "branch_knockout_table",
]


def selection_rows(ctx: Context, specs=PAPER_MODELS) -> tuple[pd.DataFrame, dict]:
    """Per-seed rows of every run that recorded the test diagnostic, and its curves.

    Returns
    -------
    rows : pandas.DataFrame
        ``model, seed, chosen_epoch, test_roc_auc, best_test_epoch,
        best_test_roc_auc, epoch_gain`` (epochs counted from 1; the chosen
        epoch is the carve-out's).
    curves : dict
        ``{(model, seed): (val_roc_auc, test_roc_auc)}`` per epoch, for the figure.
    """
    rows, curves = [], {}
    for spec in specs:
        for seed in ctx.seeds:
            run = ctx.run(spec, seed)
            state = run.state
            test_curve = run.history.get(DIAGNOSTIC_TEST_AUC) if state else None
            if not test_curve:
                continue
            chosen, best = state["best_epoch"], int(np.argmax(test_curve))
            rows.append(
                {
                    "model": spec.name,
                    "seed": seed,
                    "chosen_epoch": chosen + 1,
                    "test_roc_auc": test_curve[chosen],
                    "best_test_epoch": best + 1,
                    "best_test_roc_auc": test_curve[best],
                    "epoch_gain": test_curve[best] - test_curve[chosen],
                }
            )
            curves[(spec.name, seed)] = (run.history["val_roc_auc"], test_curve)
    return pd.DataFrame(rows), curves


def selection_summary(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per model: the honest mean and what each kind of test selection adds."""
    honest = evaluation.summarize_seeds(rows, ("model",), ("test_roc_auc",)).set_index("model")
    out = []
    for model, group in rows.groupby("model", sort=False):
        mean = honest.loc[model, "test_roc_auc_mean"]
        out.append(
            {
                "model": model,
                "seeds": len(group),
                "test ROC-AUC, epoch chosen on the carve-out (honest)": (
                    honest.loc[model, "test_roc_auc_fmt"]
                ),
                "+ best epoch on test (mean over seeds)": f"{group['epoch_gain'].mean():+.3f}",
                "+ best seed on test": f"{group['test_roc_auc'].max() - mean:+.3f}",
                "+ best seed and epoch on test": (
                    f"{group['best_test_roc_auc'].max() - mean:+.3f}"
                ),
                "best single test ROC-AUC seen": f"{group['best_test_roc_auc'].max():.3f}",
            }
        )
    return pd.DataFrame(out)


def test_selection_table(ctx: Context, specs=PAPER_MODELS) -> pd.DataFrame:
    """:func:`selection_summary` written as ``test_selection.md/.csv``, with the
    validation and test curves of every run in ``figures/test_selection_curves.png``;
    nothing when none of the runs is here."""
    if not any(ctx.run(spec, seed).state for spec in specs for seed in ctx.seeds):
        return no_runs(ctx, "test_selection")
    rows, curves = selection_rows(ctx, specs)
    figures = []
    if curves:
        figures.append(
            plots.plot_selection_curves(
                curves, ctx.results / "figures" / "test_selection_curves.png"
            )
        )
    table = selection_summary(rows) if len(rows) else pd.DataFrame()
    return publish(
        ctx,
        table,
        "test_selection",
        rows,
        title="How much could choosing on the test list explain? (a diagnostic; first 5 s)",
        notes=(
            "Every model here is chosen on the validation carve-out of the training records; "
            "its test ROC-AUC is the honest one. The test ROC-AUC after every epoch was "
            "recorded as a diagnostic only (`audiofuse train-runs --diagnostics`) and chose "
            "nothing. The gains are what a report would show had it picked the epoch, the "
            "seed, or both on the test list."
            if len(rows)
            else "No run here recorded the per-epoch test ROC-AUC; train them with "
            "`audiofuse train-runs --diagnostics`."
        ),
        figures=figures,
    )


def knockout_summary(runs: pd.DataFrame, knockouts: pd.DataFrame) -> pd.DataFrame:
    """Mean ± sd of each fusion's test ROC-AUC, whole and with each branch knocked out
    (first 5 s), and the drop: what the knocked-out branch contributes."""
    first = runs[(runs["kind"] == "fusion") & (runs["evaluation"] == EVALUATIONS[0])]
    both = pd.concat([first, knockouts], ignore_index=True)
    if both.empty:
        return pd.DataFrame()
    table = summary(both).set_index(["model", "evaluation"])
    out = []
    for model in first["model"].unique():
        whole = table.loc[(model, EVALUATIONS[0])]
        entry = {"model": model, "seeds": whole["n_seeds"], "ROC-AUC": whole["roc_auc_fmt"]}
        for branch in ("spectrogram", "waveform"):
            key = (model, f"knockout_{branch}")
            if key not in table.index:
                continue
            knocked = table.loc[key]
            entry[f"{branch} knocked out"] = knocked["roc_auc_fmt"]
            entry[f"drop ({branch} branch's share)"] = (
                f"{whole['roc_auc_mean'] - knocked['roc_auc_mean']:+.3f}"
            )
        out.append(entry)
    return pd.DataFrame(out)


def branch_knockout_table(ctx: Context, runs: pd.DataFrame, specs=PAPER_MODELS) -> pd.DataFrame:
    """:func:`knockout_summary` of the fusion runs among ``specs``, written as
    ``branch_knockouts.md/.csv`` (knock-outs scored here when only the model is saved);
    nothing without fusion runs."""
    if runs.empty:
        return no_runs(ctx, "branch_knockouts")
    knockouts = knockout_rows(ctx, [s for s in specs if s.kind == "fusion"])
    table = knockout_summary(runs, knockouts)
    if table.empty:
        return no_runs(ctx, "branch_knockouts")
    return publish(
        ctx,
        table,
        "branch_knockouts",
        knockouts,
        title="What each branch contributes: fusion ROC-AUC with one branch knocked out "
        "(first 5 s)",
        notes="A branch is knocked out by replacing its input with its mean over the "
        "training split; the threshold-free ROC-AUC it loses is its contribution.",
    )

