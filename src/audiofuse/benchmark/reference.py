"""The reference the feature extraction is measured against: the authors' own recipe.

:func:`original_recipe_file` re-implements the preprocessing of the authors'
notebooks (22050 Hz, a 224-mel log-Mel image *and* a 224-scale Morlet CWT
scalogram per file, saved as ``.npy``) so that the benchmark can time it on
the same recordings as this project's extractor.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

#: The authors' preprocessing, as their notebooks run it for every file.
ORIGINAL = {
    "sample_rate": 22050,
    "clip_seconds": 5.0,
    "n_fft": 2048,
    "hop_length": 512,
    "n_mels": 224,
    "image_size": 224,
    "cwt_scales": 224,
    "wavelet": "morl",
}


def _minmax(image: np.ndarray) -> np.ndarray:
    """The authors' min-max scaling to [0, 1] (with ``+ 1e-6``)."""
    return (image - image.min()) / (image.max() - image.min() + 1e-6)


def original_mel_image(clip: np.ndarray) -> np.ndarray:
    """The original log-Mel image: 224 mels, n_fft 2048, hop 512, 224x224."""
    import cv2
    import librosa

    mel = librosa.feature.melspectrogram(
        y=clip,
        sr=ORIGINAL["sample_rate"],
        n_fft=ORIGINAL["n_fft"],
        hop_length=ORIGINAL["hop_length"],
        n_mels=ORIGINAL["n_mels"],
    )
    log_mel = librosa.power_to_db(mel, ref=np.max)
    size = ORIGINAL["image_size"]
    return _minmax(cv2.resize(log_mel, (size, size)))


def original_cwt_image(clip: np.ndarray) -> np.ndarray:
    """The original scalogram: 224-scale Morlet CWT, ``log1p(|coeffs|)``, 224x224."""
    import cv2
    import pywt

    coeffs, _ = pywt.cwt(clip, np.arange(1, ORIGINAL["cwt_scales"] + 1), ORIGINAL["wavelet"])
    size = ORIGINAL["image_size"]
    return _minmax(cv2.resize(np.log1p(np.abs(coeffs)).astype(np.float32), (size, size)))


def original_recipe_file(
    path: str | os.PathLike, out_dir: str | os.PathLike, *, with_cwt: bool = True
) -> Path:
    """The original per-file preprocessing, saved as one ``.npy``.

    ``librosa.load`` of the whole file at 22050 Hz (mono), the first 5 s
    zero-padded, the log-Mel image and (``with_cwt``) the CWT scalogram,
    stacked as ``(channels, 224, 224)`` float32.

    Returns
    -------
    Path
        The ``.npy`` file written into ``out_dir``.
    """
    import librosa

    samples, _ = librosa.load(str(path), sr=ORIGINAL["sample_rate"], mono=True)
    n = int(round(ORIGINAL["clip_seconds"] * ORIGINAL["sample_rate"]))
    clip = samples[:n]
    if len(clip) < n:
        clip = np.pad(clip, (0, n - len(clip)))
    channels = [original_mel_image(clip)]
    if with_cwt:
        channels.append(original_cwt_image(clip))
    target = Path(out_dir) / f"{Path(path).stem}.npy"
    np.save(target, np.stack(channels).astype(np.float32))
    return target
