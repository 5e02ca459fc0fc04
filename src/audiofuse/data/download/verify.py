"""Verification of the ``SHA256SUMS`` files inside an unpacked tree, and the completion marker."""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from audiofuse.data.download.common import MARKER_NAME, SUMS_FILENAMES, sha256_file
from audiofuse.data.download.sources import DatasetSource

# --------------------------------------------------------------------------
# Verification of SHA256SUMS inside the tree
# --------------------------------------------------------------------------


@dataclass
class SumsReport:
    """Outcome of :func:`check_sha256sums`.

    Attributes
    ----------
    sums_files : int
        Number of ``SHA256SUMS`` files found.
    verified : int
        Listed files that exist and match.
    missing : int
        Listed files that are not in the tree (not an error).
    mismatched : list of str
        Listed files whose content differs, relative to the root.
    """

    sums_files: int = 0
    verified: int = 0
    missing: int = 0
    mismatched: list[str] = dataclasses.field(default_factory=list)


def _parse_sums(path: Path) -> Iterator[tuple[str, str]]:
    """``(digest, relative path)`` pairs of a ``sha256sum``-format file."""
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        match = re.fullmatch(r"\s*([0-9a-fA-F]{64})\s+\*?(.+?)\s*", line)
        if match:
            yield match.group(1).lower(), match.group(2)


def check_sha256sums(root: str | os.PathLike, *, progress: bool = False) -> SumsReport:
    """Check the files listed in every ``SHA256SUMS``/``SHA256SUMS.txt`` under ``root``.

    Paths in a sums file are relative to the folder holding it. Listed files
    that are absent are counted in ``missing``; they are not an error.

    Returns
    -------
    SumsReport
    """
    root = Path(root)
    report = SumsReport()
    sums_files = sorted(p for name in SUMS_FILENAMES for p in root.rglob(name) if p.is_file())
    report.sums_files = len(sums_files)
    entries = [
        (sums.parent, digest, rel) for sums in sums_files for digest, rel in _parse_sums(sums)
    ]
    for folder, digest, rel in tqdm(
        entries, desc="verify SHA256SUMS", unit="file", disable=not progress, leave=False
    ):
        path = (folder / rel).resolve()
        if not path.is_relative_to(root.resolve()) or not path.is_file():
            report.missing += 1
        elif sha256_file(path) != digest:
            report.mismatched.append(path.relative_to(root.resolve()).as_posix())
        else:
            report.verified += 1
    return report


# --------------------------------------------------------------------------
# Completion marker
# --------------------------------------------------------------------------


def read_marker(folder: Path) -> dict | None:
    """The parsed ``.complete`` marker of ``folder``, or None."""
    try:
        return json.loads((folder / MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_complete(folder: str | os.PathLike, source: DatasetSource) -> bool:
    """True when ``folder`` holds a finished download of ``source``.

    The ``.complete`` marker must list every archive of ``source``, with the
    expected hash wherever ``source`` knows one.
    """
    marker = read_marker(Path(folder))
    if not marker:
        return False
    recorded = {a.get("file"): a.get("sha256") for a in marker.get("archives", [])}
    for archive in source.archives:
        if archive.filename not in recorded:
            return False
        if archive.sha256 and (recorded[archive.filename] or "").lower() != archive.sha256.lower():
            return False
    return True


def write_marker(
    tree: Path, source: DatasetSource, records: list[dict], report: SumsReport
) -> None:
    """Write ``.complete`` into the staged tree."""
    payload = {
        "dataset": source.name,
        "title": source.title,
        "homepage": source.homepage,
        "licence": source.licence,
        "archives": records,
        "sha256sums": dataclasses.asdict(report),
        "written": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    (tree / MARKER_NAME).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
