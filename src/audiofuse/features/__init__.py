"""Model inputs from recordings: computed, cached, augmented and batched.

:mod:`.spectral` (STFT and Mel filterbank), :mod:`.extract` (the log-Mel image and
waveform clip of a recording, over a whole table), :mod:`.feature_set`
(:class:`~audiofuse.features.feature_set.FeatureSet`, the arrays of a table),
:mod:`.cache` (the on-disk cache), :mod:`.augment` (training-time augmentation)
and :mod:`.batches` (training batches).
"""
