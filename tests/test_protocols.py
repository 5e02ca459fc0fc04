"""Out-of-domain protocols: folds are disjoint, complete and reproducible."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audiofuse.data.protocols import leave_one_subset_out, repeated_stratified_splits


def _table() -> pd.DataFrame:
    rows = []
    for subset, n_normal, n_abnormal in (("a", 3, 5), ("b", 6, 2), ("c", 4, 0), ("d", 2, 2)):
        for i in range(n_normal + n_abnormal):
            rows.append({"record": f"{subset}{i:04d}", "subset": subset, "label": int(i >= n_normal)})
    table = pd.DataFrame(rows)
    # the official test records appear a second time (validation/ folder)
    return pd.concat([table, table.iloc[[0, 9]]], ignore_index=True)


def test_leave_one_subset_out_holds_out_each_subset_once():
    table = _table()
    folds = leave_one_subset_out(table)
    assert [f.name for f in folds] == ["a", "b", "d"]  # "c" has no abnormal record
    unique = table.drop_duplicates("record")
    for fold in folds:
        assert set(fold.train).isdisjoint(fold.test)
        assert len(fold.train) + len(fold.test) == len(unique)
        assert set(unique.loc[unique["subset"] == fold.name, "record"]) == set(fold.test)
        train, test = fold.tables(unique)
        assert (test["subset"] == fold.name).all() and (train["subset"] != fold.name).all()


def test_leave_one_subset_out_on_real_physionet(real_data_dir):
    from audiofuse.data.indexes import index_physionet

    table = index_physionet(real_data_dir / "physionet2016", probe=False)
    folds = leave_one_subset_out(table)
    assert [f.name for f in folds] == list("abcdef")
    assert sum(len(f.test) for f in folds) == 3240


def test_repeated_splits_are_stratified_and_reproducible():
    table = pd.DataFrame({"record": [f"r{i}" for i in range(100)], "label": [0] * 60 + [1] * 40})
    folds = repeated_stratified_splits(table, n_splits=20, test_size=0.15, seed=3)
    again = repeated_stratified_splits(table, n_splits=20, test_size=0.15, seed=3)
    assert len(folds) == 20
    for fold, twin in zip(folds, again, strict=True):
        assert np.array_equal(fold.test, twin.test)
        assert set(fold.train).isdisjoint(fold.test)
        _, test = fold.tables(table)
        assert len(test) == 15 and test["label"].sum() == 6  # 40 % abnormal, as in the whole
    assert len({tuple(sorted(f.test)) for f in folds}) == 20


@pytest.mark.parametrize("n_splits", [1, 5])
def test_repeated_splits_count(n_splits):
    table = pd.DataFrame({"record": list("abcdefghij"), "label": [0, 1] * 5})
    assert len(repeated_stratified_splits(table, n_splits=n_splits, test_size=0.2)) == n_splits
