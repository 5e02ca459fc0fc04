"""Inference without the training stack: the models exported to ONNX.

``export_onnx(folder)`` writes ``folder/model.onnx`` beside ``best.keras``
(Keras 3's ``model.export(format="onnx")``, which uses tf2onnx). The exact
GELU of the ViT blocks comes out as an ``Erfc`` node, which is not an ONNX
operator, so it is rewritten as ``1 - Erf(x)``. :class:`OnnxModel` runs the
file with onnxruntime and offers the one method ``Predictor`` needs,
``predict_on_batch``; neither TensorFlow nor Keras is imported.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["ONNX_NAME", "OnnxModel", "export_onnx"]

ONNX_NAME = "model.onnx"


class OnnxModel:
    """An exported model run by onnxruntime (single-threaded by default).

    Parameters
    ----------
    path : path to ``model.onnx``
    threads : int
        Intra-op threads; 1 keeps ``predict`` light on a shared machine.
    """

    def __init__(self, path: str | os.PathLike, threads: int = 1):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.input_shapes = {i.name: tuple(i.shape[1:]) for i in self.session.get_inputs()}

    def predict_on_batch(self, inputs: dict) -> np.ndarray:
        """P(abnormal) per row, like ``keras.Model.predict_on_batch``."""
        feed = {name: np.asarray(inputs[name], dtype=np.float32) for name in self.input_names}
        return self.session.run(None, feed)[0]


def _replace_erfc(model) -> int:
    """Rewrite every ``Erfc(x)`` node as ``Sub(1, Erf(x))``; return how many."""
    from onnx import helper, numpy_helper

    graph, count = model.graph, 0
    one = "audiofuse_one_f32"
    nodes = []
    for node in graph.node:
        if node.op_type != "Erfc":
            nodes.append(node)
            continue
        erf_out = node.output[0] + "_erf"
        nodes.append(helper.make_node("Erf", [node.input[0]], [erf_out], name=node.name + "_erf"))
        nodes.append(helper.make_node("Sub", [one, erf_out], list(node.output), name=node.name))
        count += 1
    if count:
        graph.initializer.append(numpy_helper.from_array(np.array(1.0, np.float32), one))
        del graph.node[:]
        graph.node.extend(nodes)
    return count


def export_onnx(folder: str | os.PathLike) -> Path:
    """Export ``folder/best.keras`` to ``folder/model.onnx`` (atomically).

    Needs TensorFlow, Keras and tf2onnx (the training stack); the result
    does not.
    """
    import keras
    import onnx

    from audiofuse.model import architecture as models  # noqa: F401  (registers the custom layers)

    folder = Path(folder)
    model = keras.saving.load_model(folder / "best.keras", compile=False)
    model.predict_on_batch(
        {t.name.split(":")[0]: np.zeros((1, *t.shape[1:]), np.float32) for t in model.inputs}
    )
    tmp = folder / (ONNX_NAME + ".tmp")
    model.export(str(tmp), format="onnx", verbose=False)
    graph = onnx.load(str(tmp))
    _replace_erfc(graph)
    onnx.checker.check_model(graph)
    onnx.save(graph, str(tmp))
    out = folder / ONNX_NAME
    os.replace(tmp, out)
    return out
