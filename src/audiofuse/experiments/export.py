"""Export a trained run as a standalone model folder for ``audiofuse predict``."""

from __future__ import annotations

import shutil
from pathlib import Path

from audiofuse import evaluation
from audiofuse.config import Profile
from audiofuse.data.splits import TrainingError
from audiofuse.model.run_dir import RunDir
from audiofuse.paths import REPO_ROOT

from .context import Context
from .specs import ModelSpec

__all__ = ["export_model", "export_ensemble", "best_model"]


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


def export_ensemble(ctx: Context, spec: ModelSpec, seeds, dest: str | Path) -> Path:
    """Export the seed ensemble of ``spec`` (its runs with ``seeds``) to ``dest``.

    Writes ``best.keras`` (:func:`audiofuse.model.architecture.seed_ensemble`: the mean
    P(abnormal) of the members) and ``config.json``: the first member's run
    configuration, the members, and the threshold. Every member's carve-out differs
    (it is drawn with its seed), and each member has trained on the others' carve-outs,
    so the ensemble is never scored on a carve-out: its threshold is the mean of the
    members' own thresholds, each chosen on its carve-out scored at first 5 s and cut
    to first 3 s (the selection protocol's rule). Run ``audiofuse export`` on ``dest``
    for its ONNX graph.
    """
    from audiofuse.files import write_json_atomic
    from audiofuse.model.architecture import seed_ensemble
    from audiofuse.model.checkpoint import save_model_atomic
    from audiofuse.predict.predictor import write_model_card

    from .runs import SHORT_CLIP
    from .tables.robust import travelling_threshold

    seeds = [int(s) for s in seeds]
    runs = [ctx.run(spec, seed) for seed in seeds]
    thresholds = []
    for run in runs:
        if not (run.scores_path("first_5s").exists() and run.scores_path(SHORT_CLIP).exists()):
            raise TrainingError(f"{run.path}: needs its first_5s and {SHORT_CLIP} scores")
        thresholds.append(
            travelling_threshold(run.scores("first_5s")[0], run.scores(SHORT_CLIP)[0])
        )
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    members = [best_model(run, spec.kind) for run in runs]
    save_model_atomic(seed_ensemble(members, name=f"{members[0].name}_seeds"), dest / "best.keras")
    config = dict(runs[0].config)
    config.pop("val_records", None)  # each member has its own carve-out
    write_json_atomic(dest / "config.json", config)
    write_model_card(
        dest,
        {
            "ensemble_seeds": seeds,
            "members": [
                f"runs/{ctx.data}/{ctx.profile.name}/{r.path.parent.name}/{r.path.name}"
                for r in runs
            ],
            "member_thresholds": [round(float(t), 6) for t in thresholds],
            "threshold": round(float(sum(thresholds) / len(thresholds)), 6),
            "threshold_rule": "mean of the members' thresholds (Youden's J on each carve-out at "
            "first 5 s and first 3 s, pooled)",
            "data": ctx.data,
        },
    )
    return dest
