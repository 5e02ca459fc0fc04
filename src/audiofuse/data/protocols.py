"""Out-of-domain evaluation protocols, as record splits (AudioFuse+).

PhysioNet's official test list is drawn from the same six sites as its
training records, so a model can score well on it by learning the sites.
These splits measure what transfers instead:

- :func:`leave_one_subset_out`: train on five PhysioNet subsets
  (``training-a`` ... ``training-f``), test on every record of the sixth.
- :func:`repeated_stratified_splits`: many stratified train/test splits of a
  small dataset (PASCAL: 585 labelled recordings), because the spread of one
  88-record test split (sd about 0.04 ROC-AUC) hides the differences between
  models.

Everything here is a pure function of an index table (see
:func:`audiofuse.data.indexes.index_physionet`); no features, no models.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedShuffleSplit

__all__ = ["Fold", "leave_one_subset_out", "selection_folds", "repeated_stratified_splits"]


@dataclass(frozen=True)
class Fold:
    """One train/test split of an index table, by record id."""

    name: str
    train: np.ndarray
    test: np.ndarray

    def tables(self, table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The (train, test) rows of ``table``, in the table's order."""
        records = table["record"]
        return table[records.isin(self.train)], table[records.isin(self.test)]


def _records(table: pd.DataFrame) -> pd.DataFrame:
    # The PhysioNet index lists the official test records twice over the
    # layout (training-x and validation/); a protocol counts each recording once.
    return table.drop_duplicates("record")


def leave_one_subset_out(table: pd.DataFrame, *, min_per_class: int = 1) -> list[Fold]:
    """One fold per PhysioNet subset: train on the others, test on it.

    Parameters
    ----------
    table : pandas.DataFrame
        A PhysioNet index with ``record``, ``subset`` and ``label`` columns.
        Every record is used, including those on the official test list: this
        protocol replaces that list rather than adding to it.
    min_per_class : int
        A subset whose test side has fewer records than this in either class
        gives no fold (its ROC-AUC would be undefined).

    Returns
    -------
    list of Fold
        Named by the held-out subset (``"a"`` ... ``"f"``), in sorted order.
    """
    rows = _records(table)
    folds = []
    for subset in sorted(rows["subset"].unique()):
        held_out = rows["subset"] == subset
        counts = rows.loc[held_out, "label"].value_counts()
        if min(counts.get(0, 0), counts.get(1, 0)) < min_per_class:
            continue
        folds.append(
            Fold(
                str(subset),
                rows.loc[~held_out, "record"].to_numpy(),
                rows.loc[held_out, "record"].to_numpy(),
            )
        )
    return folds


def selection_folds(table: pd.DataFrame, *, min_per_class: int = 1) -> list[Fold]:
    """:func:`leave_one_subset_out` without the official test records, for choosing models.

    The test list must never choose a model, so the folds that rank candidates
    neither train on it nor test on it. Named ``"sel_a"`` ... ``"sel_f"``.

    Parameters
    ----------
    table : pandas.DataFrame
        A PhysioNet index with ``record``, ``subset``, ``label`` and ``split``
        (``"test"`` marks the official test records).
    min_per_class : int
        As in :func:`leave_one_subset_out`.
    """
    test_records = set(table.loc[table["split"] == "test", "record"])
    kept = table[~table["record"].isin(test_records)]
    return [
        Fold(f"sel_{fold.name}", fold.train, fold.test)
        for fold in leave_one_subset_out(kept, min_per_class=min_per_class)
    ]


def repeated_stratified_splits(
    table: pd.DataFrame, *, n_splits: int = 20, test_size: float = 0.15, seed: int = 0
) -> list[Fold]:
    """``n_splits`` label-stratified train/test splits of ``table``'s records.

    Parameters
    ----------
    table : pandas.DataFrame
        An index with ``record`` and ``label`` columns (e.g. PASCAL's).
    n_splits : int
    test_size : float
        Fraction of the records in each test side.
    seed : int
        The same seed gives the same splits, whatever model is evaluated, so
        models are compared split by split.

    Returns
    -------
    list of Fold
        Named ``"split00"``, ``"split01"``, ...
    """
    rows = _records(table)
    splitter = StratifiedShuffleSplit(n_splits=n_splits, test_size=test_size, random_state=seed)
    records = rows["record"].to_numpy()
    return [
        Fold(f"split{i:02d}", records[train], records[test])
        for i, (train, test) in enumerate(splitter.split(records, rows["label"].to_numpy()))
    ]
