"""AudioFuse+ (beyond the paper): the cumulative recipe ladder, with branch knock-outs.

Each rung of :data:`~audiofuse.experiments.specs.PLUS_LADDER` adds one
ingredient to the one before; :data:`~audiofuse.experiments.specs.PLUS_BRANCHES`
are the single branches trained with the final recipe, so that "fusion minus
its best single branch" compares like with like. Every fusion row also gives
its ROC-AUC with each branch's input replaced by its training mean (what the
AUC loses is what that branch contributes), and every model with two or more
seeds gets a seed-ensemble row (the mean of the seeds' scores per record),
reported apart from the single-model mean ± sd.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from ..context import Context
from ..runs import KNOCKOUTS, knockout_scores, score_rows
from ..specs import EVALUATIONS, PLUS_BRANCHES, PLUS_LABEL_BALANCE, PLUS_LADDER
from .summary import no_runs, publish, summary, trained_by

__all__ = ["knockout_rows", "ensemble_rows", "ladder_rows", "plus_ladder_table"]

_KNOCKOUT_COLUMNS = {
    "knockout_spectrogram": "ROC-AUC, spectrogram knocked out",
    "knockout_waveform": "ROC-AUC, waveform knocked out",
}


def knockout_rows(ctx: Context, specs=PLUS_LADDER) -> pd.DataFrame:
    """Per-seed rows (``evaluation`` = a :data:`KNOCKOUTS` name) of every fusion run.

    Scores the knock-outs of runs whose model is here; runs that only have
    saved scores (e.g. restored from ``results/.../scores``) are read as they are.
    """
    rows = []
    for spec in specs:
        for seed in ctx.seeds:
            run = ctx.run(spec, seed)
            if spec.kind != "fusion" or run.state is None:
                continue
            if knockout_scores(ctx, spec, seed):
                rows += score_rows(ctx, spec, seed, KNOCKOUTS)
    return pd.DataFrame(rows)


def ensemble_rows(ctx: Context, runs: pd.DataFrame) -> pd.DataFrame:
    """ROC-AUC of the seed ensemble (mean test score per record) of every model with 2+ seeds.

    Only the ROC-AUC: each seed has its own validation carve-out, so there is
    no common carve-out to choose an ensemble threshold on.
    """
    rows = []
    if runs.empty:
        return pd.DataFrame(rows)
    for (slug, evaluation_name), group in runs.groupby(["slug", "evaluation"], sort=False):
        if group["seed"].nunique() < 2:
            continue
        tests = [
            ctx.run(slug, seed).scores(evaluation_name)[1].set_index("record")
            for seed in sorted(group["seed"].unique())
        ]
        score = pd.concat([t["score"] for t in tests], axis=1).mean(axis=1)
        labels = tests[0]["label"].loc[score.index]
        rows.append(
            {
                "model": f"{group['model'].iloc[0]}, ensemble of {len(tests)} seeds",
                "slug": slug,
                "evaluation": evaluation_name,
                "seeds": len(tests),
                "roc_auc": float(roc_auc_score(labels, score)),
            }
        )
    return pd.DataFrame(rows)


# The two ladders: rung numbers are the ingredients added (0 = subset balance alone).
# On the paper's balance, rung 0 is the faithful fusion of the main table.
_LADDERS = {"within each subset": PLUS_LADDER, "overall (paper)": (None, *PLUS_LABEL_BALANCE)}


def _rung_of(model: str) -> tuple[str, int | None, str | None]:
    """``(class balance, rung, name of the rung before)`` of a table row's model."""
    for balance, ladder in _LADDERS.items():
        names = [spec.name if spec else None for spec in ladder]
        if model in names:
            rung = names.index(model)
            return balance, rung, names[rung - 1] if rung else None
    branch = next((s for s in PLUS_BRANCHES if s.name == model), None)
    return ("overall (paper)" if branch else "—"), None, None


def ladder_rows(
    runs: pd.DataFrame, knockouts: pd.DataFrame, ensembles: pd.DataFrame
) -> pd.DataFrame:
    """The ladder table from per-seed rows: one row per (model, evaluation).

    ``Δ ROC-AUC`` is each rung's mean minus the rung before it on the same
    ladder (same evaluation); knock-outs are on the first 5 s, the paper's protocol.
    """
    table = summary(runs)
    out = []
    for row in table.itertuples(index=False):
        balance, rung, before = _rung_of(row.model)
        entry = {
            "class balance": balance,
            "rung": "—" if rung is None else rung,
            "model": row.model,
            "evaluation": row.evaluation,
            "seeds": row.n_seeds,
            "ROC-AUC": row.roc_auc_fmt,
            "Δ ROC-AUC vs rung before": _delta(table, row, before),
            "MCC": row.mcc_fmt,
            "Se": row.sensitivity_fmt,
            "Sp": row.specificity_fmt,
        }
        for name, column in _KNOCKOUT_COLUMNS.items():
            entry[column] = _knockout_text(knockouts, row.model, row.evaluation, name)
        out.append(entry)
    for row in ensembles.itertuples(index=False):
        out.append(
            {"class balance": _rung_of(row.model.rsplit(", ensemble", 1)[0])[0], "rung": "—"}
            | {"model": row.model, "evaluation": row.evaluation, "seeds": row.seeds}
            | {"ROC-AUC": f"{row.roc_auc:.3f}"}
        )
    return pd.DataFrame(out).fillna("—")


def _delta(table: pd.DataFrame, row, before: str | None) -> str:
    if before is None:
        return "—"
    previous = table[(table["model"] == before) & (table["evaluation"] == row.evaluation)]
    if previous.empty:
        return "—"
    return f"{row.roc_auc_mean - previous['roc_auc_mean'].iloc[0]:+.3f}"


def _knockout_text(knockouts: pd.DataFrame, model: str, evaluation_name: str, name: str) -> str:
    if knockouts.empty or evaluation_name != EVALUATIONS[0]:
        return "—"
    values = knockouts.loc[
        (knockouts["model"] == model) & (knockouts["evaluation"] == name), "roc_auc"
    ]
    if values.empty:
        return "—"
    sd = values.std(ddof=1) if len(values) > 1 else np.nan
    return f"{values.mean():.3f}" if np.isnan(sd) else f"{values.mean():.3f} ± {sd:.3f}"


def plus_ladder_table(
    ctx: Context, runs: pd.DataFrame, knockouts: pd.DataFrame, ensembles: pd.DataFrame
) -> pd.DataFrame:
    """:func:`ladder_rows` written as ``plus_ladder.md/.csv``, with the per-seed rows
    (none without a rung above the ladders' start: the paper profile holds only the
    subset-balanced fusion, which is the balance ablation's, and that compares nothing)."""
    if runs.empty:
        return no_runs(ctx, "plus_ladder")
    if not {_rung_of(model)[1] for model in runs["model"].unique()} - {None, 0}:
        return no_runs(
            ctx, "plus_ladder", "no rung above the ladders' start is trained and scored here"
        )
    table = ladder_rows(runs, knockouts, ensembles)
    return publish(
        ctx,
        table,
        "plus_ladder",
        pd.concat([runs, knockouts], ignore_index=True),
        title="AudioFuse+ (beyond the paper): the recipe ladder (PhysioNet test split)",
        prov=ctx.prov(**trained_by(runs)),
        notes="Each numbered rung adds one ingredient to the rung before it on the same "
        "ladder: (0) classes balanced within each subset, (1) auxiliary branch heads, (2) "
        "warm-up, cosine decay and weight EMA, (3) augmentation. The second ladder adds the "
        "same ingredients on the paper's class balance (its rung 0 is the faithful fusion of "
        "the main table); its rung 2 is the `plus` recipe, and its rung 3 starts that "
        "recipe's fusion from its trained single branches (the rows without a rung, same "
        "seed) instead of from scratch (staged training). Subset balance matches the "
        "composition of PhysioNet's test list, which other sources need not share. The rows "
        "without a rung are the single branches trained with the `plus` recipe and the "
        "seed ensembles (the mean of the seeds' scores per record, "
        "ROC-AUC only: each seed has its own validation carve-out, so there is no common "
        "one for a threshold). *Knocked out*: the first-5 s ROC-AUC with that branch's "
        "input replaced by its mean over the training split. Thresholds (MCC, Se, Sp) come "
        "from each seed's validation carve-out; the test split is only scored.",
    )
