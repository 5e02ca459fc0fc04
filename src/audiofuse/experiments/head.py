"""Cross-dataset head training: a fresh MLP head on frozen-backbone embeddings.

Keras is imported by the functions, so that importing :mod:`audiofuse.experiments`
to build tables from saved scores does not load it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from audiofuse.data.splits import carve_records
from audiofuse.features.feature_set import FeatureSet

from ..config import Profile

if TYPE_CHECKING:
    import keras

__all__ = ["embed", "train_head"]


def embed(model, features: FeatureSet, kind: str, batch_size: int = 64) -> np.ndarray:
    """Embeddings of every example of ``features``: the input of ``model``'s head."""
    from audiofuse.model.architecture import backbone

    features_of = backbone(model)
    out = []
    for start in range(0, len(features), batch_size):
        idx = np.arange(start, min(start + batch_size, len(features)))
        out.append(np.asarray(features_of.predict_on_batch(features.inputs(kind, idx))))
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
) -> tuple[keras.Model, np.ndarray]:
    """Train a fresh MLP head on frozen-backbone embeddings.

    Equivalent to freezing the backbone and training the head, and far
    cheaper: the backbone runs once. Early stopping (the training loop's
    :class:`~audiofuse.model.checkpoint.ValidationCheckpoint`, best weights kept in
    memory) uses a stratified inner validation split of the given rows.

    Returns
    -------
    head : keras.Model
        At its best epoch on the inner validation split.
    val_idx : numpy.ndarray
        Rows of ``embeddings`` in that inner validation split.
    """
    import keras

    from audiofuse.model import training
    from audiofuse.model.architecture import classification_head
    from audiofuse.model.checkpoint import ValidationCheckpoint

    training.set_seed(seed)
    training.use_graph_optimizer(profile.train.graph_optimizer)
    fit_idx, val_idx = carve_records(np.arange(len(labels)), labels, val_fraction, seed)
    inputs = keras.Input((embeddings.shape[1],))
    head = keras.Model(inputs, classification_head(inputs, profile.model))
    head.compile(
        optimizer=training.AdamW(1e-3, weight_decay=1e-4),
        loss="binary_crossentropy",
        # read at call time, so a test can set it (it changes speed only)
        steps_per_execution=training.STEPS_PER_EXECUTION,
    )
    training.build_training_state(head)
    n_pos = labels[fit_idx].sum()
    weights = {0: len(fit_idx) / (2 * (len(fit_idx) - n_pos)), 1: len(fit_idx) / (2 * n_pos)}
    checkpoint = ValidationCheckpoint(
        lambda m: np.asarray(m.predict_on_batch(embeddings[val_idx])).ravel(),
        labels[val_idx],
        patience=patience,
        epochs=epochs,
    )
    head.fit(
        embeddings[fit_idx],
        labels[fit_idx].astype("float32"),
        batch_size=32,
        epochs=epochs,
        verbose=0,
        class_weight=weights,
        shuffle=True,
        callbacks=[checkpoint],
    )
    return head, val_idx
