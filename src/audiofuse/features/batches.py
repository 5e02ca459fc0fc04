"""Training batches: shuffled, weighted and (with AudioFuse+) augmented, from a FeatureSet."""

from __future__ import annotations

import keras
import numpy as np

from audiofuse.config import MODEL_INPUTS, AugmentConfig, FeatureConfig
from audiofuse.features.augment import augment_clips, mixup
from audiofuse.features.feature_set import FeatureSet

__all__ = ["FeatureBatches", "fit_input"]


class FeatureBatches(keras.utils.PyDataset):
    """Shuffled float32 batches from a (possibly windowed, memory-mapped) FeatureSet.

    With ``one_window_per_record`` each epoch draws one random window of each
    recording, a cheap augmentation when the set holds full-recording windows.
    ``row_weights`` (one per row of ``features``, e.g. from
    :func:`record_weights`) become the batches' sample weights.

    Every random draw is a pure function of ``(seed, epoch)``: the window
    draw and the shuffle of an epoch, and (with ``augment`` and the profile's
    ``feature_config``) the augmentation of each batch. So a resumed run sees
    the batches an uninterrupted one would, and a single ``fit`` call can run
    every epoch: :meth:`epoch_callback` moves the batches to each epoch as it
    begins. ``n_outputs`` > 1 repeats the labels and weights for a model with
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
        self.features = features
        self.kind = kind
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.one_window = one_window_per_record
        if row_weights is not None and len(row_weights) != len(features):
            raise ValueError(f"{len(row_weights)} row weights for {len(features)} rows")
        self.row_weights = None if row_weights is None else np.asarray(row_weights, "float32")
        codes, self._groups = np.unique(features.records, return_inverse=True)
        self._n_records = len(codes)
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        """Draw epoch ``epoch``'s rows (one window per record, shuffled)."""
        self.epoch = int(epoch)
        rng = np.random.default_rng((self.seed, self.epoch))
        index = self._draw(rng)
        if self.shuffle:
            rng.shuffle(index)
        self.index = index

    def _draw(self, rng: np.random.Generator) -> np.ndarray:
        if not self.one_window:
            return np.arange(len(self.features))
        # one random row per record: random priority, keep each group's max
        priority = rng.random(len(self._groups))
        order = np.lexsort((priority, self._groups))
        last_of_group = np.r_[self._groups[order][1:] != self._groups[order][:-1], True]
        return order[last_of_group]

    def epoch_callback(self) -> keras.callbacks.Callback:
        """A callback for ``fit`` that, as each epoch begins, calls :meth:`set_epoch`
        and reseeds the model's random layers (dropout) from ``(seed, epoch)``.

        Not ``on_epoch_end``: Keras calls that after it has started reading the
        next epoch's batches.

        Keras does not save the random layers' state with a model, so without the
        reseeding a resumed run would draw other dropout masks than an
        uninterrupted one.
        """
        return _BeginEpoch(self)

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


def fit_input(batches: FeatureBatches):
    """``batches`` as ``fit`` should read them: under TensorFlow, through a tf.data
    pipeline with autotuning off; under any other backend, as they are.

    Keras reads a PyDataset under TensorFlow through ``tf.data`` with autotuning
    on, and one iterator per epoch. Deleting an iterator (at the next epoch's
    first step, and as ``fit`` returns) waits for its autotuner thread to wake,
    which it does only at its next optimization, due at doubling intervals from
    the iterator's start (0.01, 0.03, 0.07 s, ..., 5.1, 10.2, 20.5, 41 s). An
    epoch that ends just after one of them waits about as long as it lasted
    (``cpu`` fusion epochs of a few seconds could nearly double); one that ends
    just before hardly waits. This pipeline yields the same batches, in the same order and
    with the same specs (the batch dimension left open), prefetching one batch
    without the autotuner.

    Parameters
    ----------
    batches : FeatureBatches

    Returns
    -------
    tf.data.Dataset or FeatureBatches
    """
    if keras.backend.backend() != "tensorflow":
        return batches
    import tensorflow as tf  # the input pipeline only, never in models

    spec = tf.nest.map_structure(
        lambda array: tf.TensorSpec((None, *array.shape[1:]), array.dtype), batches[0]
    )
    # a generator function, called anew for every epoch's iterator: each batch is
    # drawn as the step reads it, after the epoch callback has moved the batches on
    dataset = tf.data.Dataset.from_generator(
        lambda: (batches[i] for i in range(len(batches))), output_signature=spec
    )
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(len(batches))).prefetch(1)
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


class _BeginEpoch(keras.callbacks.Callback):
    def __init__(self, batches: FeatureBatches):
        super().__init__()
        self.batches = batches

    def on_epoch_begin(self, epoch, logs=None):
        self.batches.set_epoch(epoch)
        states = [v for v in self.model.variables if v.path.endswith("seed_generator_state")]
        for k, state in enumerate(states):
            entropy = np.random.SeedSequence((self.batches.seed, epoch, k)).generate_state(1)
            state.assign(np.array([int(entropy[0]), 0], dtype=state.dtype))
