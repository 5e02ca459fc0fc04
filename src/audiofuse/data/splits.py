"""The validation carve-out and the class balance it is stratified by.

Deep training (:func:`audiofuse.model.training.carve_validation`), the classical baseline and the
cross-dataset head all hold out records with :func:`carve_records`, so the
same seed and strata give the same records. :func:`record_weights` gives the
loss weights of a balance, :func:`balance_strata` its carve-out strata.
No Keras here: commands that only score (``calibrate``) use these too.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

__all__ = [
    "TrainingError",
    "carve_records",
    "check_labels",
    "BALANCE_MODES",
    "record_weights",
    "balance_strata",
]


class TrainingError(ValueError):
    """Training cannot start: empty data, one class, or a bad checkpoint."""




def carve_records(ids, strata, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split ``ids`` (one per record) into ``(kept, held_out)``, stratified by ``strata``.

    Parameters
    ----------
    ids : array-like, shape (n,)
        Record ids (or row numbers), one per record.
    strata : array-like, shape (n,)
        The stratum of each id (its label, or subset and label).
    fraction : float
        Share held out, in (0, 1).
    seed : int

    Returns
    -------
    kept, held_out : numpy.ndarray
    """
    kept, held_out = train_test_split(
        np.asarray(ids), test_size=fraction, stratify=np.asarray(strata), random_state=seed
    )
    return np.asarray(kept), np.asarray(held_out)


def check_labels(labels: np.ndarray, what: str) -> None:
    """Raise :class:`TrainingError` when ``labels`` is empty or holds one class."""
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
