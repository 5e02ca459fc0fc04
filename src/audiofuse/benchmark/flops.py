"""FLOPs: counted from a Keras model's layers, and the machine's measured matmul rate.

:func:`count_flops` gives the forward cost of one sample; :func:`matmul_gflops`
the best float32 matmul rate here, the "hardware limit" that the ``training``
rows compare the trainer with.
"""

from __future__ import annotations

import time

import numpy as np


def _prod(values) -> int:
    """Product of the known dimensions (``None`` counts as 1)."""
    total = 1
    for value in values:
        total *= int(value) if value is not None else 1
    return total


def _mha_macs(layer) -> int:
    """MACs of one MultiHeadAttention call: projections, scores and weighted sum."""
    inputs = layer.input if isinstance(layer.input, list) else [layer.input]
    query, value = inputs[0], inputs[1] if len(inputs) > 1 else inputs[0]
    key = inputs[2] if len(inputs) > 2 else value
    tq, tk, tv = (_prod(t.shape[1:-1]) for t in (query, key, value))
    heads, key_dim = layer.query_dense.kernel.shape[-2:]
    value_dim = layer.value_dense.kernel.shape[-1]
    projections = (
        tq * _prod(layer.query_dense.kernel.shape)
        + tk * _prod(layer.key_dense.kernel.shape)
        + tv * _prod(layer.value_dense.kernel.shape)
        + tq * _prod(layer.output_dense.kernel.shape)
    )
    attention = heads * tq * tk * (key_dim + value_dim)  # Q K^T and softmax(.) V
    return int(projections + attention)


def layer_flops(layer) -> int:
    """Forward FLOPs (2 x multiply-accumulates) of one layer for one sample.

    Counts Conv1D/Conv2D (output positions x kernel volume), Dense (applied to
    every leading position of its input), MultiHeadAttention (Q/K/V/output
    projections plus the score and value matmuls) and nested models. Biases,
    activations, normalisation, pooling and softmax are not counted (they are
    a few percent at most).
    """
    from keras import layers

    if hasattr(layer, "layers") and not isinstance(layer, layers.MultiHeadAttention):
        return count_flops(layer)
    if isinstance(layer, layers.MultiHeadAttention):
        return 2 * _mha_macs(layer)
    if isinstance(layer, (layers.Conv1D, layers.Conv2D)):
        return 2 * _prod(layer.output.shape[1:-1]) * _prod(layer.kernel.shape)
    if isinstance(layer, layers.Dense):
        return 2 * _prod(layer.input.shape[1:]) * int(layer.units)
    return 0


def count_flops(model) -> int:
    """Forward FLOPs per sample of a built Keras model (see :func:`layer_flops`)."""
    return int(sum(layer_flops(layer) for layer in model.layers))


def matmul_gflops(n: int = 2048, repeats: int = 5) -> float:
    """Best float32 ``n x n`` NumPy matmul rate in GFLOP/s (one warm-up call first)."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
    a @ b
    best = np.inf
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / best / 1e9
