"""The robust default: every measure of the selection protocol, per candidate.

The protocol (``docs/selection-protocol.md``) chooses the model that ``predict``
ships on measures that imitate recordings from elsewhere: the validation
carve-out at two lengths, PASCAL per set without its ``artifact`` recordings, the
length-independence of PASCAL set B's normals, and leave-one-subset-out folds. The
PhysioNet test list is reported beside them and never used to choose.

Every number comes from a run's saved scores (``scores_*.csv``), so the table
rebuilds from committed scores without a model.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from audiofuse.data.indexes import index_pascal
from audiofuse.data.protocols import selection_folds

from ... import evaluation
from ..context import Context, physionet_index
from ..runs import SHORT_CLIP, pascal_scores, scored_run, short_clip_scores
from ..specs import PAPER_MODELS, PLUS_RECIPE, ROBUST_CANDIDATES, ModelSpec, screen_only
from .summary import publish

__all__ = [
    "LENGTH_RHO_GATE",
    "REFERENCES",
    "travelling_threshold",
    "pascal_measures",
    "robust_run_row",
    "robust_runs",
    "robust_rows",
    "selection_fold_rows",
    "selection_loso",
    "screen_scores",
    "final_scores",
    "FINAL_WEIGHTS",
    "robust_default",
]

#: The models shipped before the protocol (their seed-0 runs), shown beside the candidates.
REFERENCES = {PLUS_RECIPE: "audiofuse-plus", PAPER_MODELS[2]: "audiofuse-cpu"}

#: Gate L of the protocol: largest |Spearman rho| of P(abnormal) with length
#: allowed among PASCAL set B's normal recordings.
LENGTH_RHO_GATE = 0.15

_NOTES = (
    "Selection measures (docs/selection-protocol.md): **O**, **M** mean ROC-AUC and MAcc over "
    "the held-out subsets, the test list left out of every fold (seed 0; — until every fold "
    "is trained); **C** carve-out ROC-AUC, mean of first 5 s "
    "and first 3 s; **P** PASCAL zero-shot ROC-AUC, mean of set A and set B, `artifact` left out; "
    "**L** Spearman rho of P(abnormal) with length among set B's normals (gate |rho| <= 0.15). "
    "Reported only, never used to choose: the PhysioNet test list (first 5 s, first 3 s, full "
    "recording) and its Se / Sp / MAcc at the candidate's own threshold, chosen by Youden's J on "
    "the carve-out scored at both lengths. mean ± sd over seeds."
)


def travelling_threshold(val_5s: pd.DataFrame, val_short: pd.DataFrame) -> float:
    """Youden's J threshold on the carve-out scored at full clip length and cut short,
    pooled: a threshold that holds for short inputs as well as long ones."""
    pooled = pd.concat([val_5s, val_short], ignore_index=True)
    return evaluation.choose_threshold(pooled["label"], pooled["score"])


def _auc(frame: pd.DataFrame) -> float:
    if frame["label"].nunique() < 2:
        return float("nan")
    return float(roc_auc_score(frame["label"], frame["score"]))


def pascal_measures(zero_shot: pd.DataFrame, index: pd.DataFrame, threshold: float) -> dict:
    """PASCAL zero-shot measures of one run.

    Parameters
    ----------
    zero_shot : DataFrame
        ``record, label, score`` of every labelled PASCAL recording.
    index : DataFrame
        :func:`audiofuse.data.index_pascal`'s table (``set``, ``original_class``,
        ``duration``).
    threshold : float
        The run's own threshold, for the decision measures.
    """
    scored = zero_shot.merge(
        index[["record", "set", "original_class", "duration"]], on="record", how="left"
    )
    clean = scored[scored["original_class"] != "artifact"]
    out = {}
    for name, part in (("a", clean[clean["set"] == "A"]), ("b", clean[clean["set"] == "B"])):
        out[f"pascal_{name}_auc"] = _auc(part)
    out["pascal_auc"] = float(np.nanmean([out["pascal_a_auc"], out["pascal_b_auc"]]))
    out["pascal_with_artifact_auc"] = _auc(scored)
    normals_b = scored[(scored["set"] == "B") & (scored["label"] == 0)]
    rho = (
        spearmanr(normals_b["duration"], normals_b["score"]).statistic
        if len(normals_b) > 2
        else np.nan
    )
    out["pascal_b_length_rho"] = float(rho)
    decided = evaluation.binary_metrics(clean["label"], clean["score"], threshold)
    out |= {f"pascal_{k}": decided[k] for k in ("sensitivity", "specificity", "macc")}
    return out


def robust_run_row(
    ctx: Context, spec: ModelSpec, seed: int, pascal_index: pd.DataFrame
) -> dict | None:
    """Every measure of one run, from its saved scores; None when some are missing."""
    run = ctx.run(spec, seed)
    needed = ("first_5s", SHORT_CLIP, "full_recording")
    missing = [name for name in needed if not run.scores_path(name).exists()]
    if missing or not run.scores_path("pascal").exists():
        return None  # not trained here: the table says so once, in robust_default
    (val_5s, test_5s), (val_short, test_short) = run.scores("first_5s"), run.scores(SHORT_CLIP)
    _, test_full = run.scores("full_recording")
    threshold = travelling_threshold(val_5s, val_short)
    row = {
        "model": spec.name,
        "kind": spec.kind,
        "slug": spec.run_slug(ctx.profile),
        "seed": seed,
        "threshold": threshold,
        "val_5s_auc": _auc(val_5s),
        "val_3s_auc": _auc(val_short),
    }
    row["carve_out_auc"] = (row["val_5s_auc"] + row["val_3s_auc"]) / 2
    for name, test in (("5s", test_5s), ("3s", test_short), ("full", test_full)):
        row[f"test_{name}_auc"] = _auc(test)
        row[f"test_{name}_abnormal_mean_p"] = float(test.loc[test["label"] == 1, "score"].mean())
        decided = evaluation.binary_metrics(test["label"], test["score"], threshold)
        row |= {f"test_{name}_{k}": decided[k] for k in ("sensitivity", "specificity", "macc")}
    pascal = run.scores("pascal", split=False)
    row |= pascal_measures(pascal[pascal["protocol"] == "zero_shot"], pascal_index, threshold)
    row["screen_score"] = (row["carve_out_auc"] + row["pascal_auc"]) / 2
    row["passes_length_gate"] = bool(abs(row["pascal_b_length_rho"]) <= LENGTH_RHO_GATE)
    return row


def selection_fold_rows(ctx: Context, spec: ModelSpec, seed: int) -> list[dict]:
    """One row per held-out subset of :func:`audiofuse.protocols.selection_folds` (first
    5 s): ``fold, n, n_abnormal, roc_auc, sensitivity, specificity, macc, threshold``,
    each fold at its own run's travelling threshold; empty until every fold's run is
    scored."""
    rows = []
    for fold in selection_folds(physionet_index(ctx)):
        run = ctx.fold_run(spec, seed, fold)
        if not (run.scores_path("first_5s").exists() and run.scores_path(SHORT_CLIP).exists()):
            return []
        (val_5s, held_out), (val_short, _) = run.scores("first_5s"), run.scores(SHORT_CLIP)
        threshold = travelling_threshold(val_5s, val_short)
        decided = evaluation.binary_metrics(held_out["label"], held_out["score"], threshold)
        rows.append(
            {
                "fold": fold.name,
                "n": len(held_out),
                "n_abnormal": int(held_out["label"].sum()),
                "roc_auc": _auc(held_out),
                **{k: decided[k] for k in ("sensitivity", "specificity", "macc")},
                "threshold": threshold,
            }
        )
    return rows


def selection_loso(ctx: Context, spec: ModelSpec, seed: int) -> dict:
    """Measures O and M of the protocol: mean ROC-AUC and MAcc over the held-out subsets
    (:func:`selection_fold_rows`); empty until every fold's run is scored."""
    rows = selection_fold_rows(ctx, spec, seed)
    if not rows:
        return {}
    return {
        "loso_auc": float(np.mean([r["roc_auc"] for r in rows])),
        "loso_macc": float(np.mean([r["macc"] for r in rows])),
    }


def _seeds(ctx: Context, spec: ModelSpec) -> tuple[int, ...]:
    """The finalists' seeds are the context's; a screened-out candidate and a reference
    have the first."""
    return ctx.seeds[:1] if spec in REFERENCES or screen_only(spec, ctx.profile) else ctx.seeds


def robust_runs(ctx: Context, specs=tuple(REFERENCES) + ROBUST_CANDIDATES) -> list[str]:
    """Train (with ``ctx.train``) and score every candidate (the finalists at every seed,
    the others at the first): the paper's
    two evaluations, the first 3 s and PASCAL. Runs already scored are reused; returns
    the runs that could not be scored here (not trained, and ``ctx.train`` false)."""
    missing = []
    for spec in specs:
        for seed in _seeds(ctx, spec):
            if not ctx.train and not ctx.run(spec, seed).state_path.exists():
                missing.append(f"{spec.run_slug(ctx.profile)}/seed{seed}")
                continue
            run = scored_run(ctx, spec, seed)
            if run is None or not short_clip_scores(ctx, spec, seed):
                missing.append(f"{spec.run_slug(ctx.profile)}/seed{seed}")
                continue
            if run.checkpoint("best").exists() or run.scores_path("pascal").exists():
                pascal_scores(ctx, spec, seed)
    return missing


def robust_rows(ctx: Context, specs=tuple(REFERENCES) + ROBUST_CANDIDATES) -> pd.DataFrame:
    """One row per (candidate, seed) with saved scores."""
    pascal_index = index_pascal(ctx.pascal_root)
    rows = []
    for spec in specs:
        for seed in _seeds(ctx, spec):
            row = robust_run_row(ctx, spec, seed, pascal_index)
            if row is not None:
                if spec in REFERENCES:
                    row["model"] = f"{spec.name} (shipped as {REFERENCES[spec]}; reference)"
                rows.append(row | selection_loso(ctx, spec, seed))
    return pd.DataFrame(rows)


def screen_scores(runs: pd.DataFrame) -> pd.DataFrame:
    """Stage 1 of the protocol: each candidate's (C + P) / 2 and gate L, best first."""
    means = runs.groupby(["model", "slug"], sort=False).agg(
        screen_score=("screen_score", "mean"),
        length_rho=("pascal_b_length_rho", "mean"),
        seeds=("seed", "nunique"),
    )
    means["passes_length_gate"] = means["length_rho"].abs() <= LENGTH_RHO_GATE
    return means.sort_values(["passes_length_gate", "screen_score"], ascending=False).reset_index()


#: Stage 2 of the protocol: the weights of O, M, P and C in a finalist's score.
FINAL_WEIGHTS = {"loso_auc": 0.3, "loso_macc": 0.2, "pascal_auc": 0.25, "carve_out_auc": 0.25}


def final_scores(runs: pd.DataFrame) -> pd.DataFrame:
    """Stage 2 of the protocol: each finalist's 0.3 O + 0.2 M + 0.25 P + 0.25 C, every
    measure a mean over its seeds (O and M over those that have them), best first.
    Candidates without O and M (not finalists, or folds still training) get no score."""
    columns = [c for c in FINAL_WEIGHTS if c in runs]
    means = runs.groupby(["model", "slug"], sort=False)[columns].mean()
    for column in FINAL_WEIGHTS:
        if column not in means:
            means[column] = np.nan
    means["final_score"] = sum(w * means[c] for c, w in FINAL_WEIGHTS.items())
    means["seeds"] = runs.groupby(["model", "slug"], sort=False)["seed"].nunique()
    return (
        means.dropna(subset=["final_score"])
        .sort_values("final_score", ascending=False)
        .reset_index()
    )


_COLUMNS = {
    "loso_auc": "O: selection-LOSO ROC-AUC",
    "loso_macc": "M: selection-LOSO MAcc",
    "carve_out_auc": "C: carve-out ROC-AUC (5 s, 3 s)",
    "pascal_auc": "P: PASCAL A/B ROC-AUC",
    "pascal_a_auc": "PASCAL A",
    "pascal_b_auc": "PASCAL B",
    "pascal_b_length_rho": "L: set B normals rho(P, length)",
    "pascal_macc": "PASCAL MAcc",
    "test_5s_auc": "test ROC-AUC 5 s",
    "test_3s_auc": "test ROC-AUC 3 s",
    "test_full_auc": "test ROC-AUC full",
    "test_full_sensitivity": "test Se (full)",
    "test_full_specificity": "test Sp (full)",
    "test_3s_macc": "test MAcc (3 s)",
    "test_full_macc": "test MAcc (full)",
}


def _stage(ctx: Context, spec: ModelSpec) -> str:
    """Where ``spec`` stands in the protocol: a reference, a finalist or screened out."""
    if spec in REFERENCES:
        return "reference"
    return "screened out" if screen_only(spec, ctx.profile) else "finalist"


def robust_default(
    ctx: Context, specs=tuple(REFERENCES) + ROBUST_CANDIDATES, name: str = "robust_default"
) -> pd.DataFrame:
    """Write the candidates' table (mean ± sd over seeds) and return it; empty when
    no candidate has saved scores."""
    runs = robust_rows(ctx, specs)
    if runs.empty:
        print(f"{name}: no candidate has saved scores for this profile; no table", file=sys.stderr)
        return pd.DataFrame()
    columns = {k: v for k, v in _COLUMNS.items() if k in runs}
    summary = evaluation.summarize_seeds(runs, group_cols=("model",), metrics=tuple(columns))
    table = pd.DataFrame({"model": summary["model"], "seeds": summary["n_seeds"]})
    for column, label in columns.items():
        table[label] = summary[f"{column}_fmt"].replace("nan", "—")
    screen = screen_scores(runs[runs["seed"] == ctx.seeds[0]]).set_index("model")
    stages = {spec.run_slug(ctx.profile): _stage(ctx, spec) for spec in specs}
    slugs = runs.drop_duplicates("model").set_index("model")["slug"]
    table["stage"] = [stages[slugs[m]] for m in table["model"]]
    table["screen (C+P)/2, seed 0"] = [
        round(float(screen.loc[m, "screen_score"]), 4) for m in table["model"]
    ]
    table["gate L"] = [
        "pass" if screen.loc[m, "passes_length_gate"] else "fail" for m in table["model"]
    ]
    final = final_scores(
        runs[runs["model"].isin(table.loc[table["stage"] == "finalist", "model"])]
    ).set_index("model")
    table["stage 2: 0.3 O + 0.2 M + 0.25 P + 0.25 C"] = [
        round(float(final.loc[m, "final_score"]), 4) if m in final.index else "—"
        for m in table["model"]
    ]
    return publish(
        ctx,
        table,
        name,
        runs,
        title="Robust default: the selection protocol's measures per candidate",
        notes=_NOTES,
    )
