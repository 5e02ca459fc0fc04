"""Dataset indexes: PhysioNet/CinC 2016 and PASCAL as tables of recordings.

Every experiment finds its recordings through this module, whether the files
are the real datasets or the synthetic stand-ins written by
:mod:`audiofuse.data.synthetic` in the same layouts.

Labels everywhere: ``1`` = abnormal, ``0`` = normal.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from audiofuse.data.audio import (
    AUDIO_EXTENSIONS,
    MAX_SAMPLE_RATE,
    MIN_SAMPLE_RATE,
    AudioError,
    find_audio,
)

__all__ = [
    "DatasetError",
    "index_physionet",
    "physionet_split",
    "index_pascal",
    "PASCAL_CLASSES",
    "is_synthetic",
]

PASCAL_CLASSES = {"normal": 0, "murmur": 1, "extrahls": 1, "extrastole": 1, "artifact": 1}

SYNTHETIC_MARKER = "SYNTHETIC"


class DatasetError(ValueError):
    """A dataset folder that is missing or not in a known layout."""


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
    """True when ``root`` was written by :mod:`audiofuse.data.synthetic`."""
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
