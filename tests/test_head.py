"""Cross-dataset head training (audiofuse.experiments.head) on random embeddings."""

from __future__ import annotations

import numpy as np

from audiofuse.config import get_profile
from audiofuse.experiments.head import train_head
from audiofuse.model import training


def test_head_training_takes_the_same_steps_several_per_call(monkeypatch):
    """Steps per execution is a speed setting only: one step per call gives the same head."""
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(120, 8)).astype("float32")
    labels = (embeddings[:, 0] + rng.normal(size=120) > 0).astype(int)
    profile = get_profile("smoke")
    fast, fast_val = train_head(embeddings, labels, profile, seed=1, epochs=6, patience=6)
    monkeypatch.setattr(training, "STEPS_PER_EXECUTION", 1)
    slow, slow_val = train_head(embeddings, labels, profile, seed=1, epochs=6, patience=6)
    assert fast_val.tolist() == slow_val.tolist()
    np.testing.assert_array_equal(
        fast.predict_on_batch(embeddings), slow.predict_on_batch(embeddings)
    )
