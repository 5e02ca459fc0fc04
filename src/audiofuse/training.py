"""Training that never touches the test split.

* AdamW with binary cross-entropy, and class weights (PhysioNet is ~20 %
  abnormal).
* A stratified validation carve-out of the *training* records drives early
  stopping, checkpointing and (later) the decision threshold.
* ``balance="subset"`` (beyond the paper) balances the classes within each
  recording subset instead, in the loss weights, the carve-out and the
  validation ROC-AUC; see :func:`record_weights`.
* Every epoch writes ``last.keras`` (model + optimizer), ``best.keras`` when
  validation ROC-AUC improves, ``history.json`` and ``state.json``, all
  atomically, so a run that is cut off resumes where it stopped.
* Seeds: on the CPU, the same seed gives the same result.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from .augment import augment_clips, mixup
from .checkpoint import RunDir, ValidationCheckpoint, WeightAverage
from .config import AugmentConfig, FeatureConfig, Profile, augment_preset
from .features import FeatureSet
from .models import MODEL_INPUTS, build_model, deployable
from .reporting import read_json_object
from .splits import carve_records

__all__ = [
    "TrainingError",
    "set_seed",
    "BALANCE_MODES",
    "record_weights",
    "balance_strata",
    "carve_validation",
    "FeatureBatches",
    "RunDir",
    "ValidationCheckpoint",
    "TrainResult",
    "train_model",
    "predict_proba",
    "load_trained",
    "finished_state",
]


class TrainingError(ValueError):
    """Training cannot start: empty data, one class, or a bad checkpoint."""


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and the Keras backend; make TensorFlow ops deterministic."""
    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf  # only for the determinism switch, never in models

        with contextlib.suppress(Exception):  # older TF, or already set
            tf.config.experimental.enable_op_determinism()


def _check_labels(labels: np.ndarray, what: str) -> None:
    if len(labels) == 0:
        raise TrainingError(f"{what} is empty")
    classes = np.unique(labels)
    if len(classes) < 2:
        raise TrainingError(
            f"{what} holds a single class ({int(classes[0])}); need normal and abnormal"
        )


BALANCE_MODES = ("label", "subset")


def _balance_columns(meta: pd.DataFrame, balance: str) -> list[str]:
    if balance not in BALANCE_MODES:
        raise TrainingError(f"balance must be one of {BALANCE_MODES}, got {balance!r}")
    if balance == "subset" and "subset" not in meta.columns:
        raise TrainingError(
            "balance='subset' needs the recording subset of each record (PhysioNet's "
            "training-a..f); this data has none"
        )
    return ["label"] if balance == "label" else ["subset", "label"]


def record_weights(meta: pd.DataFrame, balance: str = "label") -> np.ndarray:
    """Loss weight of every row of ``meta``, from counts of its *records*.

    Parameters
    ----------
    meta : pandas.DataFrame
        ``FeatureSet.meta``: needs ``record`` and ``label`` (and ``subset`` for
        ``balance="subset"``); the windows of one record share its weight.
    balance : {"label", "subset"}
        ``"label"``: ``n / (2 n_y)``, so both classes carry equal total weight
        (the usual class weights; the mean over records is 1). ``"subset"``:
        ``n_s / (2 n_sy)`` for subset ``s``, rescaled to a mean of 1 over
        records, so the classes carry equal weight *within every subset*
        while each subset keeps its share of the records. The subset then
        says nothing about the label, as in PhysioNet's test list.

    Returns
    -------
    numpy.ndarray of float64, one weight per row of ``meta``
    """
    columns = _balance_columns(meta, balance)
    records = meta.drop_duplicates("record")
    n_cell = records.groupby(columns)["record"].transform("size").to_numpy()
    if balance == "label":
        per_record = len(records) / (2.0 * n_cell)
    else:
        n_subset = records.groupby("subset")["record"].transform("size").to_numpy()
        per_record = n_subset / (2.0 * n_cell)
        per_record = per_record / per_record.mean()
    lookup = pd.Series(per_record, index=records["record"].to_numpy())
    return lookup.loc[meta["record"].to_numpy()].to_numpy(dtype=np.float64)


def balance_strata(meta: pd.DataFrame, balance: str = "label") -> np.ndarray:
    """Carve-out stratum of every row of ``meta``.

    The label, or with ``balance="subset"`` the ``"subset/label"`` pair, unless
    a pair holds a single record (it could not be split): then the label.
    """
    _balance_columns(meta, balance)
    labels = meta["label"].to_numpy()
    if balance == "label":
        return labels
    pairs = meta["subset"].astype(str) + "/" + meta["label"].astype(str)
    records_per_pair = pairs.groupby(meta["record"].to_numpy()).first().value_counts()
    return pairs.to_numpy() if records_per_pair.min() >= 2 else labels


def carve_validation(
    features: FeatureSet, fraction: float, seed: int, balance: str = "label"
) -> tuple[np.ndarray, np.ndarray]:
    """Stratified split of the *records* of ``features`` into (train, val) record ids.

    Windows of one recording always land on the same side. The strata are
    those of :func:`balance_strata`.
    """
    per_record = features.meta.drop_duplicates("record")
    strata = balance_strata(per_record, balance)
    _check_labels(per_record["label"].to_numpy(), "training set")
    return carve_records(per_record["record"].to_numpy(), strata, fraction, seed)


class FeatureBatches(keras.utils.PyDataset):
    """Shuffled float32 batches from a (possibly windowed, memory-mapped) FeatureSet.

    With ``one_window_per_record`` each epoch draws one random window of each
    recording, a cheap augmentation when the set holds full-recording windows.
    ``row_weights`` (one per row of ``features``, e.g. from
    :func:`record_weights`) become the batches' sample weights.

    ``augment`` (with the profile's ``feature_config``) augments every batch;
    its random draws depend only on ``(seed, epoch, batch)``, so a resumed run
    sees the batches an uninterrupted one would. Set ``epoch`` before each
    epoch. ``n_outputs`` > 1 repeats the labels and weights for a model with
    auxiliary outputs.
    """

    def __init__(
        self,
        features: FeatureSet,
        kind: str,
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        one_window_per_record: bool = False,
        row_weights: np.ndarray | None = None,
        augment: AugmentConfig | None = None,
        feature_config: FeatureConfig | None = None,
        n_outputs: int = 1,
    ):
        super().__init__()
        if augment is not None and augment.enabled and feature_config is None:
            raise ValueError("augmentation needs the profile's feature_config")
        self.augment = augment if augment is not None and augment.enabled else None
        self.feature_config = feature_config
        self.n_outputs = n_outputs
        self.seed = seed
        self.epoch = 0
        self.features = features
        self.kind = kind
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.rng = np.random.default_rng(seed)
        self.one_window = one_window_per_record
        if row_weights is not None and len(row_weights) != len(features):
            raise ValueError(f"{len(row_weights)} row weights for {len(features)} rows")
        self.row_weights = None if row_weights is None else np.asarray(row_weights, "float32")
        codes, self._groups = np.unique(features.records, return_inverse=True)
        self._n_records = len(codes)
        self.on_epoch_end()

    def _draw(self) -> np.ndarray:
        if not self.one_window:
            return np.arange(len(self.features))
        # one random row per record: random priority, keep each group's max
        priority = self.rng.random(len(self._groups))
        order = np.lexsort((priority, self._groups))
        last_of_group = np.r_[self._groups[order][1:] != self._groups[order][:-1], True]
        return order[last_of_group]

    def on_epoch_end(self):
        self.index = self._draw()
        if self.shuffle:
            self.rng.shuffle(self.index)

    def __len__(self):
        return int(np.ceil(len(self.index) / self.batch_size))

    def __getitem__(self, i):
        rows = np.sort(self.index[i * self.batch_size : (i + 1) * self.batch_size])
        y = self.features.labels[rows].astype("float32")
        w = None if self.row_weights is None else self.row_weights[rows]
        if self.augment is None:
            x = self.features.inputs(self.kind, rows)
        else:
            x, y, w = self._augmented(rows, i, y, w)
        if self.n_outputs > 1:
            y = (y,) * self.n_outputs
            w = None if w is None else (w,) * self.n_outputs
        return (x, y) if w is None else (x, y, w)

    def _augmented(self, rows, i, y, w):
        rng = np.random.default_rng((self.seed, self.epoch, i))
        names = MODEL_INPUTS[self.kind]
        # waveform-domain augmentation recomputes the image from the audio, so
        # a spectrogram-only model sees the same augmented audio as the fusion
        source = MODEL_INPUTS["fusion"] if self.augment.waveform_domain else names
        x = augment_clips(self.features.inputs(source, rows), rng, self.augment, self.feature_config)
        x = {name: x[name] for name in names}
        if self.augment.mixup_alpha:
            x, y, w = mixup(x, y, rng, self.augment.mixup_alpha, w)
        return x, y, w


def predict_proba(
    model: keras.Model, features: FeatureSet, kind: str, batch_size: int = 64
) -> np.ndarray:
    """P(abnormal) for every example of ``features``."""
    batches = FeatureBatches(features, kind, batch_size, shuffle=False)
    # the first output is P(abnormal) also for a model with auxiliary heads
    scores = [_first(model.predict_on_batch(batches[i][0])) for i in range(len(batches))]
    return np.concatenate([np.asarray(s).reshape(-1) for s in scores]).astype(np.float64)


def _first(outputs):
    return outputs[0] if isinstance(outputs, list | tuple) else outputs


@dataclass
class TrainResult:
    """What :func:`train_model` leaves behind (also on disk in ``run_dir``)."""

    model: keras.Model
    run_dir: Path
    history: dict
    best_epoch: int
    best_val_auc: float
    val_records: np.ndarray
    seconds: float


def load_trained(run_dir: str | os.PathLike, which: str = "best") -> tuple[keras.Model, dict]:
    """Load ``best.keras`` (or ``last.keras``) and the run's ``config.json``.

    Raises :class:`TrainingError` with the path when the files are missing or
    unreadable.
    """
    run_dir = Path(run_dir)
    path = run_dir / f"{which}.keras"
    config_path = run_dir / "config.json"
    if not path.exists():
        raise TrainingError(f"{path}: no trained model here")
    config = {}
    if config_path.exists():
        try:
            config = read_json_object(config_path)
        except ValueError as exc:
            raise TrainingError(str(exc)) from None
    # Keras reports a damaged archive as "File not found"; name the real problem.
    if not zipfile.is_zipfile(path):
        raise TrainingError(
            f"{path}: cannot load model (corrupt or truncated: not a .keras zip archive)"
        )
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as exc:
        raise TrainingError(f"{path}: cannot load model ({type(exc).__name__}: {exc})") from None
    return model, config


def train_model(
    kind: str,
    profile: Profile,
    features: FeatureSet,
    run_dir: str | os.PathLike,
    *,
    seed: int = 0,
    progress: bool = True,
    extra_config: dict | None = None,
) -> TrainResult:
    """Train ``kind`` on ``features`` (training records only) and keep the best epoch.

    Parameters
    ----------
    kind : {"fusion", "spectrogram", "waveform"}
    profile : Profile
        Model and training settings (``profile.train``).
    features : FeatureSet
        Training-split examples. One example per record, or several windows
        per record (then each epoch samples one random window per record).
    run_dir : path
        Where checkpoints, history and config go. If it holds a finished run,
        that run is loaded instead of training again; if it holds an
        unfinished one, training resumes from ``last.keras``. A run that
        stopped at its epoch limit resumes when ``profile.train.epochs`` is
        raised; any other change of profile raises :class:`TrainingError`.
    seed : int

    Returns
    -------
    TrainResult
    """
    train_cfg = profile.train
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    run = RunDir(run_dir)
    config = {
        "kind": kind,
        "seed": seed,
        "profile": profile.to_dict(),
        "backend": keras.backend.backend(),
        **(extra_config or {}),
    }
    state = _read_state(run_dir, profile)
    finished = _is_finished(state, train_cfg)

    set_seed(seed)
    balance = train_cfg.balance
    train_set, val_set, val_ids, windowed = _split_training(features, train_cfg, seed)
    config["val_records"] = sorted(str(r) for r in val_ids)
    val_labels = val_set.labels
    # "label" keeps the plain ROC-AUC; "subset" weights it as the loss is weighted
    val_weights = record_weights(val_set.meta, balance) if balance == "subset" else None

    if finished:
        if progress:
            print(f"{run_dir}: finished run found, loaded best.keras", file=sys.stderr)
        best_epoch, best_auc = state["best_epoch"], state["best_val_auc"]
        model, seconds = load_trained(run_dir)[0], state.get("seconds", 0.0)
        return TrainResult(model, run_dir, run.history, best_epoch, best_auc, val_ids, seconds)

    n_examples = train_set.meta["record"].nunique() if windowed else len(train_set)
    model, history, start_epoch = _start_model(
        run, state, kind, profile, config, progress, n_examples
    )
    batches = _training_batches(train_set, kind, profile, seed, windowed, len(model.outputs))
    if state:
        batches.rng = np.random.default_rng(seed + start_epoch)
    average = None
    if train_cfg.ema_momentum:
        average = WeightAverage(train_cfg.ema_momentum)
        average.load(run.average_path)
    checkpoint = ValidationCheckpoint(
        lambda m: predict_proba(m, val_set, kind),
        val_labels,
        patience=train_cfg.patience,
        epochs=train_cfg.epochs,
        weights=val_weights,
        run=run,
        resume=state,
        history=history,
        config=config,
        label=f"[{kind} seed {seed}]" if progress else None,
        n_train=len(batches.index),
        average=average,
        deployable=deployable,
    )
    callbacks = [average, checkpoint] if average else [checkpoint]
    # One fit call per epoch, not one for all: Keras 3 starts reading the next
    # epoch's batches before it calls the dataset's on_epoch_end, so a single
    # fit would see a stale window draw and change every history (measured).
    for epoch in range(start_epoch, train_cfg.epochs):
        batches.epoch = epoch
        model.fit(batches, initial_epoch=epoch, epochs=epoch + 1, callbacks=callbacks, verbose=0)
        if checkpoint.stopped:
            break
    model, _ = load_trained(run_dir)
    return TrainResult(
        model,
        run_dir,
        checkpoint.history,
        checkpoint.best_epoch,
        checkpoint.best_auc,
        val_ids,
        checkpoint.elapsed,
    )


def _training_batches(
    train_set: FeatureSet, kind: str, profile: Profile, seed: int, windowed: bool, n_outputs: int
) -> FeatureBatches:
    """The shuffled, weighted (and with ``train.augment``, augmented) training batches."""
    train_cfg = profile.train
    weights = record_weights(train_set.meta, train_cfg.balance) if train_cfg.class_weighting else None
    return FeatureBatches(
        train_set,
        kind,
        train_cfg.batch_size,
        seed=seed,
        one_window_per_record=windowed,
        row_weights=weights,
        augment=augment_preset(train_cfg.augment),
        feature_config=profile.features,
        n_outputs=n_outputs,
    )


def _split_training(features: FeatureSet, train_cfg, seed: int):
    """``(train_set, val_set, val_ids, windowed)``: the validation carve-out of the records.

    Validation scores the first clip of each record, as the paper's test does.
    """
    train_ids, val_ids = carve_validation(features, train_cfg.val_fraction, seed, train_cfg.balance)
    train_set = features.select_records(train_ids)
    val_set = features.select_records(val_ids)
    windowed = bool(len(features) > features.meta["record"].nunique())
    if windowed:
        val_set = val_set.subset(val_set.meta["window"].to_numpy() == 0)
    _check_labels(val_set.labels, "validation carve-out")
    return train_set, val_set, val_ids, windowed


def learning_rate(train_cfg, n_examples: int):
    """The optimizer's learning rate: a constant, or warm-up plus cosine decay.

    ``n_examples`` (per epoch) turns epochs into optimizer steps; the cosine
    reaches zero at ``train_cfg.epochs``.
    """
    if train_cfg.lr_schedule == "constant":
        return train_cfg.learning_rate
    if train_cfg.lr_schedule != "cosine":
        raise TrainingError(
            f"lr_schedule must be 'constant' or 'cosine', got {train_cfg.lr_schedule!r}"
        )
    steps = int(np.ceil(n_examples / train_cfg.batch_size))
    warmup = train_cfg.warmup_epochs * steps
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warmup else train_cfg.learning_rate,
        decay_steps=max(1, train_cfg.epochs * steps - warmup),
        warmup_target=train_cfg.learning_rate if warmup else None,
        warmup_steps=warmup,
    )


def _start_model(
    run: RunDir, state, kind: str, profile: Profile, config: dict, progress: bool, n_examples: int
):
    """``(model, history, start_epoch)``: ``last.keras`` of an unfinished run, else a new model.

    Writes ``config.json`` (a resumed run keeps its own, with the new epoch limit).
    """
    if state:
        model = keras.saving.load_model(run.checkpoint("last"))
        start_epoch = state["epoch"] + 1
        stored = run.config or dict(config)
        stored["profile"] = config["profile"]  # the epoch limit may have been raised
        run.write_json("config", stored)
        if progress:
            print(f"{run.path}: resuming at epoch {start_epoch + 1}", file=sys.stderr)
        return model, run.history, start_epoch
    train_cfg = profile.train
    aux = bool(train_cfg.aux_loss_weight) and kind == "fusion"
    model = build_model(kind, profile.features, profile.model, aux_heads=aux)
    n_outputs = len(model.outputs)
    model.compile(
        optimizer=keras.optimizers.AdamW(
            learning_rate=learning_rate(train_cfg, n_examples),
            weight_decay=train_cfg.weight_decay,
        ),
        loss="binary_crossentropy" if n_outputs == 1 else ["binary_crossentropy"] * n_outputs,
        loss_weights=None if n_outputs == 1 else [1.0] + [train_cfg.aux_loss_weight] * 2,
    )
    config["params"] = int(deployable(model).count_params())
    run.write_json("config", config)
    return model, {}, 0


def _read_state(run_dir: Path, profile: Profile) -> dict | None:
    """The run's state.json, checked to belong to ``profile`` (None when absent)."""
    state = RunDir(run_dir).state
    if state and _resumable(state.get("config", {}).get("profile")) != _resumable(
        profile.to_dict()
    ):
        raise TrainingError(
            f"{run_dir}: holds a run with a different configuration; choose another --runs-dir"
        )
    return state


def _is_finished(state: dict | None, train_cfg) -> bool:
    # A run that reached its epoch limit (not early-stopped) continues when
    # asked for more epochs; an early-stopped one stays finished.
    return bool(
        state
        and state.get("finished")
        and (state["wait"] >= train_cfg.patience or state["epoch"] + 1 >= train_cfg.epochs)
    )


def finished_state(run_dir: str | os.PathLike, profile: Profile) -> dict | None:
    """``state.json`` of a finished run of ``profile`` in ``run_dir``, else None.

    Lets results be rebuilt from a run's saved scores without loading the
    model, e.g. when the model was trained on another machine.

    Raises
    ------
    TrainingError
        If ``run_dir`` holds a run of a different configuration.
    """
    state = _read_state(Path(run_dir), profile)
    return state if _is_finished(state, profile.train) else None


def _resumable(profile: dict | None) -> dict | None:
    """A profile as JSON (tuples become lists, as on disk), less the epoch limit,
    which a resumed run may raise."""
    if profile is None:
        return None
    # through Profile so that fields added since the run was stored take their defaults
    profile = json.loads(json.dumps(Profile.from_dict(profile).to_dict()))
    profile.get("train", {}).pop("epochs", None)
    return profile
