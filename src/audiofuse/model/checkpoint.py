"""A run folder and the callback that fills it: checkpoints, history and state, atomically.

:class:`RunDir` names the files of one trained run; :class:`ValidationCheckpoint`
is the Keras callback that scores the validation carve-out after every epoch,
keeps the best model and stops training when it stalls. Both are re-exported
by :mod:`audiofuse.model.training`.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
from sklearn.metrics import roc_auc_score

from audiofuse.model.run_dir import RunDir

__all__ = [
    "WeightAverage",
    "ValidationCheckpoint",
    "save_model_atomic",
    "bce",
]


def save_model_atomic(model: keras.Model, path: Path) -> None:
    tmp = path.with_name(f".{path.stem}.tmp.keras")
    model.save(tmp)
    os.replace(tmp, path)


class WeightAverage(keras.callbacks.Callback):
    """Exponential moving average of the trainable weights, updated after every batch.

    Not the optimizer's ``use_ema``: Keras overwrites the model's weights with
    that average at the end of every ``fit`` call, and training calls ``fit``
    once per epoch. The momentum ramps up as ``min(m, (1 + t) / (10 + t))``
    after ``t`` updates, so the early average is not stuck at the random
    initial weights. :meth:`averaged` swaps the average in, e.g. to validate
    and save; :meth:`save` / :meth:`load` carry it across a resumed run.
    """

    def __init__(self, momentum: float):
        super().__init__()
        self.momentum = float(momentum)
        self.updates = 0
        self.shadow: list[np.ndarray] | None = None

    def _values(self) -> list[np.ndarray]:
        return [np.array(keras.ops.convert_to_numpy(v)) for v in self.model.trainable_variables]

    def on_train_batch_end(self, batch, logs=None):
        values = self._values()
        if self.shadow is None:
            self.shadow = values
        else:
            m = min(self.momentum, (1.0 + self.updates) / (10.0 + self.updates))
            for average, value in zip(self.shadow, values, strict=True):
                average *= m
                average += (1.0 - m) * value
        self.updates += 1

    @contextlib.contextmanager
    def averaged(self):
        """Within the block, the model holds the averaged weights."""
        if self.shadow is None:
            yield
            return
        raw = self._values()
        for variable, average in zip(self.model.trainable_variables, self.shadow, strict=True):
            variable.assign(average)
        try:
            yield
        finally:
            for variable, value in zip(self.model.trainable_variables, raw, strict=True):
                variable.assign(value)

    def save(self, path: Path) -> None:
        """Atomically write the average and its update count to ``path`` (.npz)."""
        if self.shadow is None:
            return
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".npz", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            arrays = {f"w{i}": a for i, a in enumerate(self.shadow)}
            np.savez(fh, updates=np.asarray(self.updates), **arrays)
        os.replace(tmp, path)

    def load(self, path: Path) -> None:
        """Restore what :meth:`save` wrote (nothing when ``path`` is absent)."""
        if not path.exists():
            return
        with np.load(path) as stored:
            self.updates = int(stored["updates"])
            self.shadow = [stored[f"w{i}"].copy() for i in range(len(stored.files) - 1)]


class ValidationCheckpoint(keras.callbacks.Callback):
    """Score the validation set after every epoch, keep the best, stop when it stalls.

    After each epoch: the (optionally weighted) validation ROC-AUC and loss
    join the history, and the weights of a new best epoch are kept in memory.
    With a ``run`` folder, ``best.keras``, ``last.keras``, ``history.json`` and
    ``state.json`` are then written atomically and together: after every
    epoch, or with ``save_every_s`` at most that often and always after the
    last epoch. A run cut off anywhere resumes from the last write, and since
    every epoch is a pure function of ``(seed, epoch)`` it redoes the epochs
    after it exactly. Without a run folder the best weights are restored when
    training ends. ``stop_training`` is set after ``patience`` epochs without
    improvement.

    Parameters
    ----------
    score : callable
        ``score(model) -> P(abnormal)`` of every validation example.
    labels : numpy.ndarray
        Validation labels.
    patience, epochs : int
        Early stopping; the epoch limit (for ``state.json``'s ``finished``).
    weights : numpy.ndarray, optional
        Per-example weights of the ROC-AUC (e.g. ``balance="subset"``).
    run : RunDir, optional
    resume : dict, optional
        ``state.json`` of the run being resumed, and ``history`` so far.
    config : dict, optional
        Stored in ``state.json``.
    label : str, optional
        Prefix of the progress line printed after each epoch (none without).
    average : WeightAverage, optional
        Validate and keep the averaged weights (its state is saved beside
        ``last.keras``, which keeps the raw weights to resume from).
    deployable : callable, optional
        ``deployable(model) -> model`` saved as ``best.keras`` (e.g. without
        auxiliary outputs, :func:`audiofuse.model.architecture.deployable`).
    save_every_s : float
        Least time between two writes of the run folder (0: after every epoch).
        A write of the two checkpoints is much of a small model's epoch,
        little of a large one's.
    diagnostics : dict, optional
        ``{history key: measure(model) -> float}``, recorded after every epoch
        with the weights being validated, and never used to choose an epoch or
        to stop (e.g. the test ROC-AUC, to show how much choosing the epoch on
        the test list would gain).
    plateau : (float, int), optional
        ``(factor, patience)``: multiply the optimizer's learning rate by
        ``factor`` after every ``patience`` epochs without a new best (Keras's
        ``ReduceLROnPlateau`` on this callback's own signal). The rate each
        epoch used goes into the history as ``lr``; the lowered rate is saved
        with ``last.keras``, so a resumed run goes on with it.
    """

    def __init__(
        self,
        score,
        labels: np.ndarray,
        *,
        patience: int,
        epochs: int,
        weights: np.ndarray | None = None,
        run: RunDir | None = None,
        resume: dict | None = None,
        history: dict | None = None,
        config: dict | None = None,
        label: str | None = None,
        n_train: int = 0,
        average: WeightAverage | None = None,
        deployable=None,
        save_every_s: float = 0.0,
        diagnostics: dict | None = None,
        plateau: tuple[float, int] | None = None,
    ):
        super().__init__()
        self.diagnostics = diagnostics or {}
        self.plateau = plateau
        self.save_every_s = save_every_s
        self._last_write = time.perf_counter()
        self._best_unsaved = False
        self.average = average
        self.deployable = deployable or (lambda model: model)
        self.score, self.labels, self.weights = score, labels, weights
        self.patience, self.epochs, self.run = patience, epochs, run
        self.config, self.label, self.n_train = config, label, n_train
        self.history = history if history is not None else {}
        resume = resume or {}
        self.best_auc = resume.get("best_val_auc", -np.inf)
        self.best_epoch = resume.get("best_epoch", -1)
        self.wait = resume.get("wait", 0)
        self.elapsed = resume.get("seconds", 0.0)
        self.best_weights = None

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        with self.average.averaged() if self.average else contextlib.nullcontext():
            scores = self.score(self.model)
            val_auc = float(roc_auc_score(self.labels, scores, sample_weight=self.weights))
            if val_auc > self.best_auc:
                self._keep_best()
            measured = {key: float(measure(self.model)) for key, measure in self.diagnostics.items()}
        val_loss = bce(self.labels, scores)
        dt = time.perf_counter() - self._t0
        self.elapsed += dt
        for key, value in (
            ("loss", float((logs or {})["loss"])),
            ("val_loss", val_loss),
            ("val_roc_auc", val_auc),
            ("seconds", dt),
            *measured.items(),
            *([("lr", self._learning_rate())] if self.plateau else []),
        ):
            self.history.setdefault(key, []).append(value)
        improved = val_auc > self.best_auc
        if improved:
            self.best_auc, self.best_epoch, self.wait = val_auc, epoch, 0
        else:
            self.wait += 1
        if self.plateau and self.wait and self.wait % self.plateau[1] == 0:
            # before the write below, so that last.keras holds the lowered rate
            self.model.optimizer.learning_rate = self._learning_rate() * self.plateau[0]
        stop = self.wait >= self.patience
        self._keep(epoch, stop)
        if self.label:
            print(
                f"{self.label} epoch {epoch + 1}/{self.epochs} "
                f"loss {self.history['loss'][-1]:.4f} val_loss {val_loss:.4f} "
                f"val_auc {val_auc:.4f}{' *' if improved else ''} "
                f"({dt:.1f} s, {self.n_train / max(dt, 1e-9):.0f} samples/s)",
                file=sys.stderr,
                flush=True,
            )
        if stop:
            self.model.stop_training = True

    def _learning_rate(self) -> float:
        return float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def _keep_best(self) -> None:
        """The weights as they are now (the averaged ones with an EMA), in memory."""
        self.best_weights = self.model.get_weights()
        self._best_unsaved = True

    def _save_best(self) -> None:
        """``best.keras``: the model with the kept best weights, then its own again."""
        now = self.model.get_weights()
        self.model.set_weights(self.best_weights)
        save_model_atomic(self.deployable(self.model), self.run.checkpoint("best"))
        self.model.set_weights(now)
        self._best_unsaved = False

    def _keep(self, epoch: int, stop: bool) -> None:
        """Checkpoints, history and state on disk (with a run folder), when due."""
        finished = stop or epoch + 1 == self.epochs
        due = time.perf_counter() - self._last_write >= self.save_every_s
        if self.run is None or not (finished or due):
            return
        if self._best_unsaved:
            self._save_best()
        save_model_atomic(self.model, self.run.checkpoint("last"))
        if self.average is not None:
            self.average.save(self.run.average_path)
        self.run.write_json("history", self.history)
        state = {
            "epoch": epoch,
            "best_epoch": self.best_epoch,
            "best_val_auc": self.best_auc,
            "wait": self.wait,
            "seconds": self.elapsed,
            "finished": finished,
            "config": self.config,
        }
        self.run.write_json("state", state)
        self._last_write = time.perf_counter()

    def on_train_end(self, logs=None):
        if self.run is None and self.best_weights is not None:
            self.model.set_weights(self.best_weights)


def bce(labels: np.ndarray, scores: np.ndarray) -> float:
    p = np.clip(scores, 1e-7, 1 - 1e-7)
    return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))
