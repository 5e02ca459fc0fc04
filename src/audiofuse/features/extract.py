"""The two model inputs of a recording: the log-Mel image and the waveform clip.

The ``paper`` profile follows the authors' preprocessing exactly:

1. resample to 22050 Hz, mono;
2. take the first 5 s, zero-padding shorter recordings;
3. log-Mel spectrogram, n_mels 224, n_fft 2048, hop 512,
   ``librosa.power_to_db(ref=np.max)``;
4. resize to 224x224 with OpenCV (``cv2.resize``, bilinear);
5. min-max scale each example to [0, 1] (with the authors' ``+ 1e-6``).

The waveform input is the same 5 s clip. Other profiles change only the
numbers (see :mod:`audiofuse.config`).

For full-recording inference, :func:`window_starts` covers the whole
recording with 5 s windows and a hop; each window gets the same treatment as
a first-5-s clip.

Caches hold float16 arrays (spectrograms are in [0, 1]; waveforms keep ~3
significant digits), which halves memory and disk with no measurable effect on
the models; they are cast to float32 batch by batch.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import cv2
import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from audiofuse.config import FeatureConfig
from audiofuse.data.audio import AudioError, load_audio
from audiofuse.features.feature_set import FeatureSet
from audiofuse.features.spectral import mel_filterbank, power_to_db, stft_power

__all__ = [
    "fix_length",
    "log_mel_image",
    "normalize_waveform",
    "window_starts",
    "clip_features",
    "recording_features",
    "load_recording",
    "extract_features",
    "CACHE_VERSION",
    "worker_context",
    "map_recordings",
    "shared_workers",
]

CACHE_VERSION = 1


def fix_length(samples: np.ndarray, n: int, start: int = 0) -> np.ndarray:
    """``samples[start:start+n]``, zero-padded at the end to exactly ``n``."""
    segment = samples[start : start + n]
    if len(segment) < n:
        segment = np.pad(segment, (0, n - len(segment)))
    return segment.astype(np.float32, copy=False)


def log_mel_image(clip: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """Log-Mel spectrogram resized to ``cfg.image_size`` and scaled to [0, 1].

    Parameters
    ----------
    clip : np.ndarray, shape (cfg.clip_samples,)
    cfg : FeatureConfig

    Returns
    -------
    np.ndarray, shape cfg.image_size, float32
        Rows are mel bands (low to high), columns are frames.
    """
    # Same numbers as librosa.feature.melspectrogram (centred Hann STFT,
    # power 2), computed by audiofuse.features.spectral without librosa's import cost,
    # with the filterbank built once instead of on every call.
    power = stft_power(clip, cfg.n_fft, cfg.hop_length)
    mel = mel_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.fmin, cfg.fmax) @ power
    # ref=np.max as in the paper; on an all-zero clip power_to_db gives a flat
    # image, which the min-max step below maps to zeros.
    log_mel = power_to_db(mel)
    rows, cols = cfg.image_size
    if log_mel.shape != (rows, cols):
        # cv2 takes (width, height)
        log_mel = cv2.resize(log_mel, (cols, rows))
    low, high = float(log_mel.min()), float(log_mel.max())
    return ((log_mel - low) / (high - low + 1e-6)).astype(np.float32)


def normalize_waveform(clip: np.ndarray, how: str) -> np.ndarray:
    """Per-example waveform scaling: ``none`` (paper), ``peak`` or ``standard``."""
    if how == "none":
        return clip.astype(np.float32, copy=False)
    if how == "peak":
        return (clip / (np.max(np.abs(clip)) + 1e-8)).astype(np.float32)
    if how == "standard":
        return ((clip - clip.mean()) / (clip.std() + 1e-8)).astype(np.float32)
    raise ValueError(f"unknown waveform_norm {how!r}; use none, peak or standard")


def window_starts(n_samples: int, cfg: FeatureConfig) -> np.ndarray:
    """Start indices of the windows that cover a whole recording.

    Windows are ``cfg.clip_seconds`` long with a hop of
    ``cfg.window_hop_seconds``. The last window is aligned to the end of the
    recording, so nothing is left out; a recording shorter than one window
    gets a single zero-padded window at 0.
    """
    n = cfg.clip_samples
    if n_samples <= n:
        return np.array([0], dtype=np.int64)
    hop = max(1, int(round(cfg.window_hop_seconds * cfg.sample_rate)))
    starts = list(range(0, n_samples - n + 1, hop))
    if starts[-1] + n < n_samples:
        starts.append(n_samples - n)
    return np.asarray(starts, dtype=np.int64)


def clip_features(clip: np.ndarray, cfg: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """(spectrogram image, waveform) for one clip of ``cfg.clip_samples``."""
    return log_mel_image(clip, cfg), normalize_waveform(clip, cfg.waveform_norm)


def recording_features(
    samples: np.ndarray, cfg: FeatureConfig, *, windows: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs for one recording already at ``cfg.sample_rate``.

    Returns
    -------
    spectrograms : np.ndarray, shape (k, rows, cols)
    waveforms : np.ndarray, shape (k, clip_samples)
        ``k = 1`` (the first clip) unless ``windows`` is True.
    """
    starts = window_starts(len(samples), cfg) if windows else np.array([0])
    pairs = [clip_features(fix_length(samples, cfg.clip_samples, s), cfg) for s in starts]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def worker_context():
    """Start method for worker pools: ``forkserver``, where the platform has it.

    Forking a process in which TensorFlow has already run (a notebook that
    trained a model, then extracts more features) can leave the child holding
    locks of threads that do not exist there, and the pool dies. A fork server
    starts clean once and forks the workers from itself.
    """
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _single_threaded_blas() -> None:
    """Pool initializer: one BLAS thread per worker.

    The per-clip matrix products are tiny; with OpenBLAS's default threads
    the workers' threads contend, many times slower on a busy small machine.
    """
    threadpool_limits(1)


def _new_pool(n_jobs: int) -> ProcessPoolExecutor:
    """A fork-server pool of ``n_jobs`` workers with one BLAS thread each."""
    return ProcessPoolExecutor(
        max_workers=n_jobs, mp_context=worker_context(), initializer=_single_threaded_blas
    )


#: The pool of :func:`shared_workers` while one is open: ``(n_jobs, pool)``.
_SHARED_POOL: list = [None, None]


@contextlib.contextmanager
def shared_workers(n_jobs: int | None = None):
    """Within this block, every :func:`map_recordings` of ``n_jobs`` workers uses one
    pool instead of starting its own.

    A worker's first recording is its dearest: the classical features import
    librosa and load numba's compiled kernels there, seconds of work.
    Notebook 02 featurizes four tables (train and test, first clips and
    windows): one pool instead of four. The pool stops when the block ends,
    so no worker outlives it (a multiprocessing child joins its children as it
    exits, and would wait forever on a pool kept for later).
    """
    n_jobs = n_jobs or os.cpu_count() or 1
    if _SHARED_POOL[1] is not None or n_jobs == 1:  # nested, or nothing to share
        yield
        return
    pool = _new_pool(n_jobs)
    _SHARED_POOL[:] = [n_jobs, pool]
    try:
        yield
    finally:
        _SHARED_POOL[:] = [None, None]
        pool.shutdown(wait=True, cancel_futures=True)


def _forget_inherited_pool() -> None:
    """In a forked child: drop the parent's pool (its workers and threads are the
    parent's; submitting to it would hang)."""
    _SHARED_POOL[:] = [None, None]


os.register_at_fork(after_in_child=_forget_inherited_pool)


def map_recordings(
    worker, jobs: list, *, n_jobs: int, desc: str, progress: bool = True, chunksize: int = 8
) -> list:
    """``[worker(job) for job in jobs]`` over a process pool, with a progress bar.

    Workers run with one BLAS thread each, in a fork-server pool (see
    :func:`worker_context`): the pool of :func:`shared_workers` when one is
    open, else one for this call; ``n_jobs=1`` runs in this process.
    """
    results = []
    bar = tqdm(total=len(jobs), desc=desc, unit="rec", disable=not progress, file=sys.stderr)
    if n_jobs == 1:
        with threadpool_limits(1):
            for job in jobs:
                results.append(worker(job))
                bar.update()
    else:
        shared = _SHARED_POOL[1] if _SHARED_POOL[0] == n_jobs else None
        with contextlib.nullcontext(shared) if shared else _new_pool(n_jobs) as pool:
            for result in pool.map(worker, jobs, chunksize=chunksize):
                results.append(result)
                bar.update()
    bar.close()
    return results


def load_recording(path, cfg: FeatureConfig, *, windows: bool = False) -> np.ndarray:
    """Read ``path`` at the profile's rate: all of it for windows, else the first clip."""
    return load_audio(
        path,
        cfg.sample_rate,
        resample_type=cfg.resample_type,
        max_seconds=None if windows else cfg.clip_seconds,
    )


def _features_for_path(args) -> tuple[str, np.ndarray | None, np.ndarray | None, str | None]:
    """Worker: read, resample and featurize one file; errors come back as text."""
    path, cfg, windows = args
    try:
        samples = load_recording(path, cfg, windows=windows)
        spec, wave = recording_features(samples, cfg, windows=windows)
        return path, spec.astype(np.float16), wave.astype(np.float16), None
    except AudioError as err:
        return path, None, None, err.reason
    except Exception as exc:  # keep one bad file from sinking a whole cache
        return path, None, None, f"{type(exc).__name__}: {exc}"


def extract_features(
    table: pd.DataFrame,
    cfg: FeatureConfig,
    *,
    windows: bool = False,
    n_jobs: int | None = None,
    progress: bool = True,
    desc: str = "features",
) -> FeatureSet:
    """Compute model inputs for every recording in ``table`` (in parallel).

    Parameters
    ----------
    table : pandas.DataFrame
        An index from :mod:`audiofuse.data.indexes` (needs ``record, label, path``).
    cfg : FeatureConfig
    windows : bool
        False: one example per recording (the first clip, as in the paper).
        True: every window of :func:`window_starts`, for full-recording use.
    n_jobs : int, optional
        Worker processes; defaults to the number of CPU cores.

    Unusable files are skipped and listed in ``FeatureSet.skipped``; the
    throughput is printed and kept in ``FeatureSet.info``.
    """
    if len(table) == 0:
        raise ValueError("no recordings to featurize (empty table)")
    n_jobs = n_jobs or os.cpu_count() or 1
    paths = table["path"].astype(str).tolist()
    jobs = [(p, cfg, windows) for p in paths]
    t0 = time.perf_counter()
    results = map_recordings(
        _features_for_path, jobs, n_jobs=n_jobs, desc=desc, progress=progress, chunksize=8
    )
    elapsed = time.perf_counter() - t0

    specs, waves, rows, skipped = [], [], [], []
    base = table.reset_index(drop=True)
    for i, (path, spec, wave, error) in enumerate(results):
        if error is not None:
            skipped.append((path, error))
            continue
        specs.append(spec)
        waves.append(wave)
        row = base.iloc[[i] * len(spec)].copy()
        row["window"] = np.arange(len(spec))
        rows.append(row)
    if not specs:
        raise ValueError(f"every recording failed to load; first error: {skipped[0]}")
    meta = pd.concat(rows, ignore_index=True)
    info = {
        "recordings": len(results) - len(skipped),
        "examples": len(meta),
        "seconds": round(elapsed, 3),
        "recordings_per_second": round(len(results) / max(elapsed, 1e-9), 2),
        "n_jobs": n_jobs,
    }
    if progress:
        print(
            f"{desc}: {info['recordings']} recordings -> {info['examples']} examples in "
            f"{elapsed:.1f} s ({info['recordings_per_second']:.1f} recordings/s, {n_jobs} workers)"
            + (f"; skipped {len(skipped)}" if skipped else ""),
            file=sys.stderr,
        )
        for path, why in skipped:
            print(f"  skipped {path}: {why}", file=sys.stderr)
    return FeatureSet(
        np.concatenate(specs)[..., None],
        np.concatenate(waves)[..., None],
        meta,
        skipped,
        info,
    )
