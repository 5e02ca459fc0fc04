"""AudioFuse and its baselines, in pure Keras 3 (``keras.layers`` and ``keras.ops``).

No ``tf.*`` appears here, so the same code runs under the TensorFlow, JAX and
PyTorch backends. Read top to bottom: the two branches, the fusion strategies,
then one builder per model.

* :func:`spectrogram_branch` -- a compact, wide-and-shallow ViT: a Conv2D patch
  embedding (kernel = stride = patch size), learned positional embeddings,
  pre-norm transformer blocks and a mean-pooled feature vector.
* :func:`waveform_branch` -- a shallow 1-D CNN on the raw waveform.
* :func:`fuse` -- late fusion: ``concat`` (the paper's), gated ``film`` or
  ``cross_attention``.
* :func:`build_model` -- ``fusion`` (AudioFuse), ``spectrogram`` (ViT only)
  or ``waveform`` (CNN only).
"""

from __future__ import annotations

import keras
from keras import layers, ops

from audiofuse.config import MODEL_INPUTS, MODEL_KINDS, FeatureConfig, ModelConfig

__all__ = [
    "backbone",
    "seed_ensemble",
    "FUSION_STRATEGIES",
    "PositionEmbedding",
    "ModalityDropout",
    "spectrogram_branch",
    "waveform_branch",
    "fuse",
    "auxiliary_head",
    "build_model",
    "deployable",
    "BRANCH_PREFIXES",
    "copy_branch_weights",
    "count_params",
]

FUSION_STRATEGIES = ("concat", "film", "cross_attention")


@keras.saving.register_keras_serializable(package="audiofuse")
class PositionEmbedding(layers.Layer):
    """Adds a learned position embedding to a (batch, tokens, width) sequence."""

    def build(self, input_shape):
        self.embedding = self.add_weight(
            name="embedding",
            shape=(1, input_shape[1], input_shape[2]),
            initializer=keras.initializers.RandomNormal(stddev=0.02),
        )

    def call(self, tokens):
        return tokens + ops.cast(self.embedding, tokens.dtype)


@keras.saving.register_keras_serializable(package="audiofuse")
class ModalityDropout(layers.Layer):
    """While training, zero one of two feature vectors for a share of the examples.

    Each example loses, with probability ``rate``, either its first or its second
    input (each half the time); the other passes unchanged, unscaled, so that the
    head learns to classify from each branch alone as well as from both. At
    inference both pass unchanged.
    """

    def __init__(self, rate: float, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        first, second = inputs
        if not training or self.rate <= 0:
            return first, second
        batch = ops.shape(first)[0]
        draw = keras.random.uniform((batch, 2), seed=self.seed_generator)
        dropped = ops.cast(draw[:, :1] < self.rate, first.dtype)
        which_first = ops.cast(draw[:, 1:] < 0.5, first.dtype)
        return first * (1 - dropped * which_first), second * (1 - dropped * (1 - which_first))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


def patch_embedding(spectrogram, cfg: ModelConfig):
    """Conv2D patchifier: (B, H, W, 1) -> (B, tokens, width)."""
    x = layers.Conv2D(
        cfg.width, kernel_size=cfg.patch_size, strides=cfg.patch_size, name="vit_patch_embed"
    )(spectrogram)
    grid_h, grid_w = x.shape[1], x.shape[2]
    x = layers.Reshape((grid_h * grid_w, cfg.width), name="vit_tokens")(x)
    return PositionEmbedding(name="vit_pos_embed")(x)


def transformer_block(tokens, cfg: ModelConfig, index: int):
    """Pre-norm block: x + MHA(LN(x)); x + MLP(LN(x))."""
    name = f"vit_block{index}"
    h = layers.LayerNormalization(epsilon=1e-6, name=f"{name}_ln1")(tokens)
    # key_dim = width / heads keeps the block's size independent of the head
    # count, which is what the paper's parameter sweep implies.
    h = layers.MultiHeadAttention(
        num_heads=cfg.heads,
        key_dim=cfg.width // cfg.heads,
        dropout=cfg.dropout,
        name=f"{name}_attn",
    )(h, h)
    tokens = layers.Add(name=f"{name}_add1")([tokens, layers.Dropout(cfg.dropout)(h)])
    h = layers.LayerNormalization(epsilon=1e-6, name=f"{name}_ln2")(tokens)
    h = layers.Dense(cfg.mlp_dim, activation="gelu", name=f"{name}_mlp1")(h)
    h = layers.Dropout(cfg.dropout)(h)
    h = layers.Dense(cfg.width, name=f"{name}_mlp2")(h)
    return layers.Add(name=f"{name}_add2")([tokens, layers.Dropout(cfg.dropout)(h)])


def spectrogram_branch(spectrogram, cfg: ModelConfig):
    """The ViT branch.

    Returns
    -------
    tokens : (B, tokens, width) tensor, after the final LayerNorm
    pooled : (B, width) tensor, the branch's feature vector
    """
    x = patch_embedding(spectrogram, cfg)
    x = layers.Dropout(cfg.dropout, name="vit_embed_dropout")(x)
    for i in range(cfg.depth):
        x = transformer_block(x, cfg, i)
    tokens = layers.LayerNormalization(epsilon=1e-6, name="vit_norm")(x)
    pooled = layers.GlobalAveragePooling1D(name="vit_pool")(tokens)
    return tokens, pooled


def waveform_branch(waveform, cfg: ModelConfig):
    """The shallow 1-D CNN branch: [Conv1D -> BN -> ReLU -> MaxPool] x n.

    Returns
    -------
    sequence : (B, steps, channels) tensor, the last feature map
    pooled : (B, channels) tensor, the branch's feature vector
    """
    x = waveform
    for i, (filters, kernel, stride) in enumerate(
        zip(cfg.cnn_filters, cfg.cnn_kernels, cfg.cnn_strides, strict=True)
    ):
        x = layers.Conv1D(filters, kernel, strides=stride, padding="same", name=f"cnn_conv{i}")(x)
        x = layers.BatchNormalization(name=f"cnn_bn{i}")(x)
        x = layers.Activation("relu", name=f"cnn_relu{i}")(x)
        x = layers.MaxPooling1D(cfg.cnn_pool, padding="same", name=f"cnn_pool{i}")(x)
    pooled = layers.GlobalAveragePooling1D(name="cnn_gap")(x)
    return x, pooled


def _film(spec_vec, wave_vec, cfg: ModelConfig):
    """Gated FiLM: the waveform vector scales and shifts the spectrogram vector.

    ``s' = s * (1 + g * gamma) + g * beta`` with a sigmoid gate ``g``, so the
    layer starts near identity and learns how much modulation to apply.
    """
    width = spec_vec.shape[-1]
    gamma = layers.Dense(width, name="film_gamma")(wave_vec)
    beta = layers.Dense(width, name="film_beta")(wave_vec)
    gate = layers.Dense(width, activation="sigmoid", name="film_gate")(wave_vec)
    # s + s * (g * gamma) + g * beta, from stock layers: a Lambda would not load
    # back from a .keras file (Keras refuses to deserialize Python lambdas).
    scale = layers.Multiply(name="film_scale")([gate, gamma])
    shift = layers.Multiply(name="film_shift")([gate, beta])
    scaled = layers.Multiply(name="film_scaled")([spec_vec, scale])
    modulated = layers.Add(name="film_apply")([spec_vec, scaled, shift])
    return layers.Concatenate(name="fusion_concat")([modulated, wave_vec])


def _cross_attention(spec_tokens, wave_sequence, cfg: ModelConfig):
    """Each branch's tokens attend to the other's; both are pooled and joined."""
    width = spec_tokens.shape[-1]
    wave_tokens = layers.Dense(width, name="xattn_wave_proj")(wave_sequence)
    heads = max(1, cfg.heads // 2)
    s2w = layers.MultiHeadAttention(heads, width // heads, name="xattn_spec_to_wave")(
        spec_tokens, wave_tokens
    )
    w2s = layers.MultiHeadAttention(heads, width // heads, name="xattn_wave_to_spec")(
        wave_tokens, spec_tokens
    )
    s = layers.GlobalAveragePooling1D(name="xattn_spec_pool")(
        layers.LayerNormalization(epsilon=1e-6)(layers.Add()([spec_tokens, s2w]))
    )
    w = layers.GlobalAveragePooling1D(name="xattn_wave_pool")(
        layers.LayerNormalization(epsilon=1e-6)(layers.Add()([wave_tokens, w2s]))
    )
    return layers.Concatenate(name="fusion_concat")([s, w])


def fuse(spec, wave, cfg: ModelConfig):
    """Join the two branches by ``cfg.fusion``.

    ``spec`` and ``wave`` are the (sequence, pooled) pairs of the branches.
    """
    if cfg.fusion == "concat":
        return layers.Concatenate(name="fusion_concat")([spec[1], wave[1]])
    if cfg.fusion == "film":
        return _film(spec[1], wave[1], cfg)
    if cfg.fusion == "cross_attention":
        return _cross_attention(spec[0], wave[0], cfg)
    raise ValueError(f"unknown fusion {cfg.fusion!r}; choose one of {FUSION_STRATEGIES}")


def _modality_dropout(spec, wave, cfg: ModelConfig):
    """The branches' (sequence, pooled) pairs, their pooled vectors through
    :class:`ModalityDropout` when ``cfg.modality_dropout`` is on."""
    if not cfg.modality_dropout:
        return spec, wave
    if cfg.fusion == "cross_attention":
        raise ValueError("modality dropout acts on the pooled vectors; cross-attention has none")
    spec_vec, wave_vec = ModalityDropout(cfg.modality_dropout, name="modality_dropout")(
        [spec[1], wave[1]]
    )
    return (spec[0], spec_vec), (wave[0], wave_vec)


def classification_head(features, cfg: ModelConfig):
    """MLP head ending in one sigmoid unit: P(abnormal)."""
    x = features
    for i, units in enumerate(cfg.head_units):
        x = layers.Dense(units, activation="relu", name=f"head_dense{i}")(x)
        x = layers.Dropout(cfg.head_dropout, name=f"head_dropout{i}")(x)
    return layers.Dense(1, activation="sigmoid", name="abnormal_probability")(x)


def auxiliary_head(pooled, branch: str):
    """One sigmoid unit on a branch's pooled features (AudioFuse+ modality balance).

    Used only while training: its loss makes the branch predictive on its own.
    """
    return layers.Dense(1, activation="sigmoid", name=f"aux_{branch}")(pooled)


def build_model(
    kind: str, features: FeatureConfig, cfg: ModelConfig, *, aux_heads: bool = False
) -> keras.Model:
    """Build one of the paper's models.

    Parameters
    ----------
    kind : {"fusion", "spectrogram", "waveform"}
        AudioFuse, the ViT-only baseline, or the CNN-only baseline.
    features : FeatureConfig
        Gives the input shapes.
    cfg : ModelConfig
    aux_heads : bool
        Fusion only (beyond the paper): also output one P(abnormal) per branch
        from :func:`auxiliary_head`, as outputs 2 and 3. :func:`deployable`
        strips them after training.

    Returns
    -------
    keras.Model
        Inputs named ``spectrogram`` and/or ``waveform``; one sigmoid output
        (three with ``aux_heads``, the fusion's first).
    """
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; choose one of {MODEL_KINDS}")
    rows, cols, _ = features.spectrogram_shape
    if rows % cfg.patch_size[0] or cols % cfg.patch_size[1]:
        raise ValueError(f"spectrogram {rows}x{cols} is not divisible by patch {cfg.patch_size}")
    shapes = {"spectrogram": features.spectrogram_shape, "waveform": features.waveform_shape}
    inputs = {name: keras.Input(shapes[name], name=name) for name in MODEL_INPUTS[kind]}

    if kind == "fusion":
        spec = spectrogram_branch(inputs["spectrogram"], cfg)
        wave = waveform_branch(inputs["waveform"], cfg)
        joined = fuse(*_modality_dropout(spec, wave, cfg), cfg)
        name = "audiofuse" if cfg.fusion == "concat" else f"audiofuse_{cfg.fusion}"
        if aux_heads:
            outputs = [
                classification_head(joined, cfg),
                auxiliary_head(spec[1], "spectrogram"),
                auxiliary_head(wave[1], "waveform"),
            ]
            return keras.Model(inputs, outputs, name=name)
    elif kind == "spectrogram":
        joined = spectrogram_branch(inputs["spectrogram"], cfg)[1]
        name = "spectrogram_vit"
    else:
        joined = waveform_branch(inputs["waveform"], cfg)[1]
        name = "waveform_cnn"
    return keras.Model(inputs, classification_head(joined, cfg), name=name)


def deployable(model: keras.Model) -> keras.Model:
    """``model`` with its first output only: the fusion's P(abnormal).

    A model trained with auxiliary heads predicts, exports and saves like any
    other once they are stripped; a one-output model is returned as it is.
    """
    if len(model.outputs) == 1:
        return model
    return keras.Model(model.inputs, model.outputs[0], name=model.name)


def seed_ensemble(members: list[keras.Model], name: str = "seed_ensemble") -> keras.Model:
    """One model whose output is the mean P(abnormal) of ``members``.

    The members (the same recipe trained with different seeds) share the inputs;
    each keeps its own weights. A seed ensemble averages away the part of a single
    run's ranking that its seed decides, which is largest on recordings unlike the
    training data. Exported to ONNX, it runs as one graph in one session.

    Parameters
    ----------
    members : list of keras.Model
        One-output models (see :func:`deployable`) with the same input names and shapes.
    """
    if not members:
        raise ValueError("a seed ensemble needs at least one member")
    names = [t.name.split(":")[0] for t in members[0].inputs]
    for member in members[1:]:
        if [t.name.split(":")[0] for t in member.inputs] != names:
            raise ValueError(f"{member.name}: its inputs differ from the first member's")
    inputs = {n: keras.Input(t.shape[1:], name=n) for n, t in zip(names, members[0].inputs, strict=True)}
    outputs = []
    for k, member in enumerate(members):
        member = deployable(member)
        member.name = f"member{k}"  # nested models need unique names
        outputs.append(member({n: inputs[n] for n in names}))
    mean = outputs[0] if len(outputs) == 1 else layers.Average(name="mean_probability")(outputs)
    return keras.Model(inputs, mean, name=name)


def backbone(model: keras.Model) -> keras.Model:
    """The trained model up to the input of its classification head (timm's
    ``forward_features``; the head is :func:`classification_head`).

    Shares the layers (and weights) of ``model``; its output is the
    embedding the head classifies.
    """
    for layer in model.layers:
        if layer.name in ("head_dense0", "abnormal_probability"):
            return keras.Model(model.inputs, layer.input, name=f"{model.name}_backbone")
    raise ValueError(f"{model.name}: no classification head found")


# Layer-name prefixes of each branch: a fusion model and a single-branch model
# name their branch layers alike, so trained branches can seed a fusion.
BRANCH_PREFIXES = {"spectrogram": "vit_", "waveform": "cnn_"}


def copy_branch_weights(target: keras.Model, source: keras.Model, branch: str) -> list[str]:
    """Copy the weights of ``branch``'s layers from ``source`` into ``target``.

    Staged training (AudioFuse+): a fusion model starts from the branches of
    trained single-branch models instead of from scratch, so the slow ViT
    branch arrives already trained and the fast waveform branch cannot leave
    it behind.

    Parameters
    ----------
    target, source : keras.Model
        E.g. a new fusion model and a trained ``spectrogram`` model of the same
        :class:`ModelConfig`.
    branch : {"spectrogram", "waveform"}

    Returns
    -------
    list of str
        The names of the layers copied.

    Raises
    ------
    ValueError
        If ``source`` has no layer of the branch, or a layer's weights do not
        fit (a different model configuration).
    """
    prefix = BRANCH_PREFIXES[branch]
    targets = {layer.name: layer for layer in target.layers}
    copied = []
    for layer in source.layers:
        if not layer.name.startswith(prefix) or not layer.weights:
            continue
        into = targets.get(layer.name)
        shapes = [tuple(w.shape) for w in layer.weights]
        if into is None or [tuple(w.shape) for w in into.weights] != shapes:
            raise ValueError(
                f"{source.name}: layer {layer.name!r} does not fit {target.name}; "
                "the branch was trained with another model configuration"
            )
        into.set_weights(layer.get_weights())
        copied.append(layer.name)
    if not copied:
        raise ValueError(f"{source.name}: no {branch} layers ({prefix}*) to copy")
    return copied


def count_params(model: keras.Model) -> int:
    """Total parameters (trainable and not), as ``model.summary()`` reports."""
    return int(model.count_params())
