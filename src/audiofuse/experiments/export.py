"""Export a trained run as a standalone model folder for ``audiofuse predict``."""

from __future__ import annotations

import shutil
from pathlib import Path

from .. import config as _config
from .. import evaluation
from .context import Context
from .specs import ModelSpec

__all__ = ["export_model"]


def export_model(ctx: Context, spec: ModelSpec, seed: int, dest: str | Path) -> Path:
    """Copy a trained run to ``dest`` with its validation threshold and test metrics.

    ``audiofuse predict`` reads the threshold from the exported ``config.json``.
    """
    from ..predict import write_model_card

    run = ctx.run(spec, seed)
    run_dir = run.path
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    best = run.checkpoint("best")
    shutil.copyfile(best, dest / f".{best.name}.tmp")
    (dest / f".{best.name}.tmp").replace(dest / best.name)
    shutil.copyfile(run.config_path, dest / run.config_path.name)
    try:
        source = str(run_dir.resolve().relative_to(_config.REPO_ROOT))
    except ValueError:
        source = str(run_dir)
    card = {"exported_from": source, "data": ctx.data}
    for name in ("first_5s", "full_recording"):
        if not run.scores_path(name).exists():
            continue
        val, test = run.scores(name)
        threshold = evaluation.choose_threshold(val["label"], val["score"])
        metrics = evaluation.binary_metrics(test["label"], test["score"], threshold)
        card[f"test_metrics_{name}"] = {k: round(float(v), 4) for k, v in metrics.items()}
        if name == "full_recording":  # predict averages over windows by default
            card["threshold"] = round(float(threshold), 6)
        card.setdefault("threshold", round(float(threshold), 6))
    write_model_card(dest, card)
    return dest
