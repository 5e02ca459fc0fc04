"""The model inputs of a table of recordings, as arrays plus one metadata row per example.

Written by :func:`audiofuse.features.extract.extract_features`, stored and
reloaded by :mod:`audiofuse.features.cache`, batched for training by
:mod:`audiofuse.features.batches`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from audiofuse.config import MODEL_INPUTS

__all__ = ["FeatureSet"]


@dataclass
class FeatureSet:
    """Model inputs for a table of recordings.

    Attributes
    ----------
    spectrograms : np.ndarray, (n, rows, cols, 1), float16
    waveforms : np.ndarray, (n, clip_samples, 1), float16
    meta : pandas.DataFrame
        One row per example: ``record, label`` and, for window sets,
        ``window`` (index within the recording); other index columns are kept.
    skipped : list of (path, reason)
    """

    spectrograms: np.ndarray
    waveforms: np.ndarray
    meta: pd.DataFrame
    skipped: list = field(default_factory=list)
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.meta)

    @property
    def labels(self) -> np.ndarray:
        return self.meta["label"].to_numpy(dtype=np.int64)

    @property
    def records(self) -> np.ndarray:
        return self.meta["record"].to_numpy()

    def subset(self, mask_or_index) -> FeatureSet:
        """A new FeatureSet with the selected rows (boolean mask or indices)."""
        index = np.asarray(mask_or_index)
        if index.dtype == bool:
            index = np.flatnonzero(index)
        return FeatureSet(
            self.spectrograms[index],
            self.waveforms[index],
            self.meta.iloc[index].reset_index(drop=True),
            list(self.skipped),
            dict(self.info),
        )

    def select_records(self, records) -> FeatureSet:
        """Rows whose record is in ``records``."""
        return self.subset(self.meta["record"].isin(set(records)).to_numpy())

    def inputs(self, kind="fusion", index=None) -> dict[str, np.ndarray]:
        """Model input dict (float32), keyed by the model's input names.

        ``kind`` is a model kind (its inputs are ``config.MODEL_INPUTS[kind]``)
        or the input names themselves, e.g. ``[i.name for i in model.inputs]``.
        """
        names = MODEL_INPUTS[kind] if isinstance(kind, str) else tuple(kind)
        arrays = {"spectrogram": self.spectrograms, "waveform": self.waveforms}
        sel = slice(None) if index is None else index
        return {name: np.asarray(arrays[name][sel], dtype=np.float32) for name in names}
