"""Classical features of a whole table of recordings, computed in parallel."""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import pandas as pd

from audiofuse.data.audio import AudioError, load_audio
from audiofuse.features.extract import fix_length, map_recordings, window_starts

from ..config import FeatureConfig
from .clip_features import ANALYSIS_RATE, FEATURE_VERSION, clip_feature_vector

__all__ = ["featurize_table"]


def _featurize_path(args) -> tuple[str, np.ndarray | None, np.ndarray | None, str | None]:
    """Worker: (path, features (k, d), window starts in s, error) for one file."""
    path, seconds, sample_rate, windows, hop_seconds = args
    try:
        samples = load_audio(path, sample_rate, max_seconds=None if windows else seconds)
        cfg = FeatureConfig(
            sample_rate=sample_rate, clip_seconds=seconds, window_hop_seconds=hop_seconds
        )
        n = cfg.clip_samples
        starts = window_starts(len(samples), cfg) if windows else np.array([0])
        rows = [clip_feature_vector(fix_length(samples, n, int(s)), sample_rate) for s in starts]
        return path, np.stack(rows), starts / sample_rate, None
    except AudioError as err:
        return path, None, None, err.reason
    except Exception as exc:  # one bad file must not sink the whole table
        return path, None, None, f"{type(exc).__name__}: {exc}"


def featurize_table(
    table: pd.DataFrame,
    *,
    seconds: float = 5.0,
    sample_rate: int = ANALYSIS_RATE,
    windows: bool = False,
    hop_seconds: float = 2.5,
    n_jobs: int | None = None,
    progress: bool = True,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Feature matrix of every recording in ``table`` (in parallel).

    Parameters
    ----------
    table : pandas.DataFrame
        An index from :mod:`audiofuse.data.indexes` (needs ``record, label, path``).
    seconds : float
        Clip length in seconds (the first ``seconds`` unless ``windows``).
    sample_rate : int
        Analysis rate; recordings are resampled to it with
        :func:`audiofuse.data.audio.load_audio`.
    windows : bool
        False: one row per recording, its first ``seconds`` (zero-padded).
        True: one row per window of :func:`audiofuse.features.extract.window_starts`
        (``seconds`` long, ``hop_seconds`` apart, the last one aligned to the
        end), covering the whole recording.
    hop_seconds : float
        Hop between windows.
    n_jobs : int, optional
        Worker processes (default: the number of CPU cores); 1 runs inline.
    progress : bool
        Show a tqdm bar and print the throughput and skipped files to stderr.

    Returns
    -------
    X : np.ndarray, shape (n_rows, len(FEATURE_NAMES)), float32
    meta : pandas.DataFrame
        One row per row of ``X``: the columns of ``table`` plus ``window``
        (index within the recording) and ``start_seconds``.
        ``meta.attrs["skipped"]`` lists ``(path, reason)`` for unreadable
        files, which are left out; ``meta.attrs["info"]`` holds the timing.

    Raises
    ------
    ValueError
        If ``table`` is empty or no file could be read.
    """
    if len(table) == 0:
        raise ValueError("no recordings to featurize (empty table)")
    n_jobs = n_jobs or os.cpu_count() or 1
    jobs = [
        (str(p), float(seconds), int(sample_rate), bool(windows), float(hop_seconds))
        for p in table["path"]
    ]
    t0 = time.perf_counter()
    desc = "classical features" + (" (windows)" if windows else "")
    results = map_recordings(
        _featurize_path, jobs, n_jobs=n_jobs, desc=desc, progress=progress, chunksize=4
    )
    elapsed = time.perf_counter() - t0

    base = table.reset_index(drop=True)
    blocks, metas, skipped = [], [], []
    for i, (path, feats, starts, error) in enumerate(results):
        if error is not None:
            skipped.append((path, error))
            continue
        blocks.append(feats)
        rows = base.iloc[[i] * len(feats)].copy()
        rows["window"] = np.arange(len(feats))
        rows["start_seconds"] = starts
        metas.append(rows)
    if not blocks:
        raise ValueError(f"every recording failed to load; first error: {skipped[0]}")
    X = np.concatenate(blocks).astype(np.float32)
    meta = pd.concat(metas, ignore_index=True)
    info = {
        "recordings": len(results) - len(skipped),
        "rows": len(meta),
        "seconds": round(elapsed, 3),
        "recordings_per_second": round(len(results) / max(elapsed, 1e-9), 2),
        "n_jobs": n_jobs,
        "windows": bool(windows),
        "feature_version": FEATURE_VERSION,
    }
    meta.attrs["skipped"] = skipped
    meta.attrs["info"] = info
    if progress:
        print(
            f"{desc}: {info['recordings']} recordings -> {info['rows']} rows x {X.shape[1]} "
            f"features in {elapsed:.1f} s ({info['recordings_per_second']:.1f} recordings/s, "
            f"{n_jobs} workers)" + (f"; skipped {len(skipped)}" if skipped else ""),
            file=sys.stderr,
        )
        for path, why in skipped:
            print(f"  skipped {path}: {why}", file=sys.stderr)
    return X, meta
