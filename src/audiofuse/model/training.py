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
import os
import sys
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
from sklearn.metrics import roc_auc_score

from audiofuse.config import CHECKPOINT_EVERY_S, STEPS_PER_EXECUTION, Profile, augment_preset
from audiofuse.data.splits import (
    TrainingError,
    balance_strata,
    carve_records,
    check_labels,
    record_weights,
)
from audiofuse.features.batches import FeatureBatches, fit_input
from audiofuse.features.feature_set import FeatureSet
from audiofuse.files import read_json_object
from audiofuse.model.architecture import (
    BRANCH_PREFIXES,
    build_model,
    copy_branch_weights,
    deployable,
)
from audiofuse.model.checkpoint import ValidationCheckpoint, WeightAverage
from audiofuse.model.run_dir import (
    DIAGNOSTIC_TEST_AUC,
    RunDir,
    is_finished,
    read_state,
)
from audiofuse.model.tensorflow_env import ONEDNN_VARIABLE

__all__ = [
    "set_seed",
    "carve_validation",
    "TrainResult",
    "train_model",
    "training_batches",
    "predict_proba",
    "load_trained",
    "steps_per_execution",
    "build_training_state",
    "onednn_enabled",
    "AdamW",
    "use_graph_optimizer",
]


@keras.saving.register_keras_serializable(package="audiofuse")
class AdamW(keras.optimizers.AdamW):
    """Keras's AdamW, bit for bit, with the step's scalars computed once per step.

    Keras computes the learning rate (a whole schedule, where there is one),
    the bias corrections and the step size again for every variable. The
    compiled step computes them once anyway, but each copy is traced, and
    tracing is most of a short run, so a smoke run's first epoch is shorter.
    The same ops on the same values: the same updates, bit for bit (a test
    pins it).
    """

    def apply(self, grads, trainable_variables=None):
        # object.__setattr__: a plain cache, not optimizer state for Keras to track
        object.__setattr__(self, "_step_scalars", {})
        try:
            return super().apply(grads, trainable_variables)
        finally:
            object.__setattr__(self, "_step_scalars", None)

    def _once_per_step(self, key, make):
        """``make()``, computed once per :meth:`apply` (every call outside one)."""
        cache = getattr(self, "_step_scalars", None)
        if cache is None:
            return make()
        if key not in cache:
            cache[key] = make()
        return cache[key]

    def _get_current_learning_rate(self):
        return self._once_per_step("learning_rate", super()._get_current_learning_rate)

    def update_step(self, gradient, variable, learning_rate):
        # keras.optimizers.Adam.update_step (amsgrad off), its step size shared
        if self.amsgrad:
            return super().update_step(gradient, variable, learning_rate)
        ops, dtype = keras.ops, variable.dtype

        def step_size():
            lr = ops.cast(learning_rate, dtype)
            local_step = ops.cast(self.iterations + 1, dtype)
            beta_1_power = ops.power(ops.cast(self.beta_1, dtype), local_step)
            beta_2_power = ops.power(ops.cast(self.beta_2, dtype), local_step)
            return lr * ops.sqrt(1 - beta_2_power) / (1 - beta_1_power)

        alpha = self._once_per_step(("step_size", dtype), step_size)
        gradient = ops.cast(gradient, dtype)
        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1 - self.beta_1))
        self.assign_add(v, ops.multiply(ops.subtract(ops.square(gradient), v), 1 - self.beta_2))
        self.assign_sub(
            variable, ops.divide(ops.multiply(m, alpha), ops.add(ops.sqrt(v), self.epsilon))
        )


def steps_per_execution(train_cfg) -> int:
    """:data:`STEPS_PER_EXECUTION`, or 1 when the run keeps an EMA of the weights
    (:class:`WeightAverage` reads them after every batch).

    Every call of the compiled training step pays a fixed dispatch cost (the
    tf.function call, the iterator, the callbacks); several steps per call give
    the same updates in the same order (a test pins it). Short steps gain
    most (the smoke runs, the PASCAL head); the ``cpu`` fusion's steps are long
    enough not to notice.
    """
    return 1 if train_cfg.ema_momentum else STEPS_PER_EXECUTION


def build_training_state(model: keras.Model) -> keras.Model:
    """Create the compiled ``model``'s training variables now, eagerly; return ``model``.

    The optimizer's slots, and the compiled loss's trackers (one per output of a
    model with auxiliary heads): Keras' TensorFlow trainer otherwise creates them
    while it traces the first training step, and a ``tf.function`` that creates
    variables is traced twice (once to create them, once without). Building them
    first halves that tracing, the largest fixed cost of a short run. The
    variables start at the same values and the trackers are reset at
    every epoch, so training is unchanged, bit for bit (tests pin it). Other
    backends build them before tracing anyway.
    """
    model.optimizer.build(model.trainable_variables)
    # a loss on zeros builds the loss trackers; fit resets their state every epoch
    zeros = [np.zeros((1, *output.shape[1:]), "float32") for output in model.outputs]
    zeros = zeros if len(zeros) > 1 else zeros[0]
    model.compute_loss(y=zeros, y_pred=zeros)
    return model


def onednn_enabled() -> bool | None:
    """Whether TensorFlow runs its oneDNN kernels (None under another backend).

    Recorded in each run's ``config.json``: the same seed gives other last bits
    with and without them (see :func:`~audiofuse.model.tensorflow_env.prepare_tensorflow`
    for why they are on).
    """
    if keras.backend.backend() != "tensorflow":
        return None
    try:  # TensorFlow's own answer; private, so a TensorFlow without it gives None
        from tensorflow.python.util import _pywrap_util_port

        enabled = bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):
        return None
    if not enabled and os.environ.get(ONEDNN_VARIABLE) == "1":
        # asked for, yet off: TensorFlow was imported before the variable was set
        warnings.warn(
            "TensorFlow was imported before TF_ENABLE_ONEDNN_OPTS=1 was set, so its oneDNN "
            "kernels are off on this CPU and training is slower; call "
            "audiofuse.model.tensorflow_env.prepare_tensorflow() before importing TensorFlow",
            stacklevel=2,
        )
    return enabled


def use_graph_optimizer(enabled: bool) -> None:
    """Turn TensorFlow's graph optimizer (grappler) on or off, for this process.

    It applies to the compiled steps a model runs first from now on (see
    ``TrainConfig.graph_optimizer`` for when each is worth it); other backends
    have none to switch.
    """
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf  # a process-wide switch, never in models

        tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": not enabled})


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and the Keras backend; make TensorFlow ops deterministic."""
    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf  # only for the determinism switch, never in models

        with contextlib.suppress(Exception):  # older TF, or already set
            tf.config.experimental.enable_op_determinism()


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
    init_from: dict | None = None,
    diagnostic_test: FeatureSet | None = None,
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
    init_from : dict, optional
        ``{branch: model path}``: with ``profile.train.staged``, the trained
        single-branch models whose branch weights a new fusion starts from
        (see :func:`audiofuse.model.architecture.copy_branch_weights`).
    diagnostic_test : FeatureSet, optional
        Test examples (first clip) scored after every epoch, as a diagnostic
        only: their ROC-AUC goes into the history as ``DIAGNOSTIC_TEST_AUC``
        and never chooses the epoch, stops training or sets a threshold.

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
        "onednn": onednn_enabled(),
        **(extra_config or {}),
    }
    state = read_state(run_dir, profile)
    finished = is_finished(state, train_cfg)

    set_seed(seed)
    use_graph_optimizer(train_cfg.graph_optimizer)
    train_set, val_set, val_ids, windowed = _split_training(features, train_cfg, seed)
    config["val_records"] = sorted(str(r) for r in val_ids)

    if finished:
        if progress:
            print(f"{run_dir}: finished run found, loaded best.keras", file=sys.stderr)
        best_epoch, best_auc = state["best_epoch"], state["best_val_auc"]
        model, seconds = load_trained(run_dir)[0], state.get("seconds", 0.0)
        return TrainResult(model, run_dir, run.history, best_epoch, best_auc, val_ids, seconds)

    n_examples = train_set.meta["record"].nunique() if windowed else len(train_set)
    model, history, start_epoch = _start_model(
        run, state, kind, profile, config, progress, n_examples, init_from
    )
    batches = training_batches(train_set, kind, profile, seed, windowed, len(model.outputs))
    average, checkpoint = _callbacks(
        run, state, history, config, val_set, kind, train_cfg, len(batches.index), progress
    )
    if diagnostic_test is not None:
        checkpoint.diagnostics[DIAGNOSTIC_TEST_AUC] = lambda m: roc_auc_score(
            diagnostic_test.labels, predict_proba(m, diagnostic_test, kind)
        )
    callbacks = [batches.epoch_callback(), *([average] if average else []), checkpoint]
    if start_epoch < train_cfg.epochs:
        # One fit for every epoch; the checkpoint callback stops it early. The
        # batches shuffle themselves (a pure draw per epoch): fit's own shuffle
        # of the batch order would draw from global state, which a resume resets.
        model.fit(
            fit_input(batches),
            shuffle=False,
            initial_epoch=start_epoch,
            epochs=train_cfg.epochs,
            callbacks=callbacks,
            verbose=0,
        )
    return TrainResult(
        _best_model(model, checkpoint, run_dir),
        run_dir,
        checkpoint.history,
        checkpoint.best_epoch,
        checkpoint.best_auc,
        val_ids,
        checkpoint.elapsed,
    )


def _best_model(model: keras.Model, checkpoint: ValidationCheckpoint, run_dir: Path):
    """The run's ``best.keras`` model: the trained ``model`` set to the best weights kept
    in memory, else (a resumed run that did not improve here) loaded from disk.

    The same weights as the file, and the same model but for ``deployable``'s
    auxiliary outputs; reusing it skips loading the file and tracing a new
    prediction function for the scores that follow.
    """
    if checkpoint.best_weights is None:
        return load_trained(run_dir)[0]
    model.set_weights(checkpoint.best_weights)
    return deployable(model)


def _callbacks(run, state, history, config, val_set, kind, train_cfg, n_train, progress):
    """``(average, checkpoint)``: the weight average (None without an EMA) and the
    :class:`ValidationCheckpoint`, both resumed from ``state`` when given."""
    average = None
    if train_cfg.ema_momentum:
        average = WeightAverage(train_cfg.ema_momentum)
        average.load(run.average_path)
    # "label" keeps the plain ROC-AUC; "subset" weights it as the loss is weighted
    balance = train_cfg.balance
    val_weights = record_weights(val_set.meta, balance) if balance == "subset" else None
    checkpoint = ValidationCheckpoint(
        lambda m: predict_proba(m, val_set, kind),
        val_set.labels,
        patience=train_cfg.patience,
        epochs=train_cfg.epochs,
        weights=val_weights,
        run=run,
        resume=state,
        history=history,
        config=config,
        label=f"[{kind} seed {config['seed']}]" if progress else None,
        n_train=n_train,
        average=average,
        deployable=deployable,
        save_every_s=CHECKPOINT_EVERY_S,
        plateau=(
            (train_cfg.plateau_factor, train_cfg.plateau_patience)
            if train_cfg.lr_schedule == "plateau"
            else None
        ),
    )
    return average, checkpoint


def training_batches(
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


def carve_validation(
    features: FeatureSet, fraction: float, seed: int, balance: str = "label"
) -> tuple[np.ndarray, np.ndarray]:
    """Stratified split of the *records* of ``features`` into (train, val) record ids.

    Windows of one recording always land on the same side. The strata are
    those of :func:`balance_strata`.
    """
    per_record = features.meta.drop_duplicates("record")
    strata = balance_strata(per_record, balance)
    check_labels(per_record["label"].to_numpy(), "training set")
    return carve_records(per_record["record"].to_numpy(), strata, fraction, seed)


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
    check_labels(val_set.labels, "validation carve-out")
    return train_set, val_set, val_ids, windowed


def learning_rate(train_cfg, n_examples: int):
    """The optimizer's learning rate: a constant (also where a plateau lowers it), or
    warm-up plus cosine decay.

    ``n_examples`` (per epoch) turns epochs into optimizer steps; the cosine
    reaches zero at ``train_cfg.epochs``.
    """
    if train_cfg.lr_schedule in ("constant", "plateau"):  # the checkpoint lowers a plateau's
        return train_cfg.learning_rate
    if train_cfg.lr_schedule != "cosine":
        raise TrainingError(
            "lr_schedule must be 'constant', 'cosine' or 'plateau', "
            f"got {train_cfg.lr_schedule!r}"
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
    run: RunDir,
    state,
    kind: str,
    profile: Profile,
    config: dict,
    progress: bool,
    n_examples: int,
    init_from: dict | None = None,
):
    """``(model, history, start_epoch)``: ``last.keras`` of an unfinished run, else a new
    model (its branches copied from ``init_from`` in staged training).

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
    if train_cfg.staged:
        config["init_from"] = _init_branches(model, kind, init_from)
    n_outputs = len(model.outputs)
    model.compile(
        optimizer=AdamW(
            learning_rate=learning_rate(train_cfg, n_examples),
            weight_decay=train_cfg.weight_decay,
        ),
        loss="binary_crossentropy" if n_outputs == 1 else ["binary_crossentropy"] * n_outputs,
        loss_weights=None if n_outputs == 1 else [1.0] + [train_cfg.aux_loss_weight] * 2,
        steps_per_execution=steps_per_execution(train_cfg),
    )
    build_training_state(model)
    config["params"] = int(deployable(model).count_params())
    run.write_json("config", config)
    return model, {}, 0


def _init_branches(model: keras.Model, kind: str, init_from: dict | None) -> dict:
    """Staged training: copy each branch of ``model`` from its trained model."""
    if kind != "fusion" or not init_from or set(init_from) != set(BRANCH_PREFIXES):
        raise TrainingError(
            "staged training needs a fusion model and a trained model per branch "
            f"({', '.join(BRANCH_PREFIXES)}); got {kind!r} and {sorted(init_from or {})}"
        )
    for branch, path in init_from.items():
        source = keras.saving.load_model(path, compile=False)
        copy_branch_weights(model, source, branch)
    return {branch: str(path) for branch, path in init_from.items()}
