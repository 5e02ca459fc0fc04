"""Configuration objects: one per concern, and the three run profiles.

A *profile* bundles a :class:`FeatureConfig`, a :class:`ModelConfig` and a
:class:`TrainConfig`. Profiles differ only in their values, never in code:

``paper``
    Faithful to the AudioFuse paper and the authors' notebooks: 22050 Hz, the
    first 5 s, a 224-mel log-Mel spectrogram (n_fft 2048, hop 512) resized to
    224x224, a ViT with patch 16, width 192, MLP 384, 6 layers x 8 heads.
    Meant for a GPU.
``cpu``
    PCG-native and much cheaper, for honest real-data results on a 2-core
    machine. PhysioNet is recorded at 2000 Hz, so nothing above 1 kHz exists
    in the data; resampling to 22050 Hz multiplies the waveform length by 11
    and spends 10/11 of the spectrogram rows on empty bands. See
    the comments beside each profile for the measurements behind the numbers.
``smoke``
    Tiny, for tests, CI and ``make demo``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

__all__ = [
    "MODEL_INPUTS",
    "MODEL_KINDS",
    "FeatureConfig",
    "ModelConfig",
    "TrainConfig",
    "AugmentConfig",
    "AUGMENT_PRESETS",
    "augment_preset",
    "Profile",
    "PROFILES",
    "get_profile",
    "config_hash",
]


# The inputs of each model kind, by input name (the names of the Keras inputs).
MODEL_INPUTS = {
    "fusion": ("spectrogram", "waveform"),
    "spectrogram": ("spectrogram",),
    "waveform": ("waveform",),
}
MODEL_KINDS = tuple(MODEL_INPUTS)


@dataclass(frozen=True)
class FeatureConfig:
    """How a recording becomes the two model inputs.

    Attributes
    ----------
    sample_rate : int
        Rate, in Hz, that every recording is resampled to.
    clip_seconds : float
        Length of one model input; shorter audio is zero-padded at the end.
    n_mels, n_fft, hop_length : int
        Log-Mel spectrogram settings (``librosa.feature.melspectrogram``).
    fmin, fmax : float
        Mel band edges in Hz; ``fmax=None`` means ``sample_rate / 2``.
    image_size : (int, int)
        ``(rows, cols)`` = (mel bins, frames) after the OpenCV resize.
    waveform_norm : {"none", "peak", "standard"}
        Per-example scaling of the waveform input. ``"none"`` is the paper's.
    window_hop_seconds : float
        Hop between the 5 s windows used for full-recording inference.
    resample_type : str
        Resampler passed to ``librosa.resample``.
    """

    sample_rate: int = 22050
    clip_seconds: float = 5.0
    n_mels: int = 224
    n_fft: int = 2048
    hop_length: int = 512
    fmin: float = 0.0
    fmax: float | None = None
    image_size: tuple[int, int] = (224, 224)
    waveform_norm: str = "none"
    window_hop_seconds: float = 2.5
    resample_type: str = "soxr_hq"

    @property
    def clip_samples(self) -> int:
        """Number of waveform samples in one input clip."""
        return int(round(self.clip_seconds * self.sample_rate))

    @property
    def spectrogram_shape(self) -> tuple[int, int, int]:
        """Shape of one spectrogram input, channels last."""
        return (self.image_size[0], self.image_size[1], 1)

    @property
    def waveform_shape(self) -> tuple[int, int]:
        """Shape of one waveform input, channels last."""
        return (self.clip_samples, 1)


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of AudioFuse and its baselines.

    The defaults are the paper's selected model (ViT 6 layers x 8 heads, width
    192, MLP 384, patch 16). The CNN and head sizes are not given in the
    paper; they are chosen so that the whole fusion model comes within 5 % of
    the paper's parameter counts for the ViT sweep (~0.79 M outside the
    transformer blocks).
    """

    patch_size: tuple[int, int] = (16, 16)
    width: int = 192
    depth: int = 6
    heads: int = 8
    mlp_dim: int = 384
    dropout: float = 0.1
    cnn_filters: tuple[int, ...] = (32, 64, 128, 256)
    cnn_kernels: tuple[int, ...] = (64, 16, 8, 8)
    cnn_strides: tuple[int, ...] = (4, 1, 1, 1)
    cnn_pool: int = 4
    head_units: tuple[int, ...] = (512, 256)
    head_dropout: float = 0.3
    fusion: str = "concat"
    # Modality dropout (beyond the paper; fusion only): while training, each
    # example loses one branch's pooled embedding (zeroed, the branch chosen at
    # random) with this probability, so that each branch must classify alone and
    # the head cannot lean on the branch that fails on other recording chains.
    modality_dropout: float = 0.0

    def replace(self, **changes) -> ModelConfig:
        """Return a copy with some fields changed."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings shared by every model."""

    epochs: int = 50
    batch_size: int = 32
    learning_rate: float = 1e-4
    weight_decay: float = 1e-4
    patience: int = 10
    val_fraction: float = 0.15
    class_weighting: bool = True
    # Train on one random 5 s window of each recording per epoch (an
    # augmentation beyond the paper, which trains on the first 5 s only).
    random_windows: bool = False
    # What the loss weights and the validation carve-out balance (beyond the
    # paper, which balances the classes only). "label": normal vs abnormal.
    # "subset": normal vs abnormal within each recording subset (PhysioNet's
    # training-a..f), the carve-out stratified by subset and label, and early
    # stopping on the validation ROC-AUC weighted the same way. Why: the test
    # list is class-balanced within every subset, while the training subsets
    # run from 6 % (e) to 83 % (c) abnormal, so telling the subsets (sites,
    # stethoscopes) apart predicts the label in training and validation but
    # not in the test.
    balance: str = "label"
    # AudioFuse+ ingredients (beyond the paper); every one is off by default, so
    # the faithful profiles train as before.
    # Fusion only: one sigmoid head per branch on its pooled features, whose
    # losses join the fusion loss with this weight (0: off). Against modality
    # imbalance: each branch is pushed to be predictive on its own, so the fast
    # waveform branch cannot leave the ViT under-trained (Wang et al., CVPR 2020).
    aux_loss_weight: float = 0.0
    # "constant" (the paper's), "cosine": linear warm-up over warmup_epochs,
    # then cosine decay to zero at the epoch limit, or "plateau": the rate times
    # plateau_factor after every plateau_patience epochs without a new best
    # validation ROC-AUC (Keras's ReduceLROnPlateau, on the early-stopping signal;
    # the authors' optimisation as a third-party port of their notebook has it).
    lr_schedule: str = "constant"
    warmup_epochs: int = 0
    plateau_factor: float = 0.5
    plateau_patience: int = 10
    # Exponential moving average of the weights (0: off); validation, the best
    # checkpoint and every prediction use the averaged weights.
    ema_momentum: float = 0.0
    # Name of an AugmentConfig in AUGMENT_PRESETS ("none": off).
    augment: str = "none"
    # Fusion only, staged training: start the branches from the trained
    # single-branch runs of the same recipe and seed (the orchestration in
    # audiofuse.experiments finds and, if needed, trains them), then train the
    # whole fusion. Against modality imbalance (Wang et al., CVPR 2020).
    staged: bool = False
    # TensorFlow's graph optimizer (grappler) on the compiled training and
    # prediction steps. It rewrites each step once per model, at its first call,
    # which costs seconds (more for deeper models), and makes every later step a
    # little faster: worth it in runs of minutes, not in the smoke runs of
    # seconds, whose first epoch it makes longer. Its rewrites change the
    # floats' last bits, not the recipe, so it
    # is not part of a run's identity (run_dir.resumable).
    graph_optimizer: bool = True

    def replace(self, **changes) -> TrainConfig:
        """Return a copy with some fields changed."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class AugmentConfig:
    """Which training-time augmentations run, and how strongly (see :mod:`audiofuse.features.augment`).

    Attributes
    ----------
    probability : float
        Chance that a training example is augmented at all (0 turns it off).
    gain_db : float
        Random gain, uniform in ``[-gain_db, gain_db]`` dB (0: off).
    snr_db : (float, float)
        White noise at an SNR drawn uniformly from this range, in dB; ``()`` is off.
    max_shift_seconds : float
        Circular time shift, uniform in ``[-max, max]`` seconds (0: off).
    eq_db : float
        Random equaliser: a smooth gain curve over frequency within
        ``[-eq_db, eq_db]`` dB plus a random band-pass (0: off). Imitates other
        stethoscopes and chest pieces (domain randomisation).
    clip_fraction : float
        Hard clipping at a random level between ``clip_fraction`` and 1 times
        the clip's peak (0: off). In PhysioNet's training-e the abnormal
        recordings are mostly clipped at full scale and the normal ones are
        not (peak level alone separates them with ROC-AUC 0.92 on 300
        records), so clipping teaches the label there; clipping every class
        at random takes that shortcut away.
    time_masks, freq_masks : int
        SpecAugment masks on the spectrogram image (0: off).
    time_mask_frac, freq_mask_frac : float
        Largest mask width as a fraction of the image's columns / rows.
    mixup_alpha : float
        Beta(alpha, alpha) mixup of whole examples and their labels (0: off).
    truncate_probability : float
        Chance, independent of ``probability``, that an example is cut short:
        a random segment of ``truncate_min_seconds`` to the whole clip is moved
        to the start and the rest zeroed, exactly as :func:`audiofuse.features.fix_length`
        pads a short recording at inference. Every PhysioNet record is longer
        than one clip, so without it the model never sees the zero-padded input
        that ``predict`` gives a short recording (0: off).
    truncate_min_seconds : float
        Shortest segment kept by the truncation.
    """

    probability: float = 0.0
    gain_db: float = 0.0
    snr_db: tuple[float, ...] = ()
    max_shift_seconds: float = 0.0
    eq_db: float = 0.0
    clip_fraction: float = 0.0
    time_masks: int = 0
    freq_masks: int = 0
    time_mask_frac: float = 0.1
    freq_mask_frac: float = 0.1
    mixup_alpha: float = 0.0
    truncate_probability: float = 0.0
    truncate_min_seconds: float = 1.5

    @property
    def waveform_domain(self) -> bool:
        """True when some augmentation changes the audio (so the image is recomputed)."""
        return bool(
            self.gain_db
            or self.snr_db
            or self.max_shift_seconds
            or self.eq_db
            or self.clip_fraction
            or self.truncate_probability
        )

    @property
    def enabled(self) -> bool:
        """True when anything at all is switched on."""
        per_example = self.waveform_domain or self.time_masks or self.freq_masks
        return (
            bool(self.probability > 0 and per_example)
            or self.mixup_alpha > 0
            or self.truncate_probability > 0
        )


# Named augmentation recipes, referred to by ``TrainConfig.augment``. "plus":
# every example is augmented with probability 0.8; the stethoscope-like EQ and
# the random clipping are the domain randomisation, noise at 10-30 dB SNR is
# what a ward sounds like, and the masks and mixup are the usual regularisers.
AUGMENT_PRESETS: dict[str, AugmentConfig] = {
    "none": AugmentConfig(),
    "plus": AugmentConfig(
        probability=0.8,
        gain_db=6.0,
        snr_db=(10.0, 30.0),
        max_shift_seconds=0.5,
        eq_db=6.0,
        clip_fraction=0.5,
        time_masks=2,
        freq_masks=2,
        mixup_alpha=0.2,
    ),
    # Short recordings in distribution: half the examples cut to 1.5-5 s and
    # zero-padded as at inference; nothing else.
    "short": AugmentConfig(truncate_probability=0.5, truncate_min_seconds=1.5),
    # "short" plus the recording chain's cues taken away for half the examples:
    # random hard clipping (training-e's abnormal recordings are clipped, its
    # normal ones not) and a random stethoscope-like equaliser. No gain: the
    # waveform is standardised and the image referenced to its maximum, so a
    # gain changes neither input. No DC removal: standardising removes each
    # clip's mean, and the mel bands start at 20 Hz.
    "robust": AugmentConfig(
        probability=0.5,
        eq_db=6.0,
        clip_fraction=0.5,
        truncate_probability=0.5,
        truncate_min_seconds=1.5,
    ),
}


def augment_preset(name: str) -> AugmentConfig:
    """The :class:`AugmentConfig` named ``name`` in :data:`AUGMENT_PRESETS`."""
    try:
        return AUGMENT_PRESETS[name]
    except KeyError:
        choices = ", ".join(AUGMENT_PRESETS)
        raise ValueError(f"unknown augmentation {name!r}; choose one of {choices}") from None


@dataclass(frozen=True)
class Profile:
    """A named bundle of feature, model and training settings."""

    name: str
    features: FeatureConfig = field(default_factory=FeatureConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    description: str = ""

    def replace(self, **changes) -> Profile:
        """Return a copy with some top-level fields changed."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """Plain-JSON form, for saving beside models and results."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, payload: dict) -> Profile:
        """Inverse of :meth:`to_dict`."""

        def build(kind, values):
            kwargs = {}
            for f in dataclasses.fields(kind):
                if f.name in values:
                    value = values[f.name]
                    kwargs[f.name] = tuple(value) if isinstance(value, list) else value
            return kind(**kwargs)

        return cls(
            name=payload["name"],
            features=build(FeatureConfig, payload.get("features", {})),
            model=build(ModelConfig, payload.get("model", {})),
            train=build(TrainConfig, payload.get("train", {})),
            description=payload.get("description", ""),
        )


PAPER = Profile(
    name="paper",
    features=FeatureConfig(),
    model=ModelConfig(),
    train=TrainConfig(epochs=50, batch_size=32, learning_rate=1e-4, patience=10),
    description="Faithful to the paper: 22050 Hz, 224x224 log-Mel, ViT 6x8 w192. Meant for a GPU.",
)

# PCG-native: 2 kHz keeps every band PhysioNet recorded (it is sampled at 2 kHz)
# and makes the waveform 11x shorter. A 64x128 log-Mel up to 1 kHz with 16x8
# patches gives 64 tokens (vs 196 in the paper): on a 2-core CPU the ViT trains
# several times faster than with 128 tokens (8x8 patches).
CPU = Profile(
    name="cpu",
    features=FeatureConfig(
        sample_rate=2000,
        n_mels=64,
        n_fft=256,
        hop_length=40,
        fmin=20.0,
        fmax=1000.0,
        image_size=(64, 128),
        waveform_norm="standard",
    ),
    model=ModelConfig(
        patch_size=(16, 8),
        width=64,
        depth=4,
        heads=4,
        mlp_dim=128,
        dropout=0.1,
        cnn_filters=(16, 32, 64, 128),
        cnn_kernels=(32, 9, 9, 9),
        cnn_strides=(4, 1, 1, 1),
        cnn_pool=4,
        head_units=(128,),
        head_dropout=0.3,
    ),
    train=TrainConfig(
        epochs=30, batch_size=32, learning_rate=5e-4, patience=8, random_windows=True
    ),
    description="PCG-native for a 2-core CPU: 2 kHz, 64x128 log-Mel (<=1 kHz), small ViT.",
)

SMOKE = Profile(
    name="smoke",
    features=FeatureConfig(
        sample_rate=1000,
        clip_seconds=4.0,
        n_mels=32,
        n_fft=128,
        hop_length=32,
        fmin=20.0,
        fmax=500.0,
        image_size=(32, 64),
        waveform_norm="standard",
        window_hop_seconds=2.0,
    ),
    model=ModelConfig(
        patch_size=(8, 8),
        width=32,
        depth=2,
        heads=2,
        mlp_dim=64,
        dropout=0.0,
        cnn_filters=(16, 32, 32),
        cnn_kernels=(16, 9, 9),
        cnn_strides=(2, 1, 1),
        cnn_pool=4,
        head_units=(32,),
        head_dropout=0.1,
    ),
    # batch 16 and 25 epochs: with ~270 training records the tiny ViT needs the
    # extra steps (batch 32 and 12 epochs left the smoke fusion well behind).
    # The graph optimizer off: tracing and rewriting the steps, not computing them,
    # is most of a smoke run (see TrainConfig.graph_optimizer).
    train=TrainConfig(
        epochs=25, batch_size=16, learning_rate=2e-3, patience=8, graph_optimizer=False
    ),
    description="Tiny, for tests, CI and the demo. Results are not meaningful.",
)

# AudioFuse+ (beyond the paper): the cpu profile's features and model, trained
# with what notebook 08's ladder kept: auxiliary branch heads, and warm-up plus
# cosine decay with an EMA of the weights, on the paper's class balance. Subset
# balance lifted PhysioNet's test list but cut PASCAL zero-shot with the same
# ingredients, and augmentation (AUGMENT_PRESETS["plus"]) cost test ROC-AUC in
# the seed-0 screen, so neither is part of the recipe.
PLUS_TRAIN = CPU.train.replace(
    patience=10,
    aux_loss_weight=0.5,
    lr_schedule="cosine",
    warmup_epochs=3,
    ema_momentum=0.99,
)
PLUS = CPU.replace(
    name="plus",
    train=PLUS_TRAIN,
    description="AudioFuse+ on the cpu profile's inputs: aux branch heads, "
    "cosine schedule + EMA (beyond the paper).",
)

PROFILES: dict[str, Profile] = {p.name: p for p in (SMOKE, CPU, PAPER, PLUS)}

# Runs that `audiofuse train-runs` trains at once, the cores split evenly between
# them. On the project's 2-core CPU two single-threaded runs beat one run with both
# threads (the small models leave cores idle between ops): `make bench`'s training rows
# measure both. On a GPU pass more (docs/reproducing.md, the GPU recipe).
TRAIN_RUNS_WORKERS = 2
# The tables whose runs `audiofuse train-runs` can train (experiments.scheduler; kept
# here, beside the workers, so that the command line lists them without importing Keras).
TRAIN_RUNS_TABLES = (
    "main", "sweep", "ablation", "balance", "optim", "plus", "loso", "robust", "robust_loso"
)
# Its record of every call's wall time, beside the runs and, exported, beside the scores
# (kept here so that the benchmark reads it without importing Keras).
TRAIN_RUNS_TIMING_FILE = "train_runs.json"
# Batches per call of the trainer's compiled training step (training.steps_per_execution;
# kept here so that code that does not train can name it without importing Keras).
STEPS_PER_EXECUTION = 16
# Least seconds between two writes of a training run's folder (checkpoints, history,
# state). Writing both checkpoints can cost a third of a smoke epoch; a cut-off
# run redoes at most this much training, identically.
CHECKPOINT_EVERY_S = 20.0


def get_profile(name: str) -> Profile:
    """Look up a profile by name.

    Raises
    ------
    ValueError
        If ``name`` is not one of ``smoke``, ``cpu``, ``paper`` or ``plus``.
    """
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}") from None


def config_hash(*configs) -> str:
    """Short stable hash of one or more config dataclasses (for cache keys)."""
    payload = json.dumps(
        [dataclasses.asdict(c) if dataclasses.is_dataclass(c) else c for c in configs],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:12]
