"""The paper's experiments as functions: the notebooks only set parameters and call these.

A typical notebook::

    ctx = experiments.setup(profile="smoke", data_dir=None, seeds=[0, 1, 2])
    runs = experiments.run_models(ctx, experiments.PAPER_MODELS)
    experiments.main_table(ctx, runs)

``data_dir=None`` (or ``"synthetic"``) uses the embedded synthetic PCG
datasets; otherwise ``data_dir`` must hold ``physionet2016/`` and, for the
cross-dataset experiment, ``pascal/``.

Trained models land in ``runs/<data>/<profile>/<model>/seed<k>/`` and are
reused (or resumed) when the same experiment runs again; tables and figures
land in ``results/<data>/<profile>/``.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from . import config as _config
from . import evaluation, plots, reporting
from .config import Profile, TrainConfig, get_profile
from .data import DatasetError, index_pascal, index_physionet, is_synthetic, physionet_split
from .features import FeatureSet, load_or_extract
from .models import build_model, count_params
from .training import (
    balance_strata,
    finished_state,
    predict_proba,
    record_weights,
    set_seed,
    train_model,
)

__all__ = [
    "ModelSpec",
    "PAPER_MODELS",
    "VIT_SWEEP",
    "FUSION_ABLATION",
    "BALANCE_ABLATION",
    "Context",
    "setup",
    "physionet_data",
    "run_models",
    "main_table",
    "vit_sweep_table",
    "fusion_ablation_table",
    "balance_ablation_table",
    "cross_dataset",
    "run_classical",
]


_TRAIN_FIELDS = frozenset(f.name for f in dataclasses.fields(TrainConfig))


@dataclass(frozen=True)
class ModelSpec:
    """One row of a results table: a model kind plus changes to the profile.

    ``overrides`` are ``(field, value)`` pairs of :class:`ModelConfig`, or of
    :class:`TrainConfig` for the fields that only it has (e.g. ``balance``).
    """

    name: str
    kind: str
    overrides: tuple = ()

    @property
    def slug(self) -> str:
        text = self.kind + "".join(f"-{k}{v}" for k, v in self.overrides)
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)

    def _split(self) -> tuple[dict, dict]:
        train = {k: v for k, v in self.overrides if k in _TRAIN_FIELDS}
        return {k: v for k, v in self.overrides if k not in train}, train

    def run_slug(self, base: Profile) -> str:
        """Folder name of this model's runs; overrides equal to ``base`` are left out,
        so that e.g. the paper's 6x8 row of the ViT sweep reuses the main fusion run."""

        def base_value(key):
            return getattr(base.train if key in _TRAIN_FIELDS else base.model, key)

        changed = tuple((k, v) for k, v in self.overrides if base_value(k) != v)
        return ModelSpec(self.name, self.kind, changed).slug

    def profile(self, base: Profile) -> Profile:
        model, train = self._split()
        return base.replace(model=base.model.replace(**model), train=base.train.replace(**train))


PAPER_MODELS = (
    ModelSpec("Spectrogram baseline (ViT)", "spectrogram"),
    ModelSpec("Waveform baseline (1D-CNN)", "waveform"),
    ModelSpec("AudioFuse (fusion)", "fusion"),
)
VIT_SWEEP = tuple(
    ModelSpec(f"{d} x {h}", "fusion", (("depth", d), ("heads", h)))
    for d, h in ((4, 8), (6, 8), (8, 8), (12, 6))
)
FUSION_ABLATION = tuple(
    ModelSpec(label, "fusion", (("fusion", strategy),))
    for label, strategy in (
        ("Concatenation (paper)", "concat"),
        ("Gated FiLM", "film"),
        ("Cross-attention", "cross_attention"),
    )
)
# Beyond the paper: the same models with the classes balanced within each
# recording subset (see TrainConfig.balance).
BALANCE_LABELS = {
    "label": "classes balanced (paper)",
    "subset": "classes balanced within each subset",
}
BALANCE_ABLATION = tuple(
    ModelSpec(f"{spec.name}, {BALANCE_LABELS[balance]}", spec.kind, overrides)
    for spec in PAPER_MODELS
    for balance, overrides in (("label", ()), ("subset", (("balance", "subset"),)))
)


@dataclass
class Context:
    """Everything an experiment needs to know: profile, data, seeds, folders."""

    profile: Profile
    data: str  # "real" or "synthetic"
    physionet_root: Path
    pascal_root: Path
    seeds: tuple[int, ...]
    runs: Path
    results: Path
    n_boot: int = 1000
    progress: bool = True
    train: bool = True
    _cache: dict = field(default_factory=dict, repr=False)

    def prov(self, **extra) -> dict:
        return reporting.provenance(
            data=self.data, profile=self.profile.name, seeds=self.seeds, **extra
        )


def setup(
    profile: str = "smoke",
    data_dir: str | None = None,
    seeds=(0,),
    epochs: int | None = None,
    results_dir: str | None = None,
    runs_dir: str | None = None,
    n_boot: int = 1000,
    progress: bool = True,
    train: bool = True,
) -> Context:
    """Resolve the profile and the data, and make the output folders.

    Parameters
    ----------
    profile : {"smoke", "cpu", "paper"}
    data_dir : str, optional
        Folder with ``physionet2016/`` (and ``pascal/``). ``None`` or
        ``"synthetic"`` generates (once) and uses the synthetic datasets.
    seeds : sequence of int
    epochs : int, optional
        Overrides the profile's maximum number of epochs.
    train : bool
        ``False`` builds tables only from runs already trained and scored
        (e.g. on a GPU with ``audiofuse train-runs``) and skips missing ones.
    """
    chosen = get_profile(profile)
    if epochs:
        chosen = chosen.replace(train=chosen.train.replace(epochs=int(epochs)))
    if data_dir in (None, "", "synthetic"):
        from .synthetic import make_synthetic_datasets

        size = "smoke" if chosen.name == "smoke" else "demo"
        roots = make_synthetic_datasets(_config.synthetic_dir(), size=size)
        physionet_root, pascal_root = Path(roots["physionet2016"]), Path(roots["pascal"])
    else:
        base = Path(data_dir).expanduser()
        physionet_root, pascal_root = base / "physionet2016", base / "pascal"
        if not physionet_root.is_dir():
            raise DatasetError(
                f"{physionet_root}: not found; run `audiofuse data download physionet2016` "
                "or pass the folder that holds physionet2016/"
            )
    data = "synthetic" if is_synthetic(physionet_root) else "real"
    runs = _config.runs_dir(runs_dir) / data / chosen.name
    results_root = Path(results_dir) if results_dir else _config.REPO_ROOT / "results"
    results = results_root / data / chosen.name
    results.mkdir(parents=True, exist_ok=True)
    return Context(
        chosen,
        data,
        physionet_root,
        pascal_root,
        tuple(int(s) for s in seeds),
        runs,
        results,
        n_boot,
        progress,
        train,
    )


def _features(ctx: Context, table: pd.DataFrame, dataset: str, windows: bool) -> FeatureSet:
    key = (dataset, windows)
    if key not in ctx._cache:
        ctx._cache[key] = load_or_extract(
            table,
            ctx.profile.features,
            ctx.runs.parent.parent / "cache" / dataset,
            windows=windows,
            progress=ctx.progress,
            desc=f"{dataset} {'windows' if windows else 'first clip'}",
        )
    return ctx._cache[key]


def _physionet_index(ctx: Context) -> pd.DataFrame:
    """The PhysioNet index, read once per context."""
    if "physionet_index" not in ctx._cache:
        ctx._cache["physionet_index"] = index_physionet(ctx.physionet_root)
    return ctx._cache["physionet_index"]


def physionet_data(ctx: Context, windows: bool = False) -> tuple[FeatureSet, FeatureSet]:
    """(train, test) features on the paper's split; ``windows`` for full recordings."""
    table = _physionet_index(ctx)
    train, test = physionet_split(table)
    features = _features(ctx, table, "physionet2016", windows)
    return features.select_records(train["record"]), features.select_records(test["record"])


def _record_scores(model, features: FeatureSet, kind: str) -> pd.DataFrame:
    """Mean window probability per record (first clip only when not windowed)."""
    scores = predict_proba(model, features, kind)
    ids, mean = evaluation.aggregate_windows(scores, features.records)
    labels = features.meta.drop_duplicates("record").set_index("record")["label"]
    return pd.DataFrame({"record": ids, "label": labels.loc[ids].to_numpy(), "score": mean})


def _evaluate_split(val: pd.DataFrame, test: pd.DataFrame, n_boot: int, seed: int) -> dict:
    threshold = evaluation.choose_threshold(val["label"], val["score"])
    return evaluation.evaluate(test["label"], test["score"], threshold, n_boot=n_boot, seed=seed)


def run_models(ctx: Context, specs=PAPER_MODELS, *, full_recording: bool = True) -> pd.DataFrame:
    """Train (or reuse) each model for each seed and evaluate it on the test split.

    Thresholds come from the validation carve-out of the training records
    (Youden's J); the test split is only scored. A finished run whose scores
    are saved is evaluated from those scores alone, without its model or the
    features, so tables can be rebuilt from runs trained on another machine.

    With ``ctx.train`` false, runs that are not finished and scored are
    skipped (and named on stderr) instead of trained.

    Returns
    -------
    pandas.DataFrame
        One row per (model, seed, evaluation): ``evaluation`` is ``first_5s``
        (the paper's protocol) or ``full_recording`` (mean over 5 s windows).
        Per-record scores are saved beside each trained model.
    """
    names = EVALUATIONS if full_recording else EVALUATIONS[:1]
    rows = []
    for spec in specs:
        for seed in ctx.seeds:
            run_dir = ctx.runs / spec.run_slug(ctx.profile) / f"seed{seed}"
            if not _scored(ctx, spec, run_dir, names):
                if not ctx.train:
                    print(f"{run_dir}: not trained and scored here; skipped", file=sys.stderr)
                    continue
                train_and_score(ctx, spec, seed, full_recording=full_recording)
            rows += _score_rows(ctx, spec, seed, names)
            history = json.loads((run_dir / "history.json").read_text())
            plots.plot_training_curves(
                history,
                ctx.results / "figures" / f"training_{spec.run_slug(ctx.profile)}_seed{seed}.png",
                title=f"{spec.name}, seed {seed} ({ctx.data}, {ctx.profile.name})",
            )
    return pd.DataFrame(rows)


EVALUATIONS = ("first_5s", "full_recording")


def _scored(ctx: Context, spec: ModelSpec, run_dir: Path, names) -> bool:
    """True when the run is finished and every score file postdates its training."""
    if finished_state(run_dir, spec.profile(ctx.profile)) is None:
        return False
    trained = (run_dir / "state.json").stat().st_mtime
    paths = [run_dir / f"scores_{name}.csv" for name in names]
    return all(p.exists() and p.stat().st_mtime >= trained for p in paths)


def train_and_score(ctx: Context, spec: ModelSpec, seed: int, *, full_recording: bool = True):
    """Train one model (or load its finished run) and save its per-record scores.

    Writes ``scores_first_5s.csv`` (and ``scores_full_recording.csv``) beside
    the model: validation-carve-out and test scores, one row per record.
    """
    train_first, test_first = physionet_data(ctx)
    random_windows = ctx.profile.train.random_windows
    if random_windows or full_recording:
        train_win, test_win = physionet_data(ctx, windows=True)
    run_dir = ctx.runs / spec.run_slug(ctx.profile) / f"seed{seed}"
    result = train_model(
        spec.kind,
        spec.profile(ctx.profile),
        train_win if random_windows else train_first,
        run_dir,
        seed=seed,
        progress=ctx.progress,
        extra_config={"data": ctx.data, "model_name": spec.name, "commit": reporting.git_commit()},
    )
    evaluations = {"first_5s": (train_first, test_first)}
    if full_recording:
        evaluations["full_recording"] = (train_win, test_win)
    for name, (train_set, test_set) in evaluations.items():
        val = _record_scores(result.model, train_set.select_records(result.val_records), spec.kind)
        test = _record_scores(result.model, test_set, spec.kind)
        _save_scores(run_dir / f"scores_{name}.csv", val, test)
    return result


TABLE_SPECS = {
    "main": PAPER_MODELS,
    "sweep": VIT_SWEEP,
    "ablation": FUSION_ABLATION,
    "balance": BALANCE_ABLATION,
}


def _unique_runs(ctx: Context, specs) -> list[ModelSpec]:
    """One spec per run folder (the sweep's 6x8 and the ablation's concat are the main fusion)."""
    seen, unique = set(), []
    for spec in specs:
        if spec.run_slug(ctx.profile) not in seen:
            seen.add(spec.run_slug(ctx.profile))
            unique.append(spec)
    return unique


def _run_job(setup_kwargs: dict, spec: ModelSpec, seed: int, pascal: bool) -> dict:
    """Worker: train and score one run in its own process (one GPU context each)."""
    import time

    start = time.perf_counter()
    ctx = setup(**setup_kwargs)
    result = train_and_score(ctx, spec, seed)
    if pascal:
        pascal_scores(ctx, spec, seed)
    return {
        "run": f"{spec.run_slug(ctx.profile)}/seed{seed}",
        "best_val_auc": round(float(result.best_val_auc), 4),
        "epochs": len(result.history.get("loss", [])),
        "seconds": round(time.perf_counter() - start, 1),
    }


def train_runs(
    setup_kwargs: dict,
    tables=("main", "sweep", "ablation"),
    *,
    workers: int = 1,
    deadline_s: float | None = None,
    pascal: bool = False,
) -> pd.DataFrame:
    """Train and score every run that ``tables`` need, ``workers`` at a time.

    Small models leave most of a GPU idle, so several runs share it, each in
    its own process. Runs start in order of importance: every seed of the
    main table first, then the other tables seed by seed. No run starts
    when ``deadline_s`` (seconds from now) would likely cut it off; finished
    runs are reused and unfinished ones resume, so calling again completes
    the set. The tables are then built by the notebooks from the saved
    scores, here or on another machine.

    Parameters
    ----------
    setup_kwargs : dict
        Arguments of :func:`setup` (profile, data_dir, seeds, ...).
    tables : sequence of {"main", "sweep", "ablation"}
    workers : int
        Concurrent training processes.
    deadline_s : float, optional
    pascal : bool
        Also score PASCAL (zero-shot and head-trained) with every main-table run.

    Returns
    -------
    pandas.DataFrame
        One row per run started here: ``run, best_val_auc, epochs, seconds``
        (or ``error``).
    """
    import concurrent.futures as cf
    import multiprocessing as mp
    import time

    start = time.monotonic()
    ctx = setup(**setup_kwargs)
    # features once, here, with every core; the workers memory-map the cache
    physionet_data(ctx)
    physionet_data(ctx, windows=True)
    if pascal:
        _features(ctx, index_pascal(ctx.pascal_root), "pascal", windows=False)
    main = _unique_runs(ctx, TABLE_SPECS["main"]) if "main" in tables else []
    others = _unique_runs(ctx, [s for t in tables if t != "main" for s in TABLE_SPECS[t]])
    others = [
        s for s in others if s.run_slug(ctx.profile) not in {m.run_slug(ctx.profile) for m in main}
    ]
    jobs = [(spec, seed, pascal) for seed in ctx.seeds for spec in main]
    jobs += [(spec, seed, False) for seed in ctx.seeds for spec in others]
    jobs = [
        job
        for job in jobs
        if not (
            _scored(
                ctx, job[0], ctx.runs / job[0].run_slug(ctx.profile) / f"seed{job[1]}", EVALUATIONS
            )
            and (not job[2] or _pascal_scored(ctx, job[0], job[1]))
        )
    ]
    print(f"{len(jobs)} runs to train or score, {workers} at a time", file=sys.stderr, flush=True)
    rows, durations, pending = [], [], {}
    with cf.ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
        while jobs or pending:
            elapsed = time.monotonic() - start
            typical = max(durations) if durations else 0.0
            while (
                jobs
                and len(pending) < workers
                and (deadline_s is None or elapsed + typical < deadline_s)
            ):
                spec, seed, with_pascal = jobs.pop(0)
                future = pool.submit(_run_job, setup_kwargs, spec, seed, with_pascal)
                pending[future] = f"{spec.run_slug(ctx.profile)}/seed{seed}"
            if not pending:
                break
            done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            for future in done:
                name = pending.pop(future)
                try:
                    row = future.result()
                    durations.append(row["seconds"])
                except Exception as exc:  # one failed run must not sink the others
                    row = {"run": name, "error": f"{type(exc).__name__}: {exc}"}
                rows.append(row)
                print(f"done {row}", file=sys.stderr, flush=True)
    if jobs:
        print(
            f"deadline: {len(jobs)} runs not started: "
            + ", ".join(f"{s.run_slug(ctx.profile)}/seed{k}" for s, k, _ in jobs),
            file=sys.stderr,
        )
    return pd.DataFrame(rows)


def _pascal_scored(ctx: Context, spec: ModelSpec, seed: int) -> bool:
    run_dir = ctx.runs / spec.run_slug(ctx.profile) / f"seed{seed}"
    path = run_dir / "scores_pascal.csv"
    return path.exists() and path.stat().st_mtime >= (run_dir / "state.json").stat().st_mtime


def _score_rows(ctx: Context, spec: ModelSpec, seed: int, names) -> list[dict]:
    """Table rows of one finished, scored run, from its saved files alone."""
    run_dir = ctx.runs / spec.run_slug(ctx.profile) / f"seed{seed}"
    state = json.loads((run_dir / "state.json").read_text())
    config = json.loads((run_dir / "config.json").read_text())
    params = config.get("params")
    if params is None:  # runs stored before params were recorded
        params = count_params(
            build_model(spec.kind, ctx.profile.features, spec.profile(ctx.profile).model)
        )
    rows = []
    for name in names:
        val, test = load_scores(ctx, spec, seed, name)
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
                **_evaluate_split(val, test, ctx.n_boot, seed),
            }
        )
    return rows


def _save_scores(path: Path, val: pd.DataFrame, test: pd.DataFrame) -> None:
    both = pd.concat([val.assign(split="val"), test.assign(split="test")], ignore_index=True)
    reporting.write_text_atomic(path, both.to_csv(index=False))


def load_scores(ctx: Context, spec: ModelSpec, seed: int, evaluation_name="first_5s"):
    """Per-record (val, test) scores saved by :func:`run_models`."""
    both = pd.read_csv(
        ctx.runs / spec.run_slug(ctx.profile) / f"seed{seed}" / f"scores_{evaluation_name}.csv",
        dtype={"record": str},
    )
    return both[both["split"] == "val"], both[both["split"] == "test"]


_SHOWN = ("roc_auc", "mcc", "f1_abnormal", "accuracy", "sensitivity", "specificity", "macc")


def _summary(runs: pd.DataFrame, group=("model", "evaluation")) -> pd.DataFrame:
    return evaluation.summarize_seeds(runs, group_cols=group, metrics=_SHOWN)


def _ci_text(runs: pd.DataFrame, model: str, evaluation_name: str, metric: str) -> str:
    """95 % bootstrap CI of the first seed, as text."""
    row = runs[(runs["model"] == model) & (runs["evaluation"] == evaluation_name)].iloc[0]
    return f"[{row[f'{metric}_ci_low']:.3f}, {row[f'{metric}_ci_high']:.3f}]"


def _trained_by(runs: pd.DataFrame) -> dict:
    """Backend and commit that trained a table's runs (which may predate the table)."""
    if "backend" not in runs or "train_commit" not in runs:
        return {}
    trained = runs.dropna(subset=["backend", "train_commit"])  # classical rows have none
    pairs = sorted(
        {f"{b} @ {c}" for b, c in zip(trained["backend"], trained["train_commit"], strict=True)}
    )
    return {"trained": "; ".join(pairs)} if pairs else {}


def main_table(
    ctx: Context,
    runs: pd.DataFrame,
    *,
    name="main_comparison",
    extra_rows: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The paper's main comparison, ours (mean ± sd over seeds) beside the paper's.

    Also writes ROC curves and confusion matrices of the first seed.
    """
    if extra_rows is not None:
        runs = pd.concat([runs, extra_rows], ignore_index=True)
    summary = _summary(runs)
    table = []
    for row in summary.itertuples(index=False):
        kind = runs.loc[runs["model"] == row.model, "kind"].iloc[0]
        paper = reporting.PAPER_MAIN.get(kind, {}) if row.evaluation == "first_5s" else {}
        entry = {"model": row.model, "evaluation": row.evaluation, "seeds": row.n_seeds}
        for metric in _SHOWN:
            entry[evaluation.METRIC_LABELS[metric]] = getattr(row, f"{metric}_fmt")
        entry["ROC-AUC 95% CI (seed 1)"] = _ci_text(runs, row.model, row.evaluation, "roc_auc")
        entry["threshold"] = round(
            float(
                runs.loc[
                    (runs["model"] == row.model) & (runs["evaluation"] == row.evaluation),
                    "threshold",
                ].mean()
            ),
            3,
        )
        for metric in ("roc_auc", "mcc", "f1_abnormal", "accuracy"):
            entry[f"paper {evaluation.METRIC_LABELS[metric]}"] = paper.get(metric, np.nan)
        table.append(entry)
    table = pd.DataFrame(table)
    reporting.write_table(
        table,
        ctx.results,
        name,
        title=(
            f"{'' if name == 'main_comparison' else name.replace('_', ' ').capitalize() + ': '}"
            f"PhysioNet 2016 test split ({int(runs['n'].iloc[0])} records): ours vs the paper"
        ),
        prov=ctx.prov(**_trained_by(runs)),
        notes=(
            "Mean ± sd over seeds; the decision threshold is chosen on the validation carve-out "
            "of the training records (Youden's J), never on the test split. `first_5s` is the "
            "paper's protocol; `full_recording` averages P(abnormal) over 5 s windows covering "
            "each whole recording. Paper columns are the published single-run numbers."
        ),
    )
    runs.to_csv(ctx.results / f"{name}_per_seed.csv", index=False)
    _main_figures(ctx, runs, name)
    return table


def _main_figures(ctx: Context, runs: pd.DataFrame, name: str) -> None:
    seed = ctx.seeds[0]
    for evaluation_name in runs["evaluation"].unique():
        curves = {}
        for slug, model in runs[["slug", "model"]].drop_duplicates().itertuples(index=False):
            path = ctx.runs / slug / f"seed{seed}" / f"scores_{evaluation_name}.csv"
            if not path.exists():
                continue
            both = pd.read_csv(path)
            val, test = both[both["split"] == "val"], both[both["split"] == "test"]
            curves[model] = (test["label"].to_numpy(), test["score"].to_numpy())
            threshold = evaluation.choose_threshold(val["label"], val["score"])
            plots.plot_confusion_matrix(
                test["label"],
                (test["score"] >= threshold).astype(int),
                ctx.results / "figures" / f"confusion_{slug}_{evaluation_name}.png",
                title=f"{model}, {evaluation_name} ({ctx.data}, {ctx.profile.name})",
            )
        if curves:
            plots.plot_roc_curves(
                curves,
                ctx.results / "figures" / f"roc_{name}_{evaluation_name}.png",
                title=f"ROC, PhysioNet test, {evaluation_name} ({ctx.data}, {ctx.profile.name}, "
                f"seed {seed})",
            )


def vit_sweep_table(ctx: Context, runs: pd.DataFrame) -> pd.DataFrame:
    """The ViT depth x heads sweep with total parameter counts."""
    first = runs[runs["evaluation"] == "first_5s"]
    summary = _summary(first)
    rows = []
    for row in summary.itertuples(index=False):
        d, h = (int(v) for v in row.model.split(" x "))
        paper = reporting.PAPER_VIT_SWEEP.get((d, h), {})
        rows.append(
            {
                "ViT depth x heads": row.model,
                "total params (M)": round(
                    first.loc[first["model"] == row.model, "params"].iloc[0] / 1e6, 3
                ),
                "seeds": row.n_seeds,
                "ROC-AUC": row.roc_auc_fmt,
                "Accuracy": row.accuracy_fmt,
                "MCC": row.mcc_fmt,
                "paper params (M)": paper.get("params_m", np.nan),
                "paper ROC-AUC": paper.get("roc_auc", np.nan),
                "paper Accuracy": paper.get("accuracy", np.nan),
                "paper MCC": paper.get("mcc", np.nan),
            }
        )
    table = pd.DataFrame(rows)
    reporting.write_table(
        table,
        ctx.results,
        "vit_sweep",
        title="ViT sweep of the fusion model (first 5 s)",
        prov=ctx.prov(**_trained_by(runs)),
        notes="Parameter counts are for this profile's model. In the `paper` "
        "profile they match the paper's within 5 %.",
    )
    runs.to_csv(ctx.results / "vit_sweep_per_seed.csv", index=False)
    return table


def _ablation_table(
    ctx: Context, runs: pd.DataFrame, name: str, first_column: str, title: str, notes: str
) -> pd.DataFrame:
    """Mean ± sd per (model, evaluation) of an ablation, written as ``name``.md/.csv."""
    summary = _summary(runs)

    def total_params(model: str):
        count = runs.loc[runs["model"] == model, "params"].iloc[0]
        return "—" if pd.isna(count) else int(count)  # classical rows have none

    table = pd.DataFrame(
        [
            {
                first_column: row.model,
                "evaluation": row.evaluation,
                "total params": total_params(row.model),
                "seeds": row.n_seeds,
                "ROC-AUC": row.roc_auc_fmt,
                "MCC": row.mcc_fmt,
                "F1 (abnormal)": row.f1_abnormal_fmt,
                "Accuracy": row.accuracy_fmt,
                "MAcc": row.macc_fmt,
            }
            for row in summary.itertuples(index=False)
        ]
    )
    reporting.write_table(
        table, ctx.results, name, title=title, prov=ctx.prov(**_trained_by(runs)), notes=notes
    )
    runs.to_csv(ctx.results / f"{name}_per_seed.csv", index=False)
    return table


def fusion_ablation_table(ctx: Context, runs: pd.DataFrame) -> pd.DataFrame:
    """Concatenation vs gated FiLM vs cross-attention."""
    return _ablation_table(
        ctx,
        runs,
        "fusion_ablation",
        "fusion",
        title="Fusion-strategy ablation (PhysioNet test split)",
        notes="The paper names concatenation as its choice; it gives no "
        "numbers for the alternatives, so there is no paper column.",
    )


def balance_ablation_table(
    ctx: Context, runs: pd.DataFrame, extra_rows: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Classes balanced overall (the paper) vs within each recording subset.

    ``extra_rows``: e.g. :func:`run_classical` under both balances.
    """
    if extra_rows is not None:
        runs = pd.concat([runs, extra_rows], ignore_index=True)
    return _ablation_table(
        ctx,
        runs,
        "balance_ablation",
        "model, class balance",
        title="Beyond the paper: balancing the classes within each recording subset "
        "(PhysioNet test split)",
        notes="PhysioNet's test list is class-balanced within every subset (training-a..e), "
        "while the training subsets run from 6 % to 83 % abnormal. *Within each subset*: the "
        "loss weights balance the classes inside every subset, the validation carve-out is "
        "stratified by subset and label, and early stopping follows the validation ROC-AUC "
        "weighted the same way (the classical rows: the same loss weights and carve-out); the "
        "decision threshold is still Youden's J on the unweighted carve-out. The test split "
        "is untouched. Not in the paper, so there is no paper column; the *(paper)* rows are "
        "the runs of the main table.",
    )


# --- cross-dataset: PhysioNet -> PASCAL ---------------------------------------------------


def _embedding_model(model: keras.Model) -> keras.Model:
    """The trained backbone up to the input of the MLP head."""
    for layer in model.layers:
        if layer.name.startswith("head_dense") or layer.name == "abnormal_probability":
            return keras.Model(model.inputs, layer.input)
    raise ValueError(f"{model.name}: no head layer found")


def _embed(model, features: FeatureSet, kind: str, batch_size: int = 64) -> np.ndarray:
    backbone = _embedding_model(model)
    out = []
    for start in range(0, len(features), batch_size):
        idx = np.arange(start, min(start + batch_size, len(features)))
        out.append(np.asarray(backbone.predict_on_batch(features.inputs(kind, idx))))
    return np.concatenate(out)


def train_head(
    embeddings: np.ndarray,
    labels: np.ndarray,
    profile: Profile,
    *,
    seed: int = 0,
    val_fraction: float = 0.15,
    epochs: int = 300,
    patience: int = 30,
) -> keras.Model:
    """Train a fresh MLP head on frozen-backbone embeddings.

    Equivalent to freezing the backbone and training the head, and far
    cheaper: the backbone runs once. Early stopping uses a stratified inner
    validation split of the given (training) rows.
    """
    set_seed(seed)
    fit_idx, val_idx = train_test_split(
        np.arange(len(labels)), test_size=val_fraction, stratify=labels, random_state=seed
    )
    inputs = keras.Input((embeddings.shape[1],))
    x = inputs
    for units in profile.model.head_units:
        x = keras.layers.Dense(units, activation="relu")(x)
        x = keras.layers.Dropout(profile.model.head_dropout)(x)
    head = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))
    head.compile(
        optimizer=keras.optimizers.AdamW(1e-3, weight_decay=1e-4), loss="binary_crossentropy"
    )
    n_pos = labels[fit_idx].sum()
    weights = {0: len(fit_idx) / (2 * (len(fit_idx) - n_pos)), 1: len(fit_idx) / (2 * n_pos)}
    best, best_weights, wait = -np.inf, head.get_weights(), 0
    for _ in range(epochs):
        head.fit(
            embeddings[fit_idx],
            labels[fit_idx].astype("float32"),
            batch_size=32,
            epochs=1,
            verbose=0,
            class_weight=weights,
            shuffle=True,
        )
        auc = roc_auc_score(labels[val_idx], head.predict_on_batch(embeddings[val_idx]).ravel())
        if auc > best:
            best, best_weights, wait = auc, head.get_weights(), 0
        else:
            wait += 1
            if wait >= patience:
                break
    head.set_weights(best_weights)
    head.val_idx = val_idx
    return head


def pascal_scores(
    ctx: Context, spec: ModelSpec, seed: int, *, test_fraction: float = 0.15
) -> pd.DataFrame:
    """Per-record PASCAL scores of one trained run, under both protocols.

    Saved as ``scores_pascal.csv`` beside the model and reused while newer
    than the run. Columns ``record, label, score, protocol, split``:
    ``zero_shot`` rows score every labelled recording with the PhysioNet
    model; ``head_trained`` rows hold the head's inner validation (``val``,
    for its threshold) and the held-out 15 % (``test``).
    """
    from .training import load_trained

    run_dir = ctx.runs / spec.run_slug(ctx.profile) / f"seed{seed}"
    path = run_dir / "scores_pascal.csv"
    if _pascal_scored(ctx, spec, seed):
        return pd.read_csv(path, dtype={"record": str})
    pascal_features = _features(ctx, index_pascal(ctx.pascal_root), "pascal", windows=False)
    labels, records = pascal_features.labels, pascal_features.records
    head_train_idx, head_test_idx = train_test_split(
        np.arange(len(labels)), test_size=test_fraction, stratify=labels, random_state=0
    )
    model, _ = load_trained(run_dir)
    scores = predict_proba(model, pascal_features, spec.kind)
    embeddings = _embed(model, pascal_features, spec.kind)
    head = train_head(
        embeddings[head_train_idx], labels[head_train_idx], spec.profile(ctx.profile), seed=seed
    )
    inner = head_train_idx[head.val_idx]
    parts = [
        pd.DataFrame(
            {
                "record": records,
                "label": labels,
                "score": scores,
                "protocol": "zero_shot",
                "split": "test",
            }
        )
    ]
    for split, idx in (("val", inner), ("test", head_test_idx)):
        parts.append(
            pd.DataFrame(
                {
                    "record": records[idx],
                    "label": labels[idx],
                    "score": head.predict_on_batch(embeddings[idx]).ravel(),
                    "protocol": "head_trained",
                    "split": split,
                }
            )
        )
    table = pd.concat(parts, ignore_index=True)
    reporting.write_text_atomic(path, table.to_csv(index=False))
    return table


def cross_dataset(
    ctx: Context,
    specs=PAPER_MODELS,
    physionet_runs: pd.DataFrame | None = None,
    *,
    test_fraction: float = 0.15,
) -> pd.DataFrame:
    """PhysioNet-trained models on PASCAL, under two protocols.

    ``zero_shot``: every labelled PASCAL recording, first 5 s, with the
    threshold chosen on the PhysioNet validation carve-out.
    ``head_trained`` (the paper's): the backbone frozen, the MLP head trained
    on a stratified 85 % of PASCAL, tested on the other 15 % (88 recordings),
    threshold from the head's inner validation split.
    """
    rows = []
    for spec in specs:
        slug = spec.run_slug(ctx.profile)
        for seed in ctx.seeds:
            run_dir = ctx.runs / slug / f"seed{seed}"
            if not (run_dir / "scores_first_5s.csv").exists():
                print(f"{run_dir}: no PhysioNet scores; skipped", file=sys.stderr)
                continue
            val, physio_test = load_scores(ctx, spec, seed)
            config = json.loads((run_dir / "config.json").read_text())
            physio_auc = roc_auc_score(physio_test["label"], physio_test["score"])
            pascal = pascal_scores(ctx, spec, seed, test_fraction=test_fraction)
            zero = pascal[pascal["protocol"] == "zero_shot"]
            head_val = pascal[(pascal["protocol"] == "head_trained") & (pascal["split"] == "val")]
            head_test = pascal[(pascal["protocol"] == "head_trained") & (pascal["split"] == "test")]
            for protocol, threshold_from, scored in (
                ("zero_shot", val, zero),
                ("head_trained", head_val, head_test),
            ):
                threshold = evaluation.choose_threshold(
                    threshold_from["label"], threshold_from["score"]
                )
                metrics = evaluation.evaluate(
                    scored["label"], scored["score"], threshold, n_boot=ctx.n_boot, seed=seed
                )
                rows.append(
                    {
                        "model": spec.name,
                        "kind": spec.kind,
                        "slug": slug,
                        "seed": seed,
                        "protocol": protocol,
                        "n_test": len(scored),
                        "physionet_roc_auc": physio_auc,
                        "change_pct": 100 * (metrics["roc_auc"] - physio_auc) / physio_auc,
                        "backend": config.get("backend", "unknown"),
                        "train_commit": config.get("commit", "unknown"),
                        **metrics,
                    }
                )
            if seed == ctx.seeds[0]:
                ctx._cache.setdefault("pascal_curves", {})[spec.name] = (
                    zero["label"].to_numpy(),
                    zero["score"].to_numpy(),
                )
    runs = pd.DataFrame(rows)
    summary = evaluation.summarize_seeds(
        runs, group_cols=("model", "protocol"), metrics=("roc_auc", "mcc", "accuracy", "change_pct")
    )
    table = []
    for row in summary.itertuples(index=False):
        kind = runs.loc[runs["model"] == row.model, "kind"].iloc[0]
        paper = reporting.PAPER_PASCAL.get(kind, {})
        table.append(
            {
                "model": row.model,
                "protocol": row.protocol,
                "seeds": row.n_seeds,
                "n test": int(
                    runs.loc[
                        (runs["model"] == row.model) & (runs["protocol"] == row.protocol), "n_test"
                    ].iloc[0]
                ),
                "PASCAL ROC-AUC": row.roc_auc_fmt,
                "change vs PhysioNet (%)": row.change_pct_fmt,
                "MCC": row.mcc_fmt,
                "Accuracy": row.accuracy_fmt,
                "paper ROC-AUC": paper.get("roc_auc", np.nan),
                "paper change (%)": paper.get("change_pct", np.nan),
            }
        )
    table = pd.DataFrame(table)
    reporting.write_table(
        table,
        ctx.results,
        "pascal_robustness",
        title="Cross-dataset: trained on PhysioNet 2016, tested on PASCAL",
        prov=ctx.prov(**_trained_by(runs)),
        notes=(
            "`zero_shot`: all labelled PASCAL recordings, PhysioNet threshold. "
            "`head_trained`: backbone frozen, head trained on 85 % of PASCAL, tested on a "
            "stratified 15 %. Change is relative to the same model's PhysioNet test ROC-AUC. "
            "The paper's table does not say which protocol its numbers come from."
        ),
    )
    runs.to_csv(ctx.results / "pascal_robustness_per_seed.csv", index=False)
    if ctx._cache.get("pascal_curves"):
        plots.plot_roc_curves(
            ctx._cache["pascal_curves"],
            ctx.results / "figures" / "roc_pascal_zero_shot.png",
            title=f"ROC, PASCAL zero-shot ({ctx.data}, {ctx.profile.name})",
        )
    return table


# --- classical baseline -------------------------------------------------------------------


def run_classical(
    ctx: Context, *, full_recording: bool = True, balance: str | None = None
) -> pd.DataFrame:
    """Gradient boosting on hand-crafted features, same split, same evaluation.

    ``balance`` (``"label"`` or ``"subset"``, as ``TrainConfig.balance``) names
    the rows after :data:`BALANCE_LABELS`; ``"subset"`` also fits with the
    subset-balanced loss weights and carve-out. ``None``: the main table's row.
    """
    from . import classical

    train, test = physionet_split(_physionet_index(ctx))
    model_name = "Classical (HistGradientBoosting)"
    slug = "classical" if balance in (None, "label") else f"classical-balance{balance}"
    if balance is not None:
        model_name = f"{model_name}, {BALANCE_LABELS[balance]}"
    rows = []
    cache = ctx.runs.parent.parent / "cache" / "classical"
    modes = [("first_5s", False)] + ([("full_recording", True)] if full_recording else [])
    for evaluation_name, windows in modes:
        x_train, m_train = _classical_features(train, cache, windows, ctx.progress)
        x_test, m_test = _classical_features(test, cache, windows, ctx.progress)
        balanced = {}
        if balance not in (None, "label"):
            subsets = train.set_index("record").loc[m_train["record"], "subset"].to_numpy()
            meta = m_train.assign(subset=subsets)
            balanced = {
                "sample_weight": record_weights(meta, balance),
                "strata": balance_strata(meta, balance),
            }
        for seed in ctx.seeds:
            model = classical.fit_classical(
                x_train,
                m_train["label"].to_numpy(),
                seed=seed,
                groups=m_train["record"].to_numpy(),
                **balanced,
            )
            val_ids, val_scores = evaluation.aggregate_windows(model.val_scores, model.val_groups)
            val_labels = m_train.drop_duplicates("record").set_index("record").loc[val_ids, "label"]
            threshold = evaluation.choose_threshold(val_labels.to_numpy(), val_scores)
            ids, scores = evaluation.aggregate_windows(
                model.predict_proba(x_test), m_test["record"].to_numpy()
            )
            y = m_test.drop_duplicates("record").set_index("record").loc[ids, "label"].to_numpy()
            metrics = evaluation.evaluate(y, scores, threshold, n_boot=ctx.n_boot, seed=seed)
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
            out = ctx.runs / slug / f"seed{seed}"
            out.mkdir(parents=True, exist_ok=True)
            val_frame = pd.DataFrame(
                {"record": val_ids, "label": val_labels.to_numpy(), "score": val_scores}
            )
            test_frame = pd.DataFrame({"record": ids, "label": y, "score": scores})
            _save_scores(out / f"scores_{evaluation_name}.csv", val_frame, test_frame)
    return pd.DataFrame(rows)


def _classical_features(table: pd.DataFrame, cache: Path, windows: bool, progress: bool):
    """classical.featurize_table with an atomic on-disk cache."""
    from . import classical
    from .features import _table_fingerprint

    key = f"v{classical.FEATURE_VERSION}-{'windows' if windows else 'first'}-{_table_fingerprint(table)}"
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


# --- data overview and the results index ----------------------------------------------------


def dataset_overview(ctx: Context) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Recording counts per split/label (PhysioNet) and per set/class (PASCAL)."""
    table = _physionet_index(ctx)
    physionet = (
        table.groupby(["split", "label"])
        .agg(recordings=("record", "size"), mean_seconds=("duration", "mean"))
        .reset_index()
    )
    pascal = None
    if ctx.pascal_root.is_dir():
        p = index_pascal(ctx.pascal_root)
        pascal = (
            p.groupby(["set", "original_class", "label"])
            .agg(recordings=("record", "size"), sample_rate=("sample_rate", "first"))
            .reset_index()
        )
    counts = pd.concat([physionet.assign(dataset="physionet2016")], ignore_index=True)
    reporting.write_table(
        counts,
        ctx.results,
        "data_physionet2016",
        title="PhysioNet 2016 recordings per split and label",
        prov=ctx.prov(),
        digits=1,
    )
    return physionet, pascal


def example_figures(ctx: Context, n: int = 4) -> list[Path]:
    """Waveform + log-Mel figures of ``n`` training recordings (half of each class)."""
    train, _ = physionet_data(ctx)
    meta = train.meta
    picks = list(meta.index[meta["label"] == 0][: n // 2]) + list(
        meta.index[meta["label"] == 1][: n - n // 2]
    )
    paths = []
    for i in picks:
        row = meta.loc[i]
        label = "abnormal" if row["label"] == 1 else "normal"
        paths.append(
            plots.plot_example(
                np.asarray(train.waveforms[i, :, 0], dtype=np.float32),
                np.asarray(train.spectrograms[i, :, :, 0], dtype=np.float32),
                ctx.profile.features.sample_rate,
                ctx.results / "figures" / f"example_{row['record']}.png",
                title=f"{row['record']} ({label}; {ctx.data}, {ctx.profile.name} profile inputs)",
            )
        )
    return paths


def write_results_index(ctx: Context | None = None, results_root: str | Path | None = None) -> Path:
    """Write ``results/README.md``: every table of every data/profile, then the figures.

    A hand-written ``results/discussion.md``, when present, is included
    after the tables (how our numbers compare with the paper's, and why).
    """
    if results_root is None:
        results_root = ctx.results.parent.parent if ctx else Path("results")
    root = Path(results_root)
    order = [
        "main_comparison",
        "baselines",
        "pascal_robustness",
        "vit_sweep",
        "fusion_ablation",
        "balance_ablation",
        "data_physionet2016",
    ]
    parts = [
        "# Results\n",
        "Generated by `notebooks/08_results.ipynb` (`make reproduce` / `make demo`) from the "
        "tables the other notebooks write. Each table names its data (real or synthetic), "
        "profile, seeds and the git commit that produced it. Synthetic tables only show that "
        "the pipeline runs; they say nothing about heart sounds.\n",
    ]
    for folder in sorted(p for p in root.glob("*/*") if p.is_dir()):
        tables = sorted(
            folder.glob("*.md"),
            key=lambda p: (order.index(p.stem) if p.stem in order else 99, p.stem),
        )
        if not tables:
            continue
        data, profile = folder.parent.name, folder.name
        parts.append(f"\n## {data} data, `{profile}` profile\n")
        for table in tables:
            parts.append(table.read_text().replace("### ", "### ", 1) + "\n")
        figures = sorted((folder / "figures").glob("*.png"))
        shown = [f for f in figures if f.name.startswith(("roc_", "confusion_fusion"))]
        if shown:
            parts.append(
                "**Figures** (all in "
                f"[`{folder.relative_to(root)}/figures/`]({folder.relative_to(root)}/figures/)):\n"
            )
            parts.extend(f"\n![{f.stem}]({f.relative_to(root)})\n" for f in shown)
    discussion = root / "discussion.md"
    if discussion.exists():
        parts.append("\n" + discussion.read_text())
    index = reporting.write_text_atomic(root / "README.md", "\n".join(parts))
    project_readme = root.parent / "README.md"
    if project_readme.exists() and root.resolve() == _config.REPO_ROOT / "results":
        update_readme_tables(project_readme, root)
    return index


def update_readme_tables(
    readme: str | Path,
    results_root: str | Path,
    prefer=("real/paper", "real/cpu", "synthetic/smoke"),
) -> bool:
    """Copy the main tables of the best available results into the README's results block.

    The block lies between ``<!-- results:start -->`` and ``<!-- results:end -->``.
    Returns False when the README has no such block.
    """
    readme, root = Path(readme), Path(results_root)
    text = readme.read_text()
    start, end = "<!-- results:start -->", "<!-- results:end -->"
    if start not in text or end not in text:
        return False
    blocks = []
    for key in prefer:
        folder = root / key
        if (folder / "main_comparison.md").exists():
            data, profile = key.split("/")
            blocks.append(f"### {data} data, `{profile}` profile\n")
        for name in ("main_comparison", "balance_ablation", "pascal_robustness"):
            table = folder / f"{name}.md"
            if table.exists():
                blocks.append(table.read_text().replace("### ", "#### ", 1))
    body = "\n".join(blocks) if blocks else "(no results yet: run `make demo`)"
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    reporting.write_text_atomic(readme, f"{head}{start}\n{body}\n{end}{tail}")
    return True


def export_model(ctx: Context, spec: ModelSpec, seed: int, dest: str | Path) -> Path:
    """Copy a trained run to ``dest`` with its validation threshold and test metrics.

    ``audiofuse predict`` reads the threshold from the exported ``config.json``.
    """
    import shutil

    from .predict import write_model_card

    run_dir = ctx.runs / spec.run_slug(ctx.profile) / f"seed{seed}"
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(run_dir / "best.keras", dest / ".best.keras.tmp")
    (dest / ".best.keras.tmp").replace(dest / "best.keras")
    shutil.copyfile(run_dir / "config.json", dest / "config.json")
    try:
        source = str(run_dir.resolve().relative_to(_config.REPO_ROOT))
    except ValueError:
        source = str(run_dir)
    card = {"exported_from": source, "data": ctx.data}
    for name in ("first_5s", "full_recording"):
        path = run_dir / f"scores_{name}.csv"
        if not path.exists():
            continue
        val, test = load_scores(ctx, spec, seed, name)
        threshold = evaluation.choose_threshold(val["label"], val["score"])
        metrics = evaluation.binary_metrics(test["label"], test["score"], threshold)
        card[f"test_metrics_{name}"] = {k: round(float(v), 4) for k, v in metrics.items()}
        if name == "full_recording":  # predict averages over windows by default
            card["threshold"] = round(float(threshold), 6)
        card.setdefault("threshold", round(float(threshold), 6))
    write_model_card(dest, card)
    return dest
