"""Safe unpacking of zip and tar archives (zip-slip, links, zip-bomb guard) and layout clean-up."""

from __future__ import annotations

import os
import re
import shutil
import tarfile
import zipfile
from pathlib import Path
from typing import BinaryIO

from tqdm import tqdm

from audiofuse.data.download.common import (
    CHUNK_BYTES,
    JUNK_NAMES,
    DownloadError,
    failure_reason,
    short_label,
)

# --------------------------------------------------------------------------
# Safe extraction
# --------------------------------------------------------------------------

# Zip-bomb guard: PhysioNet 2016 unpacks to about 1.2 GB of WAV, PASCAL to
# about 0.1 GB; an archive declaring more than this in total is refused.
MAX_UNPACKED_BYTES = 8 * 1024**3


def _safe_target(root: Path, member: str, archive: Path) -> Path:
    """Where ``member`` may be written under ``root``; refuse escaping paths."""
    parts = re.split(r"[\\/]+", member)
    if (
        not member
        or member.startswith(("/", "\\"))
        or re.match(r"^[A-Za-z]:", member)
        or ".." in parts
    ):
        raise DownloadError(
            f"refusing to unpack {archive}: unsafe path {member!r} would be written "
            f"outside {root} (zip-slip)"
        )
    target = (root / member).resolve()
    if not target.is_relative_to(root.resolve()):
        raise DownloadError(
            f"refusing to unpack {archive}: path {member!r} resolves outside {root}"
        )
    return target


def _write_member(source: BinaryIO, target: Path) -> None:
    """Copy an archive member's bytes to ``target``, creating its folder."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") as out:
        shutil.copyfileobj(source, out, CHUNK_BYTES)


def _check_unpacked_size(archive: Path, total: int, limit: int) -> None:
    """Refuse an archive whose members add up to more than ``limit`` bytes."""
    if total > limit:
        raise DownloadError(
            f"refusing to unpack {archive}: it would unpack to {total / 1e9:.2f} GB, over the "
            f"{limit / 1e9:.2f} GB limit (a damaged archive or a zip bomb)"
        )


def _extract_zip(archive: Path, root: Path, progress: bool, limit: int) -> None:
    """Unpack a zip after checking every member's path and the total size.

    zipfile never yields more than a member's declared ``file_size`` and
    checks each CRC, so the declared sizes bound what is written.
    """
    with zipfile.ZipFile(archive) as zf:
        members = zf.infolist()
        _check_unpacked_size(archive, sum(m.file_size for m in members), limit)
        targets = [_safe_target(root, m.filename, archive) for m in members]
        pairs = list(zip(members, targets, strict=True))
        for member, target in tqdm(
            pairs,
            desc=f"unpack {short_label(archive.name)}",
            unit="file",
            disable=not progress,
            leave=False,
        ):
            if member.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            with zf.open(member) as source:
                _write_member(source, target)


def _extract_tar(archive: Path, root: Path, progress: bool, limit: int) -> None:
    """Unpack a tar (any compression); only regular files and folders are allowed."""
    with tarfile.open(archive, "r:*") as tf:
        members = tf.getmembers()
        _check_unpacked_size(archive, sum(m.size for m in members if m.isfile()), limit)
        for member in members:
            _safe_target(root, member.name, archive)
            if not (member.isfile() or member.isdir()):
                raise DownloadError(
                    f"refusing to unpack {archive}: {member.name!r} is a link or special "
                    "file; only regular files and folders are accepted"
                )
        for member in tqdm(
            members,
            desc=f"unpack {short_label(archive.name)}",
            unit="file",
            disable=not progress,
            leave=False,
        ):
            target = _safe_target(root, member.name, archive)
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            source = tf.extractfile(member)
            with source:
                _write_member(source, target)


def _archive_kind(path: Path) -> str:
    """``"zip"`` or ``"tar"`` from the file name, else from the content."""
    name = path.name.lower()
    if name.endswith(".zip"):
        return "zip"
    if name.endswith((".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")):
        return "tar"
    if zipfile.is_zipfile(path):
        return "zip"
    if tarfile.is_tarfile(path):
        return "tar"
    raise DownloadError(f"{path}: not a zip or tar archive")


def extract_archive(
    archive: str | os.PathLike,
    dest: str | os.PathLike,
    *,
    progress: bool = False,
    max_unpacked_bytes: int | None = None,
) -> Path:
    """Unpack a zip or tar archive into ``dest``, refusing unsafe members.

    Every member path is checked before anything is written: absolute paths,
    ``..`` components and (for tar) links and device files are refused with
    :class:`DownloadError`, and so is an archive whose members add up to more
    than ``max_unpacked_bytes`` (default :data:`MAX_UNPACKED_BYTES`).

    Returns
    -------
    Path
        ``dest``.
    """
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    limit = MAX_UNPACKED_BYTES if max_unpacked_bytes is None else max_unpacked_bytes
    try:
        if _archive_kind(archive) == "zip":
            _extract_zip(archive, dest, progress, limit)
        else:
            _extract_tar(archive, dest, progress, limit)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        raise DownloadError(f"{archive} is damaged ({failure_reason(exc)})") from None
    return dest


# --------------------------------------------------------------------------
# Layout normalisation
# --------------------------------------------------------------------------


def _is_junk(path: Path) -> bool:
    """macOS/Windows metadata that archives drag along."""
    return path.name in JUNK_NAMES or path.name.startswith("._")


def drop_junk(root: Path) -> None:
    """Delete ``__MACOSX``, ``.DS_Store``, ``._*`` and similar under ``root``."""
    for path in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if _is_junk(path):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)


def hoist_single_folder(root: Path, max_levels: int = 3) -> None:
    """While ``root`` holds exactly one entry and it is a folder, move its contents up."""
    for _ in range(max_levels):
        entries = list(root.iterdir())
        if len(entries) != 1 or not entries[0].is_dir():
            return
        wrapper = entries[0].rename(root / f".hoist-{os.getpid()}")
        for child in wrapper.iterdir():
            child.rename(root / child.name)
        wrapper.rmdir()


def merge_into(source: Path, dest: Path) -> None:
    """Move everything in ``source`` into ``dest``, merging folders."""
    dest.mkdir(parents=True, exist_ok=True)
    for child in source.iterdir():
        target = dest / child.name
        if target.is_dir() and child.is_dir():
            merge_into(child, target)
            child.rmdir()
        elif target.exists():
            raise DownloadError(f"two archives both contain {target}; cannot merge them")
        else:
            child.rename(target)
