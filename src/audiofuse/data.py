"""Dataset indexes and audio reading: PhysioNet/CinC 2016 and PASCAL.

Every experiment reads its recordings through this module, whether the files
are the real datasets or the synthetic stand-ins written by
:mod:`audiofuse.synthetic` in the same layouts.

Labels everywhere: ``1`` = abnormal, ``0`` = normal.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

__all__ = [
    "AudioError",
    "DatasetError",
    "AUDIO_EXTENSIONS",
    "MIN_SAMPLE_RATE",
    "iter_audio_blocks",
    "MAX_SAMPLE_RATE",
    "read_audio",
    "load_audio",
    "find_audio",
    "index_physionet",
    "physionet_split",
    "index_pascal",
    "PASCAL_CLASSES",
    "is_synthetic",
]

AUDIO_EXTENSIONS = (".wav", ".flac")
# Heart sounds live below ~1 kHz; below 500 Hz even S1/S2 are aliased away, and
# above 192 kHz is no stethoscope we know of. Either end means a wrong file.
MIN_SAMPLE_RATE = 500
MAX_SAMPLE_RATE = 192_000

PASCAL_CLASSES = {"normal": 0, "murmur": 1, "extrahls": 1, "extrastole": 1, "artifact": 1}

SYNTHETIC_MARKER = "SYNTHETIC"


class AudioError(ValueError):
    """A recording that cannot be used; the message names the file."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class DatasetError(ValueError):
    """A dataset folder that is missing or not in a known layout."""


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


def iter_audio_blocks(path: str | Path, block_seconds: float = 30.0, *, keep_nonfinite=False):
    """Read a recording in mono float32 blocks, so memory does not grow with its length.

    The same checks as :func:`read_audio` (multi-channel audio is averaged to
    mono without a warning). With ``keep_nonfinite``, NaN or infinite samples
    are passed on for the caller to count and replace, instead of refused.

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
            if not keep_nonfinite and not np.all(np.isfinite(mono)):
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
    without importing librosa: its import compiles numba kernels, 2-3 s in
    every new process and about 30 s the first time in a new environment.
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


def _probe(path: Path) -> tuple[int, float]:
    """Sample rate and duration from the file header, without decoding."""
    try:
        info = sf.info(str(path))
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AudioError(path, f"cannot read audio header ({reason})") from None
    if info.frames == 0:
        raise AudioError(path, "audio has zero samples")
    if not MIN_SAMPLE_RATE <= info.samplerate <= MAX_SAMPLE_RATE:
        raise AudioError(path, f"unusual sample rate {info.samplerate} Hz")
    return int(info.samplerate), info.frames / info.samplerate


def _attach_header_info(rows: list[dict], skipped: list[tuple[str, str]]) -> list[dict]:
    """Fill sample_rate/duration from headers; move unreadable files to ``skipped``."""
    kept = []
    for row in rows:
        path = Path(row["path"])
        if path.stat().st_size == 0:
            skipped.append((str(path), "file is empty (0 bytes)"))
            continue
        try:
            row["sample_rate"], row["duration"] = _probe(path)
        except AudioError as err:
            skipped.append((err.path, err.reason))
            continue
        kept.append(row)
    return kept


def _finish_index(rows: list[dict], skipped, columns: list[str], root: Path) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=columns)
    table.attrs["skipped"] = list(skipped)
    table.attrs["root"] = str(root)
    table.attrs["synthetic"] = is_synthetic(root)
    if skipped:
        lines = "\n".join(f"  {p}: {why}" for p, why in skipped)
        warnings.warn(f"skipped {len(skipped)} unusable recording(s):\n{lines}", stacklevel=3)
    return table


def is_synthetic(root: str | Path) -> bool:
    """True when ``root`` was written by :mod:`audiofuse.synthetic`."""
    root = Path(root)
    return (root / SYNTHETIC_MARKER).exists() or (root.parent / SYNTHETIC_MARKER).exists()


def _read_reference(csv_path: Path) -> pd.DataFrame:
    if csv_path.stat().st_size == 0 or not csv_path.read_bytes().strip():
        raise DatasetError(f"{csv_path}: REFERENCE.csv is empty")
    try:
        ref = pd.read_csv(csv_path, header=None, names=["record", "label"], dtype={"record": str})
    except Exception as exc:
        raise DatasetError(f"{csv_path}: cannot read REFERENCE.csv ({exc})") from None
    bad = ~ref["label"].isin([1, -1])
    if bad.any():
        raise DatasetError(
            f"{csv_path}: labels must be 1 (abnormal) or -1 (normal); "
            f"found {sorted(ref.loc[bad, 'label'].unique().tolist())}"
        )
    return ref


def index_physionet(root: str | Path, *, probe: bool = True) -> pd.DataFrame:
    """Index a PhysioNet/CinC 2016 folder in the official layout.

    Parameters
    ----------
    root : str or Path
        Folder holding ``training-a`` ... ``training-f`` (each with
        ``REFERENCE.csv``) and ``validation/REFERENCE.csv``.
    probe : bool
        Read each file's header for its sample rate and duration (fast, no
        decoding). Unusable files are skipped and listed in
        ``table.attrs["skipped"]``.

    Returns
    -------
    pandas.DataFrame
        One row per recording: ``record, subset, label, path, sample_rate,
        duration, split``. ``label`` is 1 = abnormal, 0 = normal (from the
        official 1 / -1). ``split`` is ``"test"`` for the records listed in
        ``validation/`` (the paper's test set) and ``"train"`` otherwise.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: PhysioNet 2016 folder not found")
    subsets = sorted(p for p in root.glob("training-*") if p.is_dir())
    if not subsets:
        raise DatasetError(
            f"{root}: no training-a ... training-f folders; "
            "is this the PhysioNet/CinC 2016 root? (try `audiofuse data download physionet2016`)"
        )
    test_records: set[str] = set()
    validation_csv = root / "validation" / "REFERENCE.csv"
    if validation_csv.exists():
        test_records = set(_read_reference(validation_csv)["record"])
    else:
        warnings.warn(
            f"{validation_csv} not found: every record is put in the train split", stacklevel=2
        )

    rows, skipped = [], []
    for folder in subsets:
        csv_path = folder / "REFERENCE.csv"
        if not csv_path.exists():
            raise DatasetError(f"{csv_path}: missing")
        for record, label in _read_reference(csv_path).itertuples(index=False):
            path = find_audio(folder, record)
            if path is None:
                skipped.append((str(folder / f"{record}.wav"), "audio file not found"))
                continue
            rows.append(
                {
                    "record": record,
                    "subset": folder.name.removeprefix("training-"),
                    "label": 1 if label == 1 else 0,
                    "path": str(path),
                    "sample_rate": np.nan,
                    "duration": np.nan,
                    "split": "test" if record in test_records else "train",
                }
            )
    if probe:
        rows = _attach_header_info(rows, skipped)
    columns = ["record", "subset", "label", "path", "sample_rate", "duration", "split"]
    table = _finish_index(rows, skipped, columns, root)
    if table["record"].duplicated().any():
        dupes = table.loc[table["record"].duplicated(), "record"].tolist()[:5]
        raise DatasetError(f"{root}: duplicated record names, e.g. {dupes}")
    return table


def physionet_split(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The paper's split: (train, test), checked to be disjoint.

    The test set is the records listed in ``validation/``; the training set is
    every other record.
    """
    train = table[table["split"] == "train"].reset_index(drop=True)
    test = table[table["split"] == "test"].reset_index(drop=True)
    if len(test) == 0 and len(table):
        where = Path(table.attrs.get("root", ".")) / "validation" / "REFERENCE.csv"
        raise DatasetError(
            f"{where}: no test records (the paper's test split is the list in validation/); "
            "is the validation/ folder missing?"
        )
    assert_disjoint(train, test)
    return train, test


def assert_disjoint(a: pd.DataFrame, b: pd.DataFrame, key: str = "record") -> None:
    """Raise if any record is in both tables (a leaked test record)."""
    overlap = set(a[key]) & set(b[key])
    if overlap:
        raise DatasetError(
            f"{len(overlap)} record(s) are in both splits, e.g. {sorted(overlap)[:5]}"
        )


_PASCAL_FOLDER = re.compile(r"^(?P<set>[AB])training_(?P<cls>[a-z]+)$", re.IGNORECASE)


def _pascal_class(path: Path) -> tuple[str | None, str | None]:
    """(set, class) of a PASCAL file from its name or, failing that, its folder.

    Returns ``(set, None)`` for unlabelled test files and ``(None, None)`` for
    files that are not PASCAL recordings at all.
    """
    name = path.stem
    lowered = name.lower()
    folder = path.parent.name
    set_name = None
    if folder.lower() in ("set_a", "set_b"):
        set_name = folder[-1].upper()
    elif _PASCAL_FOLDER.match(folder) or folder.lower().endswith("unlabelledtest"):
        set_name = folder[0].upper()
    if "unlabelledtest" in lowered or "unlabelledtest" in folder.lower():
        return set_name or (name[0].upper() if name[:1] in "AB" else None), None
    # Kaggle: "<class>__<id>" or "<class>_noisy<class>_<id>"
    prefix = lowered.split("_", 1)[0]
    if prefix in PASCAL_CLASSES:
        return set_name, prefix
    # Original archives: Atraining_<class>/<id>.wav
    m = _PASCAL_FOLDER.match(folder)
    if m:
        # Set B's archives hold "Btraining_noisynormal/" etc.: noisy, same class.
        folder_cls = m.group("cls").lower().removeprefix("noisy")
        if folder_cls in PASCAL_CLASSES:
            return m.group("set").upper(), folder_cls
    return set_name, None


def index_pascal(root: str | Path, *, probe: bool = True) -> pd.DataFrame:
    """Index the PASCAL Classifying Heart Sounds data (labelled files only).

    Accepts Kaggle's layout (``set_a/``, ``set_b/`` with the class as a file-
    name prefix, e.g. ``normal__201102081321.wav``) and the original challenge
    archives (``Atraining_normal/``, ``Btraining_murmur/``, ...). Labels come
    from file or folder names, never from Kaggle's ``set_b.csv`` (its names do
    not match the files). ``*unlabelledtest*`` files are left out.

    Returns
    -------
    pandas.DataFrame
        ``record, set, original_class, label, path, sample_rate, duration``;
        label 0 for ``normal``, 1 for murmur, extrahls, extrastole, artifact.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: PASCAL folder not found")
    files = sorted(p for ext in AUDIO_EXTENSIONS for p in root.rglob(f"*{ext}") if p.is_file())
    rows, skipped = [], []
    for path in files:
        set_name, cls = _pascal_class(path)
        if cls is None:
            continue
        rows.append(
            {
                "record": path.stem,
                "set": set_name or "?",
                "original_class": cls,
                "label": PASCAL_CLASSES[cls],
                "path": str(path),
                "sample_rate": np.nan,
                "duration": np.nan,
            }
        )
    if not rows:
        raise DatasetError(
            f"{root}: no labelled PASCAL recordings found (expected set_a/, set_b/ "
            "or Atraining_*/ folders; try `audiofuse data download pascal`)"
        )
    if probe:
        rows = _attach_header_info(rows, skipped)
    columns = ["record", "set", "original_class", "label", "path", "sample_rate", "duration"]
    return _finish_index(rows, skipped, columns, root)
