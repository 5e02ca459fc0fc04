"""Cross-dataset head training: a fresh MLP head on frozen-backbone embeddings."""

from __future__ import annotations

import keras
import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from ..config import Profile
from ..features import FeatureSet
from ..training import set_seed

__all__ = ["embed", "train_head"]


def embedding_model(model: keras.Model) -> keras.Model:
    """The trained backbone up to the input of the MLP head."""
    for layer in model.layers:
        if layer.name.startswith("head_dense") or layer.name == "abnormal_probability":
            return keras.Model(model.inputs, layer.input)
    raise ValueError(f"{model.name}: no head layer found")


def embed(model, features: FeatureSet, kind: str, batch_size: int = 64) -> np.ndarray:
    backbone = embedding_model(model)
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
) -> tuple[keras.Model, np.ndarray]:
    """Train a fresh MLP head on frozen-backbone embeddings.

    Equivalent to freezing the backbone and training the head, and far
    cheaper: the backbone runs once. Early stopping uses a stratified inner
    validation split of the given (training) rows.

    Returns
    -------
    head : keras.Model
        At its best epoch on the inner validation split.
    val_idx : numpy.ndarray
        Rows of ``embeddings`` in that inner validation split.
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
    return head, val_idx
