"""The experiment context: profile, data, seeds and folders, resolved once by :func:`setup`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from audiofuse.config import Profile, get_profile
from audiofuse.data.indexes import DatasetError, index_physionet, is_synthetic, physionet_split
from audiofuse.data.protocols import Fold
from audiofuse.features.cache import load_or_extract
from audiofuse.features.feature_set import FeatureSet
from audiofuse.model.run_dir import RunDir
from audiofuse.paths import Paths
from audiofuse.reporting.provenance import provenance

from .specs import ModelSpec

__all__ = ["Context", "run_name", "setup", "features", "physionet_index", "physionet_data"]


def run_name(spec: ModelSpec, profile: Profile, fold: Fold | None = None) -> str:
    """The folder name of ``spec``'s runs: its run slug, ``-fold_<name>`` appended for
    the runs trained on the training side of ``fold``."""
    slug = spec.run_slug(profile)
    return slug if fold is None else f"{slug}-fold_{fold.name}"


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
    # PASCAL head-trained protocol: stratified 85/15 splits, each with its own head
    head_splits: int = 20
    # diagnostics only, never used for selection: the test ROC-AUC after every
    # epoch (in each run's history) and the fusion runs' branch knock-outs
    diagnostics: bool = False
    # the session's folders; by default those holding ``runs`` and ``results``
    paths: Paths | None = None
    # features and the PhysioNet index, computed once per context
    _memo: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        if self.paths is None:  # runs and results are <root>/<data>/<profile>
            self.paths = Paths.resolve(
                runs=self.runs.parent.parent, results=self.results.parent.parent
            )

    def prov(self, **extra) -> dict:
        """What produced this context's results (:func:`audiofuse.reporting.provenance.provenance`),
        with the epoch cap when ``setup(epochs=...)`` changed the profile's epochs."""
        epochs, profile_epochs = self.profile.train.epochs, get_profile(self.profile.name).train.epochs
        capped = {} if epochs == profile_epochs else {"epochs": f"{epochs} (profile: {profile_epochs})"}
        return provenance(
            data=self.data, profile=self.profile.name, seeds=self.seeds, **capped, **extra
        )

    def run(self, spec: ModelSpec | str, seed: int) -> RunDir:
        """The folder of the run of ``spec`` (or of the run folder name ``spec``) with ``seed``."""
        slug = spec if isinstance(spec, str) else spec.run_slug(self.profile)
        return RunDir(self.runs / slug / f"seed{seed}")

    def fold_run(self, spec: ModelSpec, seed: int, fold: Fold | None) -> RunDir:
        """:meth:`run`, or with ``fold`` the run trained on that fold's training side
        (its own folder, ``<model>-fold_<name>``, so scores export and restore alike)."""
        return self.run(run_name(spec, self.profile, fold), seed)

    @property
    def cache(self) -> Path:
        """Feature caches (shared by every profile and data of the same runs root)."""
        return self.paths.cache


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
    head_splits: int = 20,
    diagnostics: bool = False,
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
    head_splits : int
        PASCAL's head-trained protocol is repeated over this many stratified
        85/15 splits (one split of 88 test recordings has an sd of ~0.04).
    diagnostics : bool
        Runs trained here record their test ROC-AUC after every epoch, and
        ``train-runs`` scores every fusion's branch knock-outs: diagnostics that
        never choose an epoch, a threshold or a model.
    """
    chosen = get_profile(profile)
    if epochs:
        chosen = chosen.replace(train=chosen.train.replace(epochs=int(epochs)))
    synthetic = data_dir in (None, "", "synthetic")
    paths = Paths.resolve(data=None if synthetic else data_dir, runs=runs_dir, results=results_dir)
    if synthetic:
        from audiofuse.data.synthetic import make_synthetic_datasets

        size = "smoke" if chosen.name == "smoke" else "demo"
        roots = make_synthetic_datasets(paths.synthetic, size=size)
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
    runs = paths.runs / data / chosen.name
    results = paths.results / data / chosen.name
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
        head_splits=int(head_splits),
        diagnostics=bool(diagnostics),
        paths=paths,
    )


def features(ctx: Context, table: pd.DataFrame, dataset: str, windows: bool) -> FeatureSet:
    """Features of ``table`` (first clips or all windows), from the cache or extracted once."""
    key = (dataset, windows)
    if key not in ctx._memo:
        ctx._memo[key] = load_or_extract(
            table,
            ctx.profile.features,
            ctx.cache / dataset,
            windows=windows,
            progress=ctx.progress,
            desc=f"{dataset} {'windows' if windows else 'first clip'}",
        )
    return ctx._memo[key]


def physionet_index(ctx: Context) -> pd.DataFrame:
    """The PhysioNet index, read once per context."""
    if "physionet_index" not in ctx._memo:
        ctx._memo["physionet_index"] = index_physionet(ctx.physionet_root)
    return ctx._memo["physionet_index"]


def physionet_features(ctx: Context, windows: bool = False) -> FeatureSet:
    """Every PhysioNet record's features (first clips, or all ``windows``), memory-mapped
    from the cache: nothing is copied until rows are selected."""
    return features(ctx, physionet_index(ctx), "physionet2016", windows)


def split_records(ctx: Context, fold: Fold | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) record names of the paper's split, or of ``fold``'s."""
    if fold is not None:
        return np.asarray(fold.train), np.asarray(fold.test)
    train, test = physionet_split(physionet_index(ctx))
    return train["record"].to_numpy(), test["record"].to_numpy()


def physionet_data(
    ctx: Context, windows: bool = False, fold: Fold | None = None
) -> tuple[FeatureSet, FeatureSet]:
    """(train, test) features on the paper's split, or on ``fold``'s (e.g. one
    leave-one-subset-out fold); ``windows`` for full recordings."""
    train, test = split_records(ctx, fold)
    data = physionet_features(ctx, windows)
    return data.select_records(train), data.select_records(test)
