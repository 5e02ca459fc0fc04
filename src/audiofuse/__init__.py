"""AudioFuse: late fusion of a spectrogram ViT and a waveform 1-D CNN for heart sounds.

Reference implementation and reproducible companion of Siddiqui & Saha (2025),
"AudioFuse: Unified Spectral-Temporal Learning via a Hybrid ViT-1D CNN
Architecture for Phonocardiogram Classification", arXiv:2509.23454.

The package is layered (see ``docs/architecture.md``); importing it sets nothing
and imports neither Keras nor TensorFlow.
"""

__version__ = "0.1.0"
