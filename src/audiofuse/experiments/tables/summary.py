"""What every table shares: the metrics shown, seed summaries and provenance."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from audiofuse.files import write_text_atomic
from audiofuse.reporting.provenance import write_table

from ... import evaluation

__all__ = [
    "SHOWN",
    "summary",
    "ci_text",
    "trained_by",
    "with_figures",
    "no_runs",
    "figures",
    "publish",
]

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


def no_runs(ctx, name: str, why: str = "no runs trained and scored for this table") -> pd.DataFrame:
    """Say in one line that table ``name`` has no runs here; an empty table, nothing written.

    A profile need not train every table (``cpu`` has no ViT sweep, ``paper``
    no AudioFuse+ ladder). The notebook of such a table then goes on, and the
    results folder keeps whatever it holds, so rebuilding the tables from
    committed scores neither fails nor adds files.
    """
    print(f"{name}: {why} ({ctx.data} data, {ctx.profile.name} profile); no table written")
    return with_figures(pd.DataFrame(), [])


def figures(ctx, *names: str) -> list[Path]:
    """The figures ``names`` in ``ctx.results/figures/`` that exist, for a notebook to show.

    A table without runs (:func:`no_runs`) writes no figure, so its notebook
    shows nothing instead of failing on a missing file.
    """
    return [p for p in (ctx.results / "figures" / name for name in names) if p.exists()]


def publish(
    ctx,
    table: pd.DataFrame,
    name: str,
    runs: pd.DataFrame,
    *,
    title: str,
    notes: str = "",
    figures=(),
    prov: dict | None = None,
    digits: int = 4,
) -> pd.DataFrame:
    """Write ``table`` as ``name``.md/.csv and ``runs`` as ``name``_per_seed.csv, atomically.

    Parameters
    ----------
    ctx : Context
        Its ``results`` folder receives the files; its provenance heads them.
    runs : pandas.DataFrame
        The per-seed rows the table summarises.
    figures : sequence of path
        Figures written with the table, returned in ``table.attrs["figures"]``.
    prov : dict, optional
        Provenance; by default the context's plus who trained ``runs``.
    """
    write_table(
        table,
        ctx.results,
        name,
        title=title,
        prov=ctx.prov(**trained_by(runs)) if prov is None else prov,
        notes=notes,
        digits=digits,
    )
    write_text_atomic(ctx.results / f"{name}_per_seed.csv", runs.to_csv(index=False))
    return with_figures(table, figures)
