"""One carve-out for deep training, the classical baseline and the cross-dataset head."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from audiofuse.data.splits import carve_records

IDS = np.array([f"r{i:02d}" for i in range(40)])
LABELS = np.tile([0, 0, 0, 1], 10)


def test_carve_records_chooses_the_same_records_as_before_for_the_same_seed():
    _, held = carve_records(IDS, LABELS, 0.25, seed=3)
    # what every carve-out did before they shared one function
    _, before = train_test_split(IDS, test_size=0.25, stratify=LABELS, random_state=3)
    assert held.tolist() == before.tolist()
    assert sorted(held.tolist()) == [
        "r00", "r04", "r07", "r10", "r25", "r28", "r32", "r33", "r35", "r38"
    ]  # pinned: a change of carve-out changes every table


def test_carve_records_is_stratified_disjoint_and_seeded():
    kept, held = carve_records(IDS, LABELS, 0.25, seed=0)
    assert set(kept).isdisjoint(held) and len(kept) + len(held) == len(IDS)
    by_id = dict(zip(IDS, LABELS, strict=True))
    assert [by_id[i] for i in held].count(1) in (2, 3)  # a quarter of each class
    assert carve_records(IDS, LABELS, 0.25, seed=1)[1].tolist() != held.tolist()


def test_training_classical_and_head_carve_outs_use_it(monkeypatch):
    from audiofuse.classical import model as classical_model
    from audiofuse.data.splits import balance_strata

    groups = np.repeat(IDS, 2)  # two windows per record
    y = np.repeat(LABELS, 2)
    mask = classical_model._carve(groups, y, 0.25, 3)
    assert sorted(set(groups[mask])) == sorted(carve_records(IDS, LABELS, 0.25, 3)[1])

    meta = pd.DataFrame({"record": IDS, "label": LABELS})
    assert (balance_strata(meta, "label") == LABELS).all()

    calls = []
    import audiofuse.experiments.head as head

    def spy(ids, strata, fraction, seed):
        calls.append((len(ids), fraction, seed))
        return carve_records(ids, strata, fraction, seed)

    monkeypatch.setattr(head, "carve_records", spy)
    from audiofuse.config import get_profile

    rng = np.random.default_rng(0)
    _, val_idx = head.train_head(
        rng.normal(size=(40, 8)).astype("float32"), LABELS, get_profile("smoke"),
        seed=5, epochs=2, patience=1,
    )
    assert calls == [(40, 0.15, 5)]
    assert val_idx.tolist() == carve_records(np.arange(40), LABELS, 0.15, 5)[1].tolist()
