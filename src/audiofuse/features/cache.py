"""The on-disk feature cache: keyed by configuration, written atomically, resumable.

A cache folder is ``<cache_dir>/<mode>-<config hash>-<recordings hash>`` holding
``spectrograms.npy``, ``waveforms.npy``, ``meta.csv`` and ``info.json`` (with the
file sizes, so a truncated file is detected). It is built in parts of
:data:`CHUNK_RECORDINGS` recordings under ``.partial-<key>/``, so an interrupted
build resumes with only the missing parts.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from audiofuse.config import FeatureConfig, config_hash
from audiofuse.features.extract import CACHE_VERSION, extract_features
from audiofuse.features.feature_set import FeatureSet

__all__ = ["CHUNK_RECORDINGS", "CacheError", "cache_key", "load_or_extract", "table_fingerprint"]


def table_fingerprint(table: pd.DataFrame) -> str:
    """Identity of the recordings: names, absolute paths, sizes and mtimes."""
    h = hashlib.sha256()
    for record, path in zip(table["record"], table["path"].map(os.path.abspath), strict=True):
        try:
            st = os.stat(path)
            stamp = f"{st.st_size}:{int(st.st_mtime)}"
        except OSError:
            stamp = "missing"
        h.update(f"{record}|{path}|{stamp}\n".encode())
    return h.hexdigest()[:12]


def cache_key(table: pd.DataFrame, cfg: FeatureConfig, windows: bool) -> str:
    """Cache folder name: config hash, recording fingerprint and mode."""
    mode = "windows" if windows else "first"
    return f"{mode}-{config_hash(cfg, CACHE_VERSION)}-{table_fingerprint(table)}"


CHUNK_RECORDINGS = 256  # recordings per resumable part of a cache build
_ARRAYS = ("spectrograms.npy", "waveforms.npy")


class CacheError(ValueError):
    """A cached feature folder is truncated or corrupt (it is then rebuilt)."""


def _write_npy(path: Path, arrays: list[np.ndarray]) -> None:
    """Stack ``arrays`` (same trailing shape) into one ``.npy`` file, one at a time, so
    a cache larger than memory (the ``paper`` windows: ~9 GB) is never held whole."""
    shape = (sum(len(a) for a in arrays), *arrays[0].shape[1:])
    out = np.lib.format.open_memmap(path, mode="w+", dtype=arrays[0].dtype, shape=shape)
    start = 0
    for array in arrays:
        out[start : start + len(array)] = array
        start += len(array)
    out.flush()
    del out


def _save_atomic(
    parts: list[FeatureSet], folder: Path, cfg: FeatureConfig, skipped: list, info: dict
) -> None:
    """Write ``parts``, stacked in order, as the cache folder ``folder`` (atomically)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        _write_npy(tmp / "spectrograms.npy", [p.spectrograms for p in parts])
        _write_npy(tmp / "waveforms.npy", [p.waveforms for p in parts])
        pd.concat([p.meta for p in parts], ignore_index=True).to_csv(tmp / "meta.csv", index=False)
        # sizes let a later load detect a truncated file without reading it all
        sizes = {name: (tmp / name).stat().st_size for name in (*_ARRAYS, "meta.csv")}
        (tmp / "info.json").write_text(
            json.dumps(
                {"features": cfg.__dict__, "skipped": skipped, **info} | {"file_sizes": sizes},
                indent=2,
                default=str,
            )
        )
        if folder.exists():  # another process finished first; keep theirs
            shutil.rmtree(tmp)
            return
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _load(folder: Path) -> FeatureSet:
    """Read a cache folder; :class:`CacheError` when any part is damaged."""
    try:
        info = json.loads((folder / "info.json").read_text())
        for name, size in info.get("file_sizes", {}).items():
            actual = (folder / name).stat().st_size
            if actual != size:
                raise CacheError(f"{folder / name}: {actual} bytes, {size} expected (truncated)")
        meta = pd.read_csv(folder / "meta.csv", dtype={"record": str})
        specs = np.load(folder / "spectrograms.npy", mmap_mode="r")
        waves = np.load(folder / "waveforms.npy", mmap_mode="r")
    except CacheError:
        raise
    except (OSError, ValueError, EOFError, pd.errors.ParserError) as exc:
        raise CacheError(f"{folder}: unreadable feature cache ({type(exc).__name__})") from None
    if not len(specs) == len(waves) == len(meta):
        raise CacheError(f"{folder}: {len(specs)}/{len(waves)}/{len(meta)} rows disagree")
    return FeatureSet(
        specs,
        waves,
        meta,
        [tuple(s) for s in info.get("skipped", [])],
        {k: v for k, v in info.items() if k not in ("features", "skipped", "file_sizes")}
        | {"cached": True},
    )


def _load_or_discard(folder: Path, progress: bool, desc: str) -> FeatureSet | None:
    """The cached set in ``folder``, or None (a damaged one is removed, with a message)."""
    if not (folder / "info.json").exists():
        return None
    try:
        return _load(folder)
    except CacheError as err:
        print(f"{desc}: {err}; rebuilding it", file=sys.stderr)
        shutil.rmtree(folder, ignore_errors=True)
        return None


def load_or_extract(
    table: pd.DataFrame,
    cfg: FeatureConfig,
    cache_dir: str | os.PathLike,
    *,
    windows: bool = False,
    n_jobs: int | None = None,
    progress: bool = True,
    desc: str = "features",
    chunk_recordings: int = CHUNK_RECORDINGS,
) -> FeatureSet:
    """:func:`extract_features` with an on-disk cache keyed by configuration.

    The cache folder is ``cache_dir/<mode>-<config hash>-<recordings hash>``.
    It is built in parts of ``chunk_recordings`` recordings, each written
    atomically under ``cache_dir/.partial-<key>/``, so an interrupted build
    resumes with the parts that were missing. A truncated or corrupt cache
    (file sizes are recorded) is detected, reported and rebuilt.
    """
    key = cache_key(table, cfg, windows)
    folder = Path(cache_dir) / key
    features = _load_or_discard(folder, progress, desc)
    if features is not None:
        if progress:
            print(f"{desc}: loaded {len(features)} cached examples from {folder}", file=sys.stderr)
        return features
    if len(table) == 0:
        raise ValueError("no recordings to featurize (empty table)")
    partial = Path(cache_dir) / f".partial-{key}"
    table = table.reset_index(drop=True)
    starts = range(0, len(table), max(1, chunk_recordings))
    parts = []
    for n, start in enumerate(starts):
        part_dir = partial / f"part-{n:05d}"
        part = _load_or_discard(part_dir, progress, desc)
        if part is not None and progress:
            print(f"{desc}: resuming, part {n + 1}/{len(starts)} already cached", file=sys.stderr)
        if part is None:
            chunk = table.iloc[start : start + chunk_recordings]
            try:
                part = extract_features(
                    chunk, cfg, windows=windows, n_jobs=n_jobs, progress=progress, desc=desc
                )
            except ValueError as err:  # every recording of this part failed
                if "every recording failed" not in str(err):
                    raise
                part = _failed_part(chunk, err)
            _save_atomic([part], part_dir, cfg, part.skipped, part.info)
            part = _load(part_dir)  # memory-mapped: the parts are never all in memory
        parts.append(part)
    usable = [p for p in parts if len(p)]
    if not usable:
        raise ValueError(f"every recording failed to load; first error: {parts[0].skipped[0]}")
    info = {
        "recordings": sum(p.info.get("recordings", 0) for p in parts),
        "examples": sum(len(p) for p in usable),
        "seconds": round(sum(p.info.get("seconds", 0.0) for p in parts), 3),
    }
    skipped = [tuple(s) for p in parts for s in p.skipped]
    _save_atomic(usable, folder, cfg, skipped, info)
    shutil.rmtree(partial, ignore_errors=True)
    features = _load(folder)
    features.info.pop("cached")  # extracted by this call
    return features


def _failed_part(chunk: pd.DataFrame, err: ValueError) -> FeatureSet:
    """An empty part whose recordings all failed (kept so a resume skips them)."""
    skipped = [(str(p), "unreadable") for p in chunk["path"]]
    meta = chunk.iloc[:0].assign(window=pd.Series(dtype=int))
    empty = np.zeros((0, 1, 1, 1), np.float16)
    return FeatureSet(
        empty, np.zeros((0, 1, 1), np.float16), meta, skipped, {"recordings": 0}
    )
