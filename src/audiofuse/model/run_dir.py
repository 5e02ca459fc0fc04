"""A trained run's folder, read and written without the training stack.

:class:`RunDir` names the files of one run; :func:`finished_state` tells
whether it holds a finished run of a profile. Tables are built from these
files alone, so this module imports neither Keras nor TensorFlow: a notebook
that only builds tables never loads the training stack.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from audiofuse.config import Profile
from audiofuse.data.splits import TrainingError
from audiofuse.files import write_text_atomic

__all__ = [
    "RunDir",
    "write_json_atomic",
    "read_state",
    "is_finished",
    "finished_state",
    "DIAGNOSTIC_TEST_AUC",
    "RESUMABLE_CHANGES",
]

#: History key of the test ROC-AUC recorded after every epoch with
#: ``train_model(diagnostic_test=...)``: a diagnostic only, never used for selection.
DIAGNOSTIC_TEST_AUC = "diagnostic_test_roc_auc"
#: Training settings a run may change and still resume (see :func:`resumable`).
RESUMABLE_CHANGES = ("epochs", "graph_optimizer")


def write_json_atomic(path: Path, payload) -> None:
    write_text_atomic(path, json.dumps(payload, indent=2, default=str))


@dataclass(frozen=True)
class RunDir:
    """One trained run's folder and the files in it.

    ``state.json`` (training progress), ``config.json`` (what was trained),
    ``history.json`` (per-epoch metrics), ``best.keras`` / ``last.keras``
    (checkpoints) and ``scores_<evaluation>.csv`` (per-record scores of the
    validation carve-out and the test split).
    """

    path: Path

    def __post_init__(self):
        object.__setattr__(self, "path", Path(self.path))

    @property
    def state_path(self) -> Path:
        return self.path / "state.json"

    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    @property
    def history_path(self) -> Path:
        return self.path / "history.json"

    def checkpoint(self, which: str = "best") -> Path:
        """``best.keras`` or ``last.keras``."""
        return self.path / f"{which}.keras"

    @property
    def average_path(self) -> Path:
        """``average.npz``: the weight average of a run trained with an EMA."""
        return self.path / "average.npz"

    def scores_path(self, name: str) -> Path:
        return self.path / f"scores_{name}.csv"

    @staticmethod
    def _json(path: Path) -> dict | None:
        return json.loads(path.read_text()) if path.exists() else None

    @property
    def state(self) -> dict | None:
        return self._json(self.state_path)

    @property
    def config(self) -> dict:
        return self._json(self.config_path) or {}

    @property
    def history(self) -> dict:
        return self._json(self.history_path) or {}

    def write_json(self, which: str, payload: dict) -> None:
        """Atomically write ``state``, ``config`` or ``history``."""
        self.path.mkdir(parents=True, exist_ok=True)
        write_json_atomic(getattr(self, f"{which}_path"), payload)

    def scores(self, name: str = "first_5s", *, split: bool = True):
        """Per-record scores as ``(val, test)`` frames (or one frame with ``split=False``)."""
        both = pd.read_csv(self.scores_path(name), dtype={"record": str})
        if not split:
            return both
        return both[both["split"] == "val"], both[both["split"] == "test"]

    def write_scores(self, name: str, val: pd.DataFrame, test: pd.DataFrame | None = None) -> Path:
        """Atomically write ``scores_<name>.csv``; ``test=None`` writes ``val`` as it is."""
        both = (
            val
            if test is None
            else pd.concat([val.assign(split="val"), test.assign(split="test")], ignore_index=True)
        )
        self.path.mkdir(parents=True, exist_ok=True)
        path = self.scores_path(name)
        write_text_atomic(path, both.to_csv(index=False))
        return path

    def is_scored(self, names) -> bool:
        """True when every ``scores_<name>.csv`` exists and postdates the training state."""
        if not self.state_path.exists():
            return False
        trained = self.state_path.stat().st_mtime
        paths = [self.scores_path(name) for name in names]
        return all(p.exists() and p.stat().st_mtime >= trained for p in paths)


def read_state(run_dir: Path, profile: Profile) -> dict | None:
    """The run's state.json, checked to belong to ``profile`` (None when absent)."""
    state = RunDir(run_dir).state
    if state and resumable(state.get("config", {}).get("profile")) != resumable(
        profile.to_dict()
    ):
        raise TrainingError(
            f"{run_dir}: holds a run with a different configuration; choose another --runs-dir"
        )
    return state


def is_finished(state: dict | None, train_cfg) -> bool:
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
    state = read_state(Path(run_dir), profile)
    return state if is_finished(state, profile.train) else None


def resumable(profile: dict | None) -> dict | None:
    """A profile as JSON (tuples become lists, as on disk), less what may change
    between a run and its resumption: the epoch limit, which a resumed run may
    raise, and the graph optimizer switch (speed and last bits, not the recipe)."""
    if profile is None:
        return None
    # through Profile so that fields added since the run was stored take their defaults
    profile = json.loads(json.dumps(Profile.from_dict(profile).to_dict()))
    for name in RESUMABLE_CHANGES:
        profile.get("train", {}).pop(name, None)
    return profile
