"""Compact copies of the datasets, holding only the audio that one profile reads.

A GPU machine (Colab, a rented server) often starts bare and takes files
through a narrow pipe. :func:`pack_datasets` writes a copy of PhysioNet 2016
and PASCAL in their own layouts, so every loader reads it unchanged, keeping
only what a profile's experiments read:

- the first clip of every training record (exactly the samples
  :func:`audiofuse.data.audio.load_audio` keeps before resampling, so the features
  are bit-identical);
- every test record whole, for full-recording inference;
- for audio recorded above the profile's rate (PASCAL set A, 44.1 kHz), the
  same first samples resampled to the profile's rate with the profile's
  resampler, then stored as 16-bit FLAC. The pipeline then skips the
  resampling; the only change is the 16-bit rounding of the resampled
  signal, more than 90 dB below its peak.

For the ``paper`` profile the PhysioNet copy is ~47 MB instead of 163 MB,
the PASCAL copy ~19 MB instead of 63 MB.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import soundfile as sf

from audiofuse.config import FeatureConfig
from audiofuse.data.audio import read_audio, resample
from audiofuse.data.indexes import DatasetError, index_pascal, index_physionet

__all__ = ["kept_samples", "pack_datasets", "MANIFEST"]

MANIFEST = "PACKED.json"


def kept_samples(seconds: float, native_rate: int) -> int:
    """Native samples that :func:`audiofuse.data.audio.load_audio` reads for a first clip."""
    return int(np.ceil(seconds * native_rate)) + 64


def _write_flac(path: Path, samples: np.ndarray, rate: int) -> int:
    """Write 16-bit FLAC atomically; return its size in bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    sf.write(tmp, samples, rate, format="FLAC", subtype="PCM_16")
    os.replace(tmp, path)
    return path.stat().st_size


def _pack_file(src: str, dest: Path, cfg: FeatureConfig, whole: bool) -> tuple[int, int]:
    """Pack one recording; return (bytes written, samples clipped at full scale)."""
    samples, rate = read_audio(src)
    if not whole:
        samples = samples[: kept_samples(cfg.clip_seconds, rate)]
    clipped = 0
    if rate > cfg.sample_rate:
        samples = resample(samples, rate, cfg.sample_rate, cfg.resample_type)
        rate = cfg.sample_rate
        # the resampler can overshoot full scale by a hair; 16 bits cannot hold that
        clipped = int(np.count_nonzero(np.abs(samples) > 1.0))
        samples = np.clip(samples, -1.0, 1.0)
    return _write_flac(dest.with_suffix(".flac"), samples, rate), clipped


def _copy_metadata(src_root: Path, dest_root: Path, patterns: tuple[str, ...]) -> None:
    for pattern in patterns:
        for path in src_root.glob(pattern):
            if path.is_file():
                target = dest_root / path.relative_to(src_root)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)


def pack_datasets(
    data_dir: str | os.PathLike,
    dest: str | os.PathLike,
    cfg: FeatureConfig,
    *,
    datasets=("physionet2016", "pascal"),
    whole_test_records: bool = True,
    progress: bool = True,
) -> dict:
    """Write compact copies of ``datasets`` from ``data_dir`` into ``dest``.

    Parameters
    ----------
    data_dir : path
        Folder holding ``physionet2016/`` and/or ``pascal/``.
    dest : path
        Output folder (created); same layout as ``data_dir``.
    cfg : FeatureConfig
        The profile whose first clip and sample rate decide what is kept.
    datasets : sequence of {"physionet2016", "pascal"}
    whole_test_records : bool
        Keep the PhysioNet test records whole (for full-recording inference).

    Returns
    -------
    dict
        The manifest, also written to ``dest/PACKED.json``: files and bytes
        per dataset, and the settings used.
    """
    from tqdm.auto import tqdm

    data_dir, dest = Path(data_dir), Path(dest)
    unknown = set(datasets) - {"physionet2016", "pascal"}
    if unknown:
        raise DatasetError(f"cannot pack {sorted(unknown)}: choose physionet2016 and/or pascal")
    manifest = {
        "source": str(data_dir.resolve()),
        "clip_seconds": cfg.clip_seconds,
        "sample_rate": cfg.sample_rate,
        "resample_type": cfg.resample_type,
        "whole_test_records": whole_test_records,
        "datasets": {},
    }
    for name in datasets:
        root = data_dir / name
        if name == "physionet2016":
            table = index_physionet(root, probe=False)
            whole = (table["split"] == "test").to_numpy() & whole_test_records
            _copy_metadata(root, dest / name, ("*/REFERENCE.csv", "validation/*"))
        else:
            table = index_pascal(root, probe=False)
            whole = np.zeros(len(table), dtype=bool)
            _copy_metadata(root, dest / name, ("*.csv",))
        total = clipped = 0
        paths = table["path"].tolist()
        for path, keep_whole in tqdm(
            list(zip(paths, whole, strict=True)),
            desc=f"pack {name}",
            unit="file",
            disable=not progress,
        ):
            relative = Path(path).resolve().relative_to(root.resolve())
            size, n_clipped = _pack_file(path, dest / name / relative, cfg, bool(keep_whole))
            total, clipped = total + size, clipped + n_clipped
        manifest["datasets"][name] = {
            "files": len(paths),
            "whole_files": int(whole.sum()),
            "bytes": total,
            "clipped_samples": clipped,
        }
    dest.mkdir(parents=True, exist_ok=True)
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return manifest
