"""A shipped model's card: its decision measures, as ``audiofuse predict`` gives them.

A model folder (the default, or any under ``models/``) is scored the way a user runs it: every recording goes
through :meth:`~audiofuse.predict.predictor.Predictor.predict_file` (quality gate
and domain flag included), whole and cut to its first 5 s and 3 s, on the
PhysioNet test list and on PASCAL. Its verdicts at its own threshold give
sensitivity, specificity, MAcc and the share answered ``unsure``, beside ROC-AUC
on P(abnormal). Leave-one-subset-out needs one model per fold, so those rows are
the recipe's: the selection protocol's fold runs, each at its own travelling
threshold, from their saved scores.

The per-recording verdicts are saved (``model_scores/<folder>/<protocol>.csv``), so
the card rebuilds from committed files without the model or the data.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from audiofuse.data.indexes import index_pascal, physionet_split
from audiofuse.files import write_text_atomic

from ..context import Context, physionet_index
from ..specs import ROBUST_CANDIDATES
from .robust import selection_fold_rows
from .summary import write_table

__all__ = ["PROTOCOLS", "decision_measures", "model_card", "score_model"]

#: What each saved protocol scores: (dataset, first seconds kept or None for all).
PROTOCOLS = {
    "test_full": ("physionet2016", None),
    "test_first_5s": ("physionet2016", 5.0),
    "test_first_3s": ("physionet2016", 3.0),
    "pascal": ("pascal", None),
}

_LABELS = {
    "test_full": "PhysioNet test list, whole recording (what `predict` does)",
    "test_first_5s": "PhysioNet test list, first 5 s",
    "test_first_3s": "PhysioNet test list, first 3 s",
}


_COLUMNS = {
    "n": "recordings",
    "n_abnormal": "abnormal",
    "roc_auc": "ROC-AUC",
    "sensitivity": "Se",
    "specificity": "Sp",
    "macc": "MAcc",
    "unsure": "unsure share",
    "threshold": "threshold",
    "rho_length_normals": "rho(P, length), normals",
}


def _scores_dir(ctx: Context, folder: Path) -> Path:
    return ctx.results / "model_scores" / folder.name


def _recordings(ctx: Context, dataset: str) -> pd.DataFrame:
    if dataset == "pascal":
        table = index_pascal(ctx.pascal_root)
        return table[table["label"].notna()].reset_index(drop=True)
    return physionet_split(physionet_index(ctx))[1].reset_index(drop=True)


def _cut(path: str, seconds: float, folder: Path) -> Path:
    """The first ``seconds`` of ``path`` as a WAV at its own rate (what a user's clip is)."""
    import soundfile as sf

    info = sf.info(path)
    samples, rate = sf.read(path, frames=int(round(seconds * info.samplerate)), dtype="float32")
    out = folder / f"{Path(path).stem}.wav"
    sf.write(out, samples, rate)
    return out


def score_model(ctx: Context, folder: str | Path, *, progress: bool = True) -> list[Path]:
    """Score the model in ``folder`` on every protocol of :data:`PROTOCOLS`, as a user
    runs it, and save one CSV per protocol (kept when it is already there for this model).

    Returns
    -------
    list of Path
        The CSVs written or kept.
    """
    from tqdm.auto import tqdm

    from audiofuse.predict.predictor import Predictor

    folder = Path(folder)
    model = _model_id(folder)
    out_dir = _scores_dir(ctx, folder)
    out_dir.mkdir(parents=True, exist_ok=True)
    written, predictor = [], None
    for protocol, (dataset, seconds) in PROTOCOLS.items():
        path = out_dir / f"{protocol}.csv"
        if path.exists() and pd.read_csv(path, nrows=1)["model"].iloc[0] == model:
            written.append(path)
            continue
        predictor = predictor or Predictor.load(folder)
        table = _recordings(ctx, dataset)
        rows = []
        with tempfile.TemporaryDirectory(prefix="audiofuse-card-") as tmp:
            for row in tqdm(
                table.itertuples(index=False), total=len(table), desc=protocol, disable=not progress
            ):
                source = row.path if seconds is None else _cut(row.path, seconds, Path(tmp))
                result = predictor.predict_file(source, display_name=row.record)
                rows.append(
                    {
                        "record": row.record,
                        "label": int(row.label),
                        "group": getattr(row, "set", None) or row.subset,
                        "original_class": getattr(row, "original_class", ""),
                        "duration": round(float(row.duration), 3),
                        "p_abnormal": result["p_abnormal"],
                        "verdict": result["label"],
                        "reason": result["reason"] or "",
                        "model": model,
                    }
                )
        write_text_atomic(path, pd.DataFrame(rows).to_csv(index=False))
        written.append(path)
    return written


def _model_id(folder: Path) -> str:
    """``<folder name>@<commit>``: which model a saved CSV scored."""
    config = json.loads((folder / "config.json").read_text())
    return f"{folder.name}@{config.get('commit', '?')}"


def decision_measures(scores: pd.DataFrame) -> dict:
    """Measures of one protocol from ``label, p_abnormal, verdict`` rows.

    ROC-AUC ranks every recording by P(abnormal); sensitivity, specificity and MAcc
    count the recordings the model decided (``normal`` or ``abnormal``), and
    ``unsure`` is the share it declined to decide.
    """
    decided = scores[scores["verdict"] != "unsure"]
    abnormal, normal = decided[decided["label"] == 1], decided[decided["label"] == 0]
    se = float((abnormal["verdict"] == "abnormal").mean()) if len(abnormal) else np.nan
    sp = float((normal["verdict"] == "normal").mean()) if len(normal) else np.nan
    both = scores["label"].nunique() == 2
    return {
        "n": len(scores),
        "n_abnormal": int(scores["label"].sum()),
        "roc_auc": float(roc_auc_score(scores["label"], scores["p_abnormal"])) if both else np.nan,
        "sensitivity": se,
        "specificity": sp,
        "macc": (se + sp) / 2,
        "unsure": float((scores["verdict"] == "unsure").mean()),
    }


def _pascal_rows(scores: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    clean = scores[scores["original_class"] != "artifact"]
    return [
        ("PASCAL set A, zero-shot (`artifact` left out)", clean[clean["group"] == "A"]),
        ("PASCAL set B, zero-shot", clean[clean["group"] == "B"]),
        ("PASCAL A and B, `artifact` counted abnormal", scores),
    ]


def _loso_rows(ctx: Context, spec) -> list[dict]:
    """The recipe's selection-LOSO folds (seed 0), each at its own travelling threshold."""
    rows = []
    for row in selection_fold_rows(ctx, spec, ctx.seeds[0]):
        subset = row.pop("fold").split("_")[-1]
        protocol = f"LOSO, training-{subset} held out (the recipe, seed 0; first 5 s)"
        rows.append({"protocol": protocol, **row, "unsure": np.nan})
    return rows


def model_card(ctx: Context, folder: str | Path | None = None) -> pd.DataFrame:
    """Write the measures of the model in ``folder`` (a model folder, or the name of one
    under ``models/``; default: the committed default) on every protocol
    (``model_card_<folder name>.md``/``.csv``) and return them.

    Scores what is missing when the data is here (:func:`score_model`); otherwise
    the card is built from the saved CSVs. A model trained by a robust candidate's
    recipe (``config.json`` → ``model_name``) also gets that recipe's
    leave-one-subset-out rows.
    """
    from audiofuse.predict.resources import default_model, models_root

    folder = default_model() if folder is None else Path(folder)
    if not folder.exists() and len(folder.parts) == 1:
        folder = models_root() / folder
    folder = Path(folder)
    name = f"model_card_{folder.name}"
    config = json.loads((folder / "config.json").read_text())
    if Path(ctx.physionet_root).is_dir() and Path(ctx.pascal_root).is_dir():
        score_model(ctx, folder, progress=ctx.progress)
    rows = []
    for protocol in PROTOCOLS:
        path = _scores_dir(ctx, folder) / f"{protocol}.csv"
        if not path.exists():
            print(f"{name}: no saved scores for {protocol}; row left out", file=sys.stderr)
            continue
        scores = pd.read_csv(path, keep_default_na=False, na_values=[""])
        parts = _pascal_rows(scores) if protocol == "pascal" else [(_LABELS[protocol], scores)]
        for label, part in parts:
            row = {"protocol": label} | decision_measures(part)
            row["threshold"] = float(config["threshold"])
            if protocol == "pascal" and "set B" in label:
                normals = part[part["label"] == 0]
                row["rho_length_normals"] = float(
                    spearmanr(normals["duration"], normals["p_abnormal"]).statistic
                )
            rows.append(row)
    recipe = next((s for s in ROBUST_CANDIDATES if s.name == config.get("model_name")), None)
    loso = _loso_rows(ctx, recipe) if recipe is not None else []
    if loso:
        mean = pd.DataFrame(loso)[["roc_auc", "sensitivity", "specificity", "macc"]].mean()
        total = {k: sum(r[k] for r in loso) for k in ("n", "n_abnormal")}
        rows += loso + [
            {"protocol": f"LOSO, mean of the {len(loso)} held-out subsets"} | total | mean.to_dict()
        ]
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table["n_abnormal"] = table["n_abnormal"].astype("Int64")
    table = table.rename(columns=_COLUMNS)
    seeds = config.get("ensemble_seeds", [config.get("seed")])
    rule = config.get("threshold_rule") or config.get("calibration", {}).get(
        "threshold_rule", "chosen on its carve-out"
    )
    notes = (
        f"Threshold {float(config['threshold']):.4f} ({rule}). PhysioNet and PASCAL rows: "
        "every recording through `audiofuse predict` (quality gate and domain flag included; "
        "a cut is the recording's first seconds, saved as WAV at its own rate). ROC-AUC ranks "
        "all recordings by P(abnormal); Se, Sp and MAcc count the recordings answered "
        "`normal` or `abnormal`; unsure is the share answered `unsure`. rho: Spearman of "
        "P(abnormal) with length among set B's normals."
    )
    if loso:
        notes += (
            " LOSO rows: the shipped model saw every subset, so they are its recipe's seed-0 "
            "fold runs of the selection protocol (the test list left out), each at its own "
            "threshold (Youden's J on its carve-out at 5 s and 3 s), from saved scores; no "
            "quality gate, so no unsure share."
        )
    write_table(
        table,
        ctx.results,
        name,
        title=f"Model card of `{folder.name}`: decision measures at its own threshold",
        prov=ctx.prov(model=folder.name, model_commit=config.get("commit", "?"),
                      model_seeds=",".join(map(str, seeds))),  # fmt: skip
        notes=notes,
    )
    return table
