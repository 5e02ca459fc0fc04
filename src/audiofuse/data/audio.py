"""Reading heart-sound recordings: checked, mono, resampled, in blocks.

Every recording the project reads goes through :func:`read_audio` (or
:func:`load_audio`, which also resamples), so a bad file always fails the same
way: an :class:`AudioError` whose message names the file.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import soundfile as sf

__all__ = [
    "AudioError",
    "AUDIO_EXTENSIONS",
    "MIN_SAMPLE_RATE",
    "MAX_SAMPLE_RATE",
    "read_audio",
    "iter_audio_blocks",
    "load_audio",
    "resample",
    "find_audio",
]

AUDIO_EXTENSIONS = (".wav", ".flac")
# Heart sounds live below ~1 kHz; below 500 Hz even S1/S2 are aliased away, and
# above 192 kHz is no stethoscope we know of. Either end means a wrong file.
MIN_SAMPLE_RATE = 500
MAX_SAMPLE_RATE = 192_000


class AudioError(ValueError):
    """A recording that cannot be used; the message names the file."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


def read_audio(path: str | Path, *, allow_stereo: bool = True) -> tuple[np.ndarray, int]:
    """Read a recording as float32 mono samples at its native rate.

    Parameters
    ----------
    path : str or Path
        A WAV or FLAC file (anything libsndfile reads).
    allow_stereo : bool
        When True, multi-channel audio is averaged to mono with a warning that
        names the file. When False it raises :class:`AudioError`.

    Returns
    -------
    samples : np.ndarray, shape (n,)
    sample_rate : int

    Raises
    ------
    AudioError
        The file is missing, unreadable, empty, not finite, multi-channel
        (when not allowed) or at an implausible sample rate.
    """
    path = _check_audio_path(path)
    try:
        samples, sample_rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # libsndfile raises several types; all mean unreadable
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AudioError(path, f"cannot decode audio ({reason})") from None
    if samples.shape[0] == 0:
        raise AudioError(path, "audio has zero samples")
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise AudioError(
            path,
            f"unusual sample rate {sample_rate} Hz "
            f"(expected {MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz)",
        )
    if samples.shape[1] > 1:
        if not allow_stereo:
            raise AudioError(path, f"has {samples.shape[1]} channels; mono expected")
        warnings.warn(f"{path}: {samples.shape[1]} channels, averaged to mono", stacklevel=2)
    mono = samples.mean(axis=1) if samples.shape[1] > 1 else samples[:, 0]
    if not np.all(np.isfinite(mono)):
        raise AudioError(path, "audio contains NaN or infinite samples")
    return np.ascontiguousarray(mono, dtype=np.float32), int(sample_rate)


def _check_audio_path(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise AudioError(path, "file not found")
    if path.is_dir():
        raise AudioError(path, "is a directory, not an audio file")
    if path.stat().st_size == 0:
        raise AudioError(path, "file is empty (0 bytes)")
    return path


def iter_audio_blocks(path: str | Path, block_seconds: float = 30.0):
    """Read a recording in mono float32 blocks, so memory does not grow with its length.

    The same checks as :func:`read_audio` (multi-channel audio is averaged to
    mono without a warning).

    Yields
    ------
    block : np.ndarray, shape (k,)
    sample_rate : int
    """
    path = _check_audio_path(path)
    try:
        handle = sf.SoundFile(str(path))
    except Exception as exc:  # libsndfile raises several types; all mean unreadable
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AudioError(path, f"cannot decode audio ({reason})") from None
    with handle:
        rate = int(handle.samplerate)
        if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
            raise AudioError(
                path, f"unusual sample rate {rate} Hz (expected {MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz)"
            )
        frames = max(1, int(block_seconds * rate))
        read_any = False
        while True:
            try:
                block = handle.read(frames, dtype="float32", always_2d=True)
            except Exception as exc:
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise AudioError(path, f"cannot decode audio ({reason})") from None
            if block.shape[0] == 0:
                break
            mono = block.mean(axis=1) if block.shape[1] > 1 else block[:, 0]
            if not np.all(np.isfinite(mono)):
                raise AudioError(path, "audio contains NaN or infinite samples")
            read_any = True
            yield np.ascontiguousarray(mono, dtype=np.float32), rate
        if not read_any:
            raise AudioError(path, "audio has zero samples")


def load_audio(
    path: str | Path, sample_rate: int, *, resample_type: str = "soxr_hq", max_seconds=None
) -> np.ndarray:
    """Read a recording and resample it to ``sample_rate`` (mono, float32).

    ``max_seconds`` keeps only the start of the recording, before resampling,
    which is much cheaper for long recordings when only 5 s are needed.
    """
    samples, native_rate = read_audio(path)
    if max_seconds is not None:
        # keep a few extra samples so the resampler's edge stays inside the clip
        samples = samples[: int(np.ceil(max_seconds * native_rate)) + 64]
    if native_rate != sample_rate:
        samples = resample(samples, native_rate, sample_rate, resample_type)
    return np.asarray(samples, dtype=np.float32)


def resample(samples: np.ndarray, orig_sr: int, target_sr: int, res_type: str = "soxr_hq"):
    """``librosa.resample(samples, orig_sr=..., target_sr=..., res_type=...)`` of a mono signal.

    The ``soxr_*`` types (every profile's) make librosa's own call to soxr
    directly, with the same length fix and dtype, so the output is identical
    without importing librosa: its import compiles numba kernels, seconds in
    every new process and longer the first time in a new environment.
    Other types go to librosa.
    """
    if orig_sr == target_sr:
        return samples
    if not res_type.startswith("soxr"):
        import librosa

        return librosa.resample(samples, orig_sr=orig_sr, target_sr=target_sr, res_type=res_type)
    import soxr

    n_samples = int(np.ceil(samples.shape[-1] * float(target_sr) / orig_sr))
    resampled = soxr.resample(samples, orig_sr, target_sr, quality=res_type)[:n_samples]
    if len(resampled) < n_samples:  # librosa.util.fix_length pads with zeros
        resampled = np.pad(resampled, (0, n_samples - len(resampled)))
    return np.asarray(resampled, dtype=samples.dtype)


def find_audio(folder: Path, stem: str) -> Path | None:
    """Return ``folder/stem.wav`` or ``folder/stem.flac``, whichever exists."""
    for ext in AUDIO_EXTENSIONS:
        candidate = folder / f"{stem}{ext}"
        if candidate.exists():
            return candidate
    return None
