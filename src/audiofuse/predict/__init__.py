"""Predicting on recordings with a trained model.

:mod:`.predictor` (:class:`~audiofuse.predict.predictor.Predictor`: Keras or
ONNX model, windows, calibration), :mod:`.onnx` (export and onnxruntime),
:mod:`.quality` (the recording quality gate), :mod:`.domain` (is a recording
unlike the training recordings?), :mod:`.quality_report` (the gate
over a folder of recordings), :mod:`.calibrate` (fitting a model's calibration),
:mod:`.plot` (the figure of one prediction), :mod:`.inputs` (folders, and the
formats only ffmpeg decodes), :mod:`.formats` (the rows as a table, CSV or JSON)
and :mod:`.resources` (where the committed models are found).
"""
