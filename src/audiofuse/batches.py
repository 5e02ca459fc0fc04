"""Training batches: shuffled, weighted and (with AudioFuse+) augmented, from a FeatureSet."""

from __future__ import annotations

import keras
import numpy as np

from .augment import augment_clips, mixup
from .config import AugmentConfig, FeatureConfig
from .features import FeatureSet
from .models import MODEL_INPUTS

__all__ = ["FeatureBatches"]


class FeatureBatches(keras.utils.PyDataset):
    """Shuffled float32 batches from a (possibly windowed, memory-mapped) FeatureSet.

    With ``one_window_per_record`` each epoch draws one random window of each
    recording, a cheap augmentation when the set holds full-recording windows.
    ``row_weights`` (one per row of ``features``, e.g. from
    :func:`record_weights`) become the batches' sample weights.

    ``augment`` (with the profile's ``feature_config``) augments every batch;
    its random draws depend only on ``(seed, epoch, batch)``, so a resumed run
    sees the batches an uninterrupted one would. Set ``epoch`` before each
    epoch. ``n_outputs`` > 1 repeats the labels and weights for a model with
    auxiliary outputs.
    """

    def __init__(
        self,
        features: FeatureSet,
        kind: str,
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        one_window_per_record: bool = False,
        row_weights: np.ndarray | None = None,
        augment: AugmentConfig | None = None,
        feature_config: FeatureConfig | None = None,
        n_outputs: int = 1,
    ):
        super().__init__()
        if augment is not None and augment.enabled and feature_config is None:
            raise ValueError("augmentation needs the profile's feature_config")
        self.augment = augment if augment is not None and augment.enabled else None
        self.feature_config = feature_config
        self.n_outputs = n_outputs
        self.seed = seed
        self.epoch = 0
        self.features = features
        self.kind = kind
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.rng = np.random.default_rng(seed)
        self.one_window = one_window_per_record
        if row_weights is not None and len(row_weights) != len(features):
            raise ValueError(f"{len(row_weights)} row weights for {len(features)} rows")
        self.row_weights = None if row_weights is None else np.asarray(row_weights, "float32")
        codes, self._groups = np.unique(features.records, return_inverse=True)
        self._n_records = len(codes)
        self.on_epoch_end()

    def _draw(self) -> np.ndarray:
        if not self.one_window:
            return np.arange(len(self.features))
        # one random row per record: random priority, keep each group's max
        priority = self.rng.random(len(self._groups))
        order = np.lexsort((priority, self._groups))
        last_of_group = np.r_[self._groups[order][1:] != self._groups[order][:-1], True]
        return order[last_of_group]

    def on_epoch_end(self):
        self.index = self._draw()
        if self.shuffle:
            self.rng.shuffle(self.index)

    def __len__(self):
        return int(np.ceil(len(self.index) / self.batch_size))

    def __getitem__(self, i):
        rows = np.sort(self.index[i * self.batch_size : (i + 1) * self.batch_size])
        y = self.features.labels[rows].astype("float32")
        w = None if self.row_weights is None else self.row_weights[rows]
        if self.augment is None:
            x = self.features.inputs(self.kind, rows)
        else:
            x, y, w = self._augmented(rows, i, y, w)
        if self.n_outputs > 1:
            y = (y,) * self.n_outputs
            w = None if w is None else (w,) * self.n_outputs
        return (x, y) if w is None else (x, y, w)

    def _augmented(self, rows, i, y, w):
        rng = np.random.default_rng((self.seed, self.epoch, i))
        names = MODEL_INPUTS[self.kind]
        # waveform-domain augmentation recomputes the image from the audio, so
        # a spectrogram-only model sees the same augmented audio as the fusion
        source = MODEL_INPUTS["fusion"] if self.augment.waveform_domain else names
        x = augment_clips(self.features.inputs(source, rows), rng, self.augment, self.feature_config)
        x = {name: x[name] for name in names}
        if self.augment.mixup_alpha:
            x, y, w = mixup(x, y, rng, self.augment.mixup_alpha, w)
        return x, y, w
