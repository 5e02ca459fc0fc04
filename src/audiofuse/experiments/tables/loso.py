"""Leave-one-subset-out on PhysioNet: does a model transfer to a site it never saw?

PhysioNet's test list comes from the same six sites as its training records,
so in-domain ROC-AUC also rewards recognising the site. Here each subset
(``training-a`` ... ``f``) is held out in turn; the model trains on all
records of the other five and is scored on every record of the held-out one.
Thresholds play no part: the table reports ROC-AUC per held-out subset and its
mean over the six.

Neural rows (:data:`~audiofuse.experiments.specs.LOSO_MODELS`) need a training
run per fold, six per model and seed; each fold's run has its own folder
(:meth:`~audiofuse.experiments.Context.fold_run`) and is scored like any other
run, with the held-out subset as its test split. One seed per fold by default.
"""

from __future__ import annotations

import pandas as pd
from sklearn.metrics import roc_auc_score

from audiofuse.data.protocols import leave_one_subset_out
from audiofuse.data.splits import balance_strata, record_weights
from audiofuse.reporting.provenance import git_commit

from ..context import Context, physionet_index
from ..runs import scored_run
from ..specs import BALANCE_LABELS, EVALUATIONS, LOSO_MODELS
from .classical import MODEL_NAME, featurize_split, fit_and_score, index_classical_features
from .summary import no_runs, publish

__all__ = ["loso_classical", "loso_neural", "loso_table"]


def loso_classical(
    ctx: Context, *, full_recording: bool = True, balances=("label", "subset")
) -> pd.DataFrame:
    """Classical baseline, one row per (balance, evaluation, seed, held-out subset).

    Returns
    -------
    pandas.DataFrame
        Columns ``model, balance, evaluation, seed, held_out, n, n_abnormal, roc_auc``.
    """
    table = physionet_index(ctx).drop_duplicates("record").reset_index(drop=True)
    subsets = table.set_index("record")["subset"]
    modes = [("first_5s", False)] + ([("full_recording", True)] if full_recording else [])
    featurize_split(ctx, [windows for _, windows in modes])
    rows = []
    for evaluation_name, windows in modes:
        x, meta = index_classical_features(ctx, table, windows)
        meta = meta.assign(subset=subsets.loc[meta["record"]].to_numpy())
        for fold in leave_one_subset_out(table):
            is_train = meta["record"].isin(fold.train).to_numpy()
            m_train = meta[is_train].reset_index(drop=True)
            m_test = meta[~is_train].reset_index(drop=True)
            for balance in balances:
                balanced = {}
                if balance == "subset":
                    balanced = {
                        "sample_weight": record_weights(m_train, balance),
                        "strata": balance_strata(m_train, balance),
                    }
                for seed in ctx.seeds:
                    _, scored = fit_and_score(
                        x[is_train], m_train, x[~is_train], m_test, seed, balanced
                    )
                    rows.append(_row(MODEL_NAME, balance, evaluation_name, seed, fold.name, scored))
    return pd.DataFrame(rows)


def _row(model, balance, evaluation_name, seed, held_out, scored) -> dict:
    return {
        "model": model,
        "balance": BALANCE_LABELS[balance],
        "evaluation": evaluation_name,
        "seed": seed,
        "held_out": f"training-{held_out}",
        "n": len(scored),
        "n_abnormal": int(scored["label"].sum()),
        "roc_auc": float(roc_auc_score(scored["label"], scored["score"])),
    }


def loso_neural(
    ctx: Context, specs=LOSO_MODELS, *, full_recording: bool = True, seeds=None
) -> pd.DataFrame:
    """Neural models, one row per (model, evaluation, seed, held-out subset).

    Trains (or reuses) one run per fold; with ``ctx.train`` false, folds not
    trained and scored here are skipped and named on stderr.

    Parameters
    ----------
    seeds : sequence of int, optional
        Defaults to the context's first seed (one seed per fold).

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`loso_classical`.
    """
    names = EVALUATIONS if full_recording else EVALUATIONS[:1]
    folds = leave_one_subset_out(physionet_index(ctx))
    rows = []
    for spec in specs:
        balance = spec.profile(ctx.profile).train.balance
        for seed in ctx.seeds[:1] if seeds is None else seeds:
            for fold in folds:
                run = scored_run(ctx, spec, seed, full_recording=full_recording, fold=fold)
                if run is None:
                    continue
                for name in names:
                    _, test = run.scores(name)
                    rows.append(_row(spec.name, balance, name, seed, fold.name, test))
    return pd.DataFrame(rows)


def loso_table(ctx: Context, runs: pd.DataFrame) -> pd.DataFrame:
    """Held-out ROC-AUC per subset (mean over seeds) and the mean over subsets.

    Writes ``loso.md``/``.csv`` and ``loso_per_seed.csv`` into ``ctx.results``;
    nothing without neural rows (the classical rows alone make no table).
    """
    if runs.empty or (runs["model"] == MODEL_NAME).all():
        return no_runs(ctx, "loso")
    keys = ["model", "balance", "evaluation"]
    per_subset = runs.groupby([*keys, "held_out"], sort=False)["roc_auc"].mean().unstack()
    seeds = runs.groupby(keys, sort=False)["seed"].nunique().rename("seeds")
    table = per_subset.reset_index().merge(seeds.reset_index(), on=keys)
    table["mean over subsets"] = per_subset.to_numpy().mean(axis=1)
    table["subsets below 0.5"] = (per_subset.to_numpy() < 0.5).sum(axis=1)
    return publish(
        ctx,
        table,
        "loso",
        runs,
        title="Leave-one-subset-out on PhysioNet 2016: ROC-AUC on the held-out subset",
        prov=ctx.prov(commit=git_commit()),
        notes=(
            "Each column holds one subset out: the model is trained on every record of the "
            "other five subsets (the official test records included) and scored on every "
            "record of the held-out one. Mean over the row's seeds. Compare with the same "
            "model's in-domain ROC-AUC on the official test list (main table)."
        ),
        digits=3,
    )
