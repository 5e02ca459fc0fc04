"""The classical baseline: gradient boosting on hand-crafted features, same split and evaluation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from audiofuse.data.indexes import physionet_split
from audiofuse.data.splits import balance_strata, record_weights
from audiofuse.features.extract import shared_workers

from ... import evaluation
from ..context import Context, physionet_index
from ..specs import BALANCE_LABELS

__all__ = [
    "run_classical",
    "classical_features",
    "featurize_split",
    "index_classical_features",
    "fit_and_score",
]

MODEL_NAME = "Classical (HistGradientBoosting)"


def run_classical(
    ctx: Context, *, full_recording: bool = True, balance: str | None = None
) -> pd.DataFrame:
    """Gradient boosting on hand-crafted features, same split, same evaluation.

    ``balance`` (``"label"`` or ``"subset"``, as ``TrainConfig.balance``) names
    the rows after :data:`BALANCE_LABELS`; ``"subset"`` also fits with the
    subset-balanced loss weights and carve-out. ``None``: the main table's row.
    Per-record scores are saved as in a trained run's folder.
    """
    train, test = physionet_split(physionet_index(ctx))
    model_name = MODEL_NAME
    slug = "classical" if balance in (None, "label") else f"classical-balance{balance}"
    if balance is not None:
        model_name = f"{model_name}, {BALANCE_LABELS[balance]}"
    rows = []
    modes = [("first_5s", False)] + ([("full_recording", True)] if full_recording else [])
    split = featurize_split(ctx, [windows for _, windows in modes])
    for evaluation_name, windows in modes:
        (x_train, m_train), (x_test, m_test) = split[windows]
        balanced = {}
        if balance not in (None, "label"):
            subsets = train.set_index("record").loc[m_train["record"], "subset"].to_numpy()
            meta = m_train.assign(subset=subsets)
            balanced = {
                "sample_weight": record_weights(meta, balance),
                "strata": balance_strata(meta, balance),
            }
        for seed in ctx.seeds:
            val, scored = fit_and_score(x_train, m_train, x_test, m_test, seed, balanced)
            metrics = evaluation.evaluate(
                scored["label"].to_numpy(),
                scored["score"].to_numpy(),
                evaluation.choose_threshold(val["label"].to_numpy(), val["score"].to_numpy()),
                n_boot=ctx.n_boot,
                seed=seed,
            )
            rows.append(
                {
                    "model": model_name,
                    "kind": "classical",
                    "slug": slug,
                    "seed": seed,
                    "evaluation": evaluation_name,
                    "params": np.nan,
                    **metrics,
                }
            )
            ctx.run(slug, seed).write_scores(evaluation_name, val, scored)
    return pd.DataFrame(rows)


def fit_and_score(x_train, m_train, x_test, m_test, seed: int, balanced: dict):
    """Fit one seed; per-record ``(val, test)`` scores (mean over a record's windows)."""
    from ... import classical

    model = classical.fit_classical(
        x_train,
        m_train["label"].to_numpy(),
        seed=seed,
        groups=m_train["record"].to_numpy(),
        **balanced,
    )
    val_ids, val_scores = evaluation.aggregate_windows(model.val_scores, model.val_groups)
    val_labels = m_train.drop_duplicates("record").set_index("record").loc[val_ids, "label"]
    ids, scores = evaluation.aggregate_windows(
        model.predict_proba(x_test), m_test["record"].to_numpy()
    )
    y = m_test.drop_duplicates("record").set_index("record").loc[ids, "label"].to_numpy()
    val = pd.DataFrame({"record": val_ids, "label": val_labels.to_numpy(), "score": val_scores})
    return val, pd.DataFrame({"record": ids, "label": y, "score": scores})


def split_classical_features(ctx: Context, windows: bool):
    """``((x_train, meta_train), (x_test, meta_test))`` of the paper's split, cached."""
    cache = ctx.cache / "classical"
    return tuple(
        classical_features(half, cache, windows, ctx.progress)
        for half in physionet_split(physionet_index(ctx))
    )


def featurize_split(ctx: Context, windows_modes) -> dict:
    """``{windows: split_classical_features(ctx, windows)}`` for each mode, featurized
    (and cached) with one worker pool: the workers' librosa start-up is paid once, not
    once per table."""
    with shared_workers():
        return {windows: split_classical_features(ctx, windows) for windows in windows_modes}


def index_classical_features(ctx: Context, table: pd.DataFrame, windows: bool):
    """:func:`classical_features` of ``table``, records of the PhysioNet index, taken
    from the cached halves of the paper's split instead of featurized again.

    The rows come in ``table``'s order of records, a record's windows in their
    own order, as :func:`~audiofuse.classical.featurize_table` of ``table``
    gives them: the same matrix, bit for bit (a test pins it), for no new audio
    work. A record of neither half (or one left out as unreadable) has no rows.
    """
    (x_train, m_train), (x_test, m_test) = split_classical_features(ctx, windows)
    x = np.concatenate([x_train, x_test])
    meta = pd.concat([m_train, m_test], ignore_index=True)
    position = pd.Series(np.arange(len(table)), index=table["record"].to_numpy())
    rank = meta["record"].map(position)
    rows = np.flatnonzero(rank.notna().to_numpy())
    rows = rows[np.argsort(rank.to_numpy()[rows], kind="stable")]
    return x[rows], meta.iloc[rows].reset_index(drop=True)


def classical_features(table: pd.DataFrame, cache: Path, windows: bool, progress: bool):
    """classical.featurize_table with an atomic on-disk cache."""
    from audiofuse.features.cache import table_fingerprint

    from ... import classical

    key = f"v{classical.FEATURE_VERSION}-{'windows' if windows else 'first'}-{table_fingerprint(table)}"
    path = cache / f"{key}.npz"
    if path.exists():
        saved = np.load(path, allow_pickle=False)
        meta = pd.DataFrame({"record": saved["record"].astype(str), "label": saved["label"]})
        return saved["X"], meta
    x, meta = classical.featurize_table(table, windows=windows, progress=progress)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / f".{key}.tmp.npz"
    # a fixed-width unicode array: pandas' string columns would be saved as
    # objects, which np.load refuses without pickle
    records = np.asarray(meta["record"].astype(str).tolist(), dtype=str)
    np.savez(tmp, X=x, record=records, label=meta["label"].to_numpy())
    tmp.replace(path)
    return x, meta[["record", "label"]].reset_index(drop=True)
