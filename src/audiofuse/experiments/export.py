"""Export a trained run as a standalone model folder for ``audiofuse predict``."""

from __future__ import annotations

import shutil
from pathlib import Path

from audiofuse.data.splits import TrainingError
from audiofuse.model.run_dir import RunDir
from audiofuse.paths import REPO_ROOT

from .. import evaluation
from ..config import Profile
from .context import Context
from .specs import ModelSpec

__all__ = ["export_model", "best_model"]


def best_model(run: RunDir, kind: str, weights: str | Path | None = None):
    """The run's best model, uncompiled (no optimizer state): its ``best.keras``, or
    the model its ``config.json`` describes holding ``weights`` (a ``.weights.h5``)."""
    from audiofuse.model.architecture import build_model
    from audiofuse.model.training import load_trained

    if weights is None:
        return load_trained(run.path)[0]
    profile = Profile.from_dict(run.config["profile"])
    model = build_model(kind, profile.features, profile.model)
    try:
        model.load_weights(weights)
    except Exception as exc:  # h5py and Keras raise many types; all mean "not these weights"
        raise TrainingError(f"{weights}: cannot load into {run.path}'s model ({exc})") from None
    return model


def export_model(
    ctx: Context, spec: ModelSpec, seed: int, dest: str | Path, *, weights: str | Path | None = None
) -> Path:
    """Copy a trained run to ``dest`` with its validation threshold and test metrics.

    ``audiofuse predict`` reads the threshold from the exported ``config.json``.
    ``best.keras`` is written without optimizer state (a third of a checkpoint's
    size with Adam). With ``weights``, the model is rebuilt from the run's
    ``config.json`` and given those weights (a ``.weights.h5`` of its best
    epoch, e.g. all that came back from a GPU machine with a narrow pipe).
    """
    from audiofuse.model.checkpoint import save_model_atomic
    from audiofuse.predict.predictor import write_model_card

    run = ctx.run(spec, seed)
    run_dir = run.path
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    save_model_atomic(best_model(run, spec.kind, weights), dest / "best.keras")
    shutil.copyfile(run.config_path, dest / run.config_path.name)
    try:
        source = str(run_dir.resolve().relative_to(REPO_ROOT))
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
