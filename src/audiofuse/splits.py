"""The validation carve-out: one stratified split of records, for every model that needs one.

Deep training (:func:`audiofuse.training.carve_validation`), the classical
baseline and the cross-dataset head all hold out records with
:func:`carve_records`, so the same seed and strata give the same records.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split

__all__ = ["carve_records"]


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
