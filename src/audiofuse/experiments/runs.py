"""Everything that touches a run folder: training, per-record scores, PASCAL scores.

A run lives in ``runs/<data>/<profile>/<model>/seed<k>/`` (a
:class:`~audiofuse.model.run_dir.RunDir`); tables are built from its saved
scores alone, so they can be rebuilt from runs trained on another machine.

Keras (through :mod:`audiofuse.model.training`, :mod:`audiofuse.model.architecture`
and :mod:`.head`) is imported inside
the functions that train or predict: building a table from saved scores never
loads it (a notebook then starts sooner).
"""

from __future__ import annotations

import dataclasses
import sys

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from audiofuse import evaluation
from audiofuse.data.indexes import index_pascal
from audiofuse.data.protocols import Fold
from audiofuse.data.splits import TrainingError
from audiofuse.features.feature_set import FeatureSet
from audiofuse.model.run_dir import RunDir, finished_state
from audiofuse.reporting import plots
from audiofuse.reporting.provenance import git_commit

from .context import (
    Context,
    features,
    physionet_data,
    physionet_features,
    physionet_index,
    split_records,
)
from .specs import EVALUATIONS, PAPER_MODELS, SHORT_CLIP_SECONDS, ModelSpec, branch_specs

__all__ = [
    "record_scores",
    "evaluate_split",
    "run_models",
    "scored_run",
    "is_scored",
    "train_and_score",
    "score_rows",
    "load_scores",
    "pascal_scored",
    "pascal_scores",
    "head_split_count",
    "KNOCKOUTS",
    "knockout_scores",
    "SHORT_CLIP",
    "short_clip_features",
    "short_clip_scores",
]

# Branch knock-out (AudioFuse+): a fusion model's first-5 s scores with one
# branch's input replaced by its mean over the training split. What the AUC
# loses then is what that branch contributes.
KNOCKOUTS = ("knockout_spectrogram", "knockout_waveform")


def record_scores(model, features: FeatureSet, kind: str) -> pd.DataFrame:
    """Mean window probability per record (first clip only when not windowed)."""
    from audiofuse.model.training import predict_proba

    scores = predict_proba(model, features, kind)
    ids, mean = evaluation.aggregate_windows(scores, features.records)
    labels = features.meta.drop_duplicates("record").set_index("record")["label"]
    return pd.DataFrame({"record": ids, "label": labels.loc[ids].to_numpy(), "score": mean})


def evaluate_split(val: pd.DataFrame, test: pd.DataFrame, n_boot: int, seed: int) -> dict:
    """Test metrics at the threshold chosen on the validation scores (Youden's J)."""
    threshold = evaluation.choose_threshold(val["label"], val["score"])
    return evaluation.evaluate(test["label"], test["score"], threshold, n_boot=n_boot, seed=seed)


def run_models(
    ctx: Context, specs=PAPER_MODELS, *, full_recording: bool = True, train: bool | None = None
) -> pd.DataFrame:
    """Train (or reuse) each model for each seed and evaluate it on the test split.

    Thresholds come from the validation carve-out of the training records
    (Youden's J); the test split is only scored. A finished run whose scores
    are saved is evaluated from those scores alone, without its model or the
    features, so tables can be rebuilt from runs trained on another machine.

    With ``ctx.train`` false, runs that are not finished and scored are
    skipped (and named on stderr) instead of trained. ``train`` overrides
    ``ctx.train`` (``False``: runs meant for another machine, e.g. a GPU).

    Returns
    -------
    pandas.DataFrame
        One row per (model, seed, evaluation): ``evaluation`` is ``first_5s``
        (the paper's protocol) or ``full_recording`` (mean over 5 s windows).
        Per-record scores are saved beside each trained model.
    """
    names = EVALUATIONS if full_recording else EVALUATIONS[:1]
    if train is not None and train != ctx.train:
        ctx = dataclasses.replace(ctx, train=train)  # shares the features already computed
    rows = []
    for spec in specs:
        for seed in ctx.seeds:
            run = scored_run(ctx, spec, seed, full_recording=full_recording)
            if run is None:
                continue
            rows += score_rows(ctx, spec, seed, names)
            # Several tables share a run under different names (the main table's fusion is
            # also the balance ablation's paper row): the figure is titled with the name
            # the run was trained under, so it comes out the same whichever notebook plots
            # it, in whatever order notebooks run.
            name = run.config.get("model_name") or spec.name
            plots.plot_training_curves(
                run.history,
                ctx.results / "figures" / f"training_{spec.run_slug(ctx.profile)}_seed{seed}.png",
                title=f"{name}, seed {seed} ({ctx.data}, {ctx.profile.name})",
            )
    return pd.DataFrame(rows)


def scored_run(
    ctx: Context,
    spec: ModelSpec,
    seed: int,
    *,
    full_recording: bool = True,
    fold: Fold | None = None,
) -> RunDir | None:
    """The run of ``spec`` and ``seed`` (on ``fold``), trained and scored first if needed.

    With ``ctx.train`` false, a run that is not finished and scored is not
    trained: it is named on stderr and None is returned.
    """
    run = ctx.fold_run(spec, seed, fold)
    if not is_scored(ctx, spec, run, EVALUATIONS if full_recording else EVALUATIONS[:1]):
        if not ctx.train:
            print(f"{run.path}: not trained and scored here; skipped", file=sys.stderr)
            return None
        train_and_score(ctx, spec, seed, full_recording=full_recording, fold=fold)
    return run


def is_scored(ctx: Context, spec: ModelSpec, run: RunDir, names) -> bool:
    """True when the run is finished and every score file postdates its training."""
    if finished_state(run.path, spec.profile(ctx.profile)) is None:
        return False
    return run.is_scored(names)


def train_and_score(
    ctx: Context,
    spec: ModelSpec,
    seed: int,
    *,
    full_recording: bool = True,
    fold: Fold | None = None,
):
    """Train one model (or load its finished run) and save its per-record scores.

    Writes ``scores_first_5s.csv`` (and ``scores_full_recording.csv``) beside
    the model: validation-carve-out and test scores, one row per record. With
    ``fold`` (see :mod:`audiofuse.data.protocols`), the model trains on the fold's
    training records and its test scores are the fold's test records, in
    :meth:`Context.fold_run`'s folder; otherwise on the paper's split.
    """
    from audiofuse.model.training import train_model

    profile = spec.profile(ctx.profile)
    train_first, test_first = physionet_data(ctx, fold=fold)
    train_records, test_records = split_records(ctx, fold)
    random_windows = profile.train.random_windows
    # the training side's windows are copied into memory only when training reads them
    # (the paper profile's are ~8 GB); scoring selects its records from the memory map
    windows = physionet_features(ctx, windows=True) if random_windows or full_recording else None
    run = ctx.fold_run(spec, seed, fold)
    init_from = None
    if profile.train.staged and finished_state(run.path, profile) is None:
        init_from = _trained_branches(ctx, spec, seed, fold, full_recording)
    extra = {"data": ctx.data, "model_name": spec.name, "commit": git_commit()}
    if fold is not None:
        extra["fold"] = fold.name
    result = train_model(
        spec.kind,
        profile,
        windows.select_records(train_records) if random_windows else train_first,
        run.path,
        seed=seed,
        progress=ctx.progress,
        extra_config=extra,
        init_from=init_from,
        diagnostic_test=test_first if ctx.diagnostics and fold is None else None,
    )
    evaluations = {"first_5s": physionet_features(ctx)}
    if full_recording:
        evaluations["full_recording"] = windows
    for name, examples in evaluations.items():
        val = record_scores(result.model, examples.select_records(result.val_records), spec.kind)
        test = record_scores(result.model, examples.select_records(test_records), spec.kind)
        run.write_scores(name, val, test)
    return result


def _trained_branches(ctx: Context, spec: ModelSpec, seed: int, fold, full_recording: bool):
    """``{branch: best.keras}`` of a staged fusion's single branches, trained first if needed."""
    paths = {}
    for kind, branch in branch_specs(spec).items():
        run = scored_run(ctx, branch, seed, full_recording=full_recording, fold=fold)
        if run is None or not run.checkpoint("best").exists():
            raise TrainingError(
                f"{ctx.fold_run(branch, seed, fold).checkpoint('best')}: staged training of "
                f"{spec.name!r} needs this trained branch model (its scores alone are not enough)"
            )
        paths[kind] = run.checkpoint("best")
    return paths


def score_rows(ctx: Context, spec: ModelSpec, seed: int, names) -> list[dict]:
    """Table rows of one finished, scored run, from its saved files alone."""
    run = ctx.run(spec, seed)
    state, config = run.state, run.config
    params = config.get("params")
    if params is None:  # runs stored before params were recorded
        from audiofuse.model.architecture import build_model, count_params

        params = count_params(
            build_model(spec.kind, ctx.profile.features, spec.profile(ctx.profile).model)
        )
    rows = []
    for name in names:
        val, test = run.scores(name)
        rows.append(
            {
                "model": spec.name,
                "kind": spec.kind,
                "slug": spec.run_slug(ctx.profile),
                "seed": seed,
                "evaluation": name,
                "params": int(params),
                "best_epoch": state["best_epoch"] + 1,
                "val_roc_auc": state["best_val_auc"],
                "train_seconds": round(state.get("seconds", 0.0), 1),
                "train_commit": config.get("commit", "unknown"),
                "backend": config.get("backend", "unknown"),
                **evaluate_split(val, test, ctx.n_boot, seed),
            }
        )
    return rows


def load_scores(ctx: Context, spec: ModelSpec, seed: int, evaluation_name="first_5s"):
    """Per-record (val, test) scores saved by :func:`run_models`."""
    return ctx.run(spec, seed).scores(evaluation_name)


def pascal_scored(ctx: Context, spec: ModelSpec, seed: int) -> bool:
    """True when the run's PASCAL scores postdate its training."""
    return ctx.run(spec, seed).is_scored(["pascal"])


def pascal_scores(
    ctx: Context, spec: ModelSpec, seed: int, *, test_fraction: float = 0.15
) -> pd.DataFrame:
    """Per-record PASCAL scores of one trained run, under both protocols.

    Saved as ``scores_pascal.csv`` beside the model and reused while newer
    than the run and holding ``ctx.head_splits`` head splits. Columns
    ``record, label, score, protocol, split, head_split``: ``zero_shot`` rows
    score every labelled recording with the PhysioNet model; ``head_trained``
    rows hold, for each stratified 85/15 split ``head_split`` (0, 1, ...),
    the head's inner validation (``val``, for its threshold) and the held-out
    15 % (``test``).
    """
    run = ctx.run(spec, seed)
    if pascal_scored(ctx, spec, seed):
        saved = run.scores("pascal", split=False)
        if head_split_count(saved) >= ctx.head_splits:
            return saved
        if not run.checkpoint("best").exists():  # scores from elsewhere: use what was saved
            print(
                f"{run.path}: {head_split_count(saved)} PASCAL head splits saved, "
                f"{ctx.head_splits} asked; no model here to add more",
                file=sys.stderr,
            )
            return saved
    from audiofuse.model.training import load_trained, predict_proba

    from .head import embed, train_head

    pascal_features = features(ctx, index_pascal(ctx.pascal_root), "pascal", windows=False)
    labels, records = pascal_features.labels, pascal_features.records
    model, _ = load_trained(run.path)
    embeddings = embed(model, pascal_features, spec.kind)

    def frame(idx, score, protocol, split, head_split=0):
        return pd.DataFrame(
            {
                "record": records[idx],
                "label": labels[idx],
                "score": score,
                "protocol": protocol,
                "split": split,
                "head_split": head_split,
            }
        )

    every = np.arange(len(labels))
    parts = [frame(every, predict_proba(model, pascal_features, spec.kind), "zero_shot", "test")]
    for k in _progress(range(ctx.head_splits), ctx, f"PASCAL heads, {run.path.name}"):
        head_train_idx, head_test_idx = train_test_split(
            every, test_size=test_fraction, stratify=labels, random_state=k
        )
        head, head_val_idx = train_head(
            embeddings[head_train_idx], labels[head_train_idx], spec.profile(ctx.profile), seed=seed
        )
        for split, idx in (("val", head_train_idx[head_val_idx]), ("test", head_test_idx)):
            head_scores = head.predict_on_batch(embeddings[idx]).ravel()
            parts.append(frame(idx, head_scores, "head_trained", split, k))
    table = pd.concat(parts, ignore_index=True)
    run.write_scores("pascal", table)
    return table


def head_split_count(pascal: pd.DataFrame) -> int:
    """How many head-trained splits a ``scores_pascal.csv`` holds (files written
    before there were several hold one, without a ``head_split`` column)."""
    if "head_split" not in pascal:
        return 1
    return int(pascal.loc[pascal["protocol"] == "head_trained", "head_split"].nunique())


def _progress(items, ctx: Context, label: str):
    if not ctx.progress:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=label, unit="split")


def _without(features: FeatureSet, branch: str, mean: np.ndarray) -> FeatureSet:
    """``features`` with every example's ``branch`` input replaced by ``mean``."""
    arrays = {"spectrogram": features.spectrograms, "waveform": features.waveforms}
    arrays[branch] = np.broadcast_to(mean, arrays[branch].shape)
    return FeatureSet(arrays["spectrogram"], arrays["waveform"], features.meta)


def knockout_scores(ctx: Context, spec: ModelSpec, seed: int) -> bool:
    """Save a fusion run's :data:`KNOCKOUTS` scores (validation carve-out and test).

    Needs the trained model, unless the knock-out scores are saved and newer
    than its training (then they are left alone). Returns True when the scores exist.
    """
    run = ctx.run(spec, seed)
    if spec.kind != "fusion":
        return False
    if run.is_scored(KNOCKOUTS):  # also scores restored without their model
        return True
    if not run.checkpoint("best").exists():
        return False
    from audiofuse.model.training import load_trained

    train_first, test_first = physionet_data(ctx)
    model, config = load_trained(run.path)
    val_set = train_first.select_records(config.get("val_records", []))
    for name in KNOCKOUTS:
        branch = name.removeprefix("knockout_")
        source = train_first.spectrograms if branch == "spectrogram" else train_first.waveforms
        mean = np.mean(source, axis=0, dtype=np.float64).astype(source.dtype)
        val = record_scores(model, _without(val_set, branch, mean), "fusion")
        test = record_scores(model, _without(test_first, branch, mean), "fusion")
        run.write_scores(name, val, test)
    return True


#: The short-recording evaluation: every record cut to its first
#: :data:`~.specs.SHORT_CLIP_SECONDS` and zero-padded, as ``predict`` pads a short one.
SHORT_CLIP = "first_3s"


def short_clip_features(ctx: Context, records, seconds: float = SHORT_CLIP_SECONDS) -> FeatureSet:
    """First-clip features of PhysioNet ``records``, each cut to its first ``seconds``.

    Read from the audio (not cut from the cached clips, whose waveforms are already
    standardised), so the inputs are exactly those ``predict`` makes of a recording
    of that length.
    """
    from audiofuse.features.extract import load_recording, recording_features

    cfg = ctx.profile.features
    table = physionet_index(ctx).set_index("record").loc[list(records)].reset_index()
    keep = int(round(seconds * cfg.sample_rate))
    specs, waves = [], []
    for path in table["path"]:
        spec, wave = recording_features(load_recording(path, cfg)[:keep], cfg)
        specs.append(spec[0])
        waves.append(wave[0])
    return FeatureSet(
        np.stack(specs)[..., None].astype(np.float16),
        np.stack(waves)[..., None].astype(np.float16),
        table[["record", "label"]].copy(),
    )


def short_clip_scores(
    ctx: Context, spec: ModelSpec, seed: int, fold: Fold | None = None, *, model=None
) -> bool:
    """Save a run's :data:`SHORT_CLIP` scores (validation carve-out and test).

    Needs the trained model (``model``, when the caller holds it already, else the
    run's best checkpoint), unless the scores are saved and newer than its
    training. Returns True when the scores exist.
    """
    run = ctx.fold_run(spec, seed, fold)
    if run.is_scored([SHORT_CLIP]):
        return True
    if model is None:
        if not run.checkpoint("best").exists():
            return False
        from audiofuse.model.training import load_trained

        model, _ = load_trained(run.path)
    val_records = run.config.get("val_records", [])
    val = record_scores(model, short_clip_features(ctx, val_records), spec.kind)
    test_records = split_records(ctx, fold)[1]
    test = record_scores(model, short_clip_features(ctx, test_records), spec.kind)
    run.write_scores(SHORT_CLIP, val, test)
    return True
