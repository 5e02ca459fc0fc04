"""The networks and their training.

:mod:`.architecture` (the ViT, the 1-D CNN and their fusion), :mod:`.training`
(training, resuming, loading), :mod:`.checkpoint` (best-model and weight-average
callbacks) and :mod:`.run_dir` (a run's folder, read without TensorFlow).
Importing this package imports neither Keras nor TensorFlow.
"""
