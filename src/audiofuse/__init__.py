"""AudioFuse: late fusion of a spectrogram ViT and a waveform 1-D CNN for heart sounds.

Reference implementation and reproducible companion of Siddiqui & Saha (2025),
"AudioFuse: Unified Spectral-Temporal Learning via a Hybrid ViT-1D CNN
Architecture for Phonocardiogram Classification", arXiv:2509.23454.
"""

import os as _os

__version__ = "0.1.0"

# TensorFlow turns its oneDNN kernels on by default only on CPUs with AVX512-VNNI,
# AVX512-BF16, AVX-VNNI or AMX. Elsewhere (an AMD EPYC with AVX2, for one) it runs
# its own kernels, built without AVX2/FMA, and trains the `cpu` fusion 2.6x slower:
# 65 against 168 samples/s on one thread (2 cores, 2026-11-28). TensorFlow reads the
# variable once, when it is imported, so this must run before it is; an explicit
# TF_ENABLE_ONEDNN_OPTS=0 is kept.
ONEDNN_VARIABLE = "TF_ENABLE_ONEDNN_OPTS"
_os.environ.setdefault(ONEDNN_VARIABLE, "1")
