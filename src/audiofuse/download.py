"""Download, verify and unpack the public heart-sound datasets.

Two datasets are known (see :data:`SOURCES`):

``physionet2016``
    The PhysioNet/CinC Challenge 2016 zip, unpacked so that
    ``<data>/physionet2016/training-a`` ... ``training-f`` and
    ``validation/`` exist (the layout :func:`audiofuse.data.index_physionet`
    reads). PhysioNet publishes no checksum of the zip itself; instead every
    ``SHA256SUMS``/``SHA256SUMS.txt`` found in the unpacked tree is checked.
``pascal``
    The labelled archives of the PASCAL Classifying Heart Sounds Challenge
    (``Atraining_normal.zip`` ...), each unpacked into its own folder
    (``<data>/pascal/Atraining_normal/`` ...), the layout
    :func:`audiofuse.data.index_pascal` reads. The Kaggle copy
    (``kinguistics/heartbeat-sounds``) needs an API token, so it is only
    documented as a manual alternative (:attr:`DatasetSource.manual`).

How a download proceeds (:func:`download_dataset`):

1. Each archive goes to ``<data>/.downloads/<file>.part`` with a byte
   progress bar. An interrupted transfer is resumed with an HTTP ``Range``
   request, within the same call (a few retries) or by the next call; a
   server that ignores ``Range`` (answers 200) is restarted cleanly.
2. The archive's SHA-256 is checked when it is known; a bad file is deleted.
   No archive hash is pinned today: PhysioNet publishes per-file sums but no
   hash of its zip, and PASCAL publishes no sums at all. What *is* verified:
   zip CRCs (both datasets; they catch a damaged transfer), PhysioNet's own
   ``SHA256SUMS`` files shipped inside the zip (step 4; they catch damage,
   not a tampered archive, since they come from the same file) and the
   layout. The archive hashes seen are recorded in the ``.complete`` marker.
3. Archives are unpacked into a temporary folder next to the target; paths
   that would land outside it (zip-slip), links and device files are refused,
   and so is an archive that would unpack to more than :data:`MAX_UNPACKED_BYTES`.
   A single wrapping top-level folder is moved up, macOS junk is dropped.
4. ``SHA256SUMS`` files inside the tree are checked, the layout is checked,
   a ``.complete`` marker (with the archive hashes) is written, and the folder
   is renamed into place. A folder with a valid marker is not downloaded
   again unless ``force=True``.

The host part of every URL can be replaced (mirrors, tests) with
``base_url=`` or the ``AUDIOFUSE_DOWNLOAD_BASE_URL`` environment variable:
the URL becomes ``<base>/<archive file name>``.

Only the standard library and :mod:`tqdm` are used.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import http.client
import json
import os
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import warnings
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from tqdm import tqdm

from audiofuse.config import data_dir

__all__ = [
    "Archive",
    "DatasetSource",
    "DownloadError",
    "SumsReport",
    "SOURCES",
    "BASE_URL_ENV",
    "MARKER_NAME",
    "DOWNLOADS_DIRNAME",
    "TIMEOUT_SECONDS",
    "MAX_UNPACKED_BYTES",
    "download_dataset",
    "download_file",
    "extract_archive",
    "check_sha256sums",
    "is_complete",
    "archive_url",
    "sha256_file",
]

BASE_URL_ENV = "AUDIOFUSE_DOWNLOAD_BASE_URL"
MARKER_NAME = ".complete"
DOWNLOADS_DIRNAME = ".downloads"
TIMEOUT_SECONDS = 30.0
MAX_ATTEMPTS = 5
# Zip-bomb guard: PhysioNet 2016 unpacks to about 1.2 GB of WAV, PASCAL to
# about 0.1 GB; an archive declaring more than this in total is refused.
MAX_UNPACKED_BYTES = 8 * 1024**3
CHUNK_BYTES = 256 * 1024
USER_AGENT = "audiofuse-download/0.1 (Python urllib)"
SUMS_FILENAMES = ("SHA256SUMS", "SHA256SUMS.txt")
JUNK_NAMES = frozenset({"__MACOSX", ".DS_Store", "Thumbs.db", "desktop.ini"})
_MANUAL_HINT = '(see README, "Data")'


class DownloadError(RuntimeError):
    """A dataset could not be downloaded, verified or unpacked.

    The message is always a single line that says what went wrong and, where
    it helps, which URL, file and folder are involved and what to do next.
    """

    def __init__(self, message: str):
        super().__init__(_one_line(message))


# --------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Archive:
    """One downloadable file of a dataset.

    Attributes
    ----------
    url : str
        Where the archive is published.
    sha256 : str or None
        Expected SHA-256 (hex) of the archive, or None where it is not known.
    subdir : str
        Folder, relative to the dataset folder, that receives the archive's
        contents; ``""`` is the dataset folder itself.
    """

    url: str
    sha256: str | None = None
    subdir: str = ""

    @property
    def filename(self) -> str:
        """The archive's file name, taken from the URL path."""
        path = urllib.parse.urlparse(self.url).path
        return urllib.parse.unquote(PurePosixPath(path).name)


@dataclass(frozen=True)
class DatasetSource:
    """Where a dataset comes from and how its unpacked layout is checked.

    Attributes
    ----------
    name : str
        Registry key, e.g. ``"physionet2016"``.
    title : str
        Human-readable name.
    folder : str
        Subfolder of the data directory that receives the dataset.
    archives : tuple of Archive
        The files to download.
    homepage : str
        The dataset's official page.
    licence : str
        Licence / terms of use, as published by the source.
    citation : str
        What to cite when using the data.
    manual : str
        How to obtain the data by hand (``{dest}`` is the dataset folder).
    layout_glob : str
        Glob, relative to the dataset folder, that must match at least one
        file once everything is unpacked.
    expects_sha256sums : bool
        Warn when the unpacked tree holds no ``SHA256SUMS`` file to check.
    """

    name: str
    title: str
    folder: str
    archives: tuple[Archive, ...]
    homepage: str
    licence: str
    citation: str
    manual: str = ""
    layout_glob: str = "**/*.wav"
    expects_sha256sums: bool = False

    def with_sha256(self, hashes: Mapping[str, str | None]) -> DatasetSource:
        """Copy with the expected hashes of some archives replaced.

        Parameters
        ----------
        hashes : mapping
            Archive file name -> SHA-256 hex digest (or None).
        """
        archives = tuple(
            dataclasses.replace(a, sha256=hashes[a.filename]) if a.filename in hashes else a
            for a in self.archives
        )
        return dataclasses.replace(self, archives=archives)


_PHYSIONET_ZIP = (
    "https://physionet.org/static/published-projects/challenge-2016/"
    "classification-of-heart-sound-recordings-the-physionet-computing-in-cardiology-"
    "challenge-2016-1.0.0.zip"
)
_PASCAL_BASE = "http://www.peterjbentley.com/heartchallenge/wav"
# archive file -> folder it is unpacked into. The folder names follow the class
# names audiofuse.data.PASCAL_CLASSES uses (the zips say "extrahs" and
# "extrasystole"). The unlabelled test archives are left out: nothing reads them.
_PASCAL_ARCHIVES = {
    "Atraining_normal.zip": "Atraining_normal",
    "Atraining_murmur.zip": "Atraining_murmur",
    "Atraining_extrahs.zip": "Atraining_extrahls",
    "Atraining_artifact.zip": "Atraining_artifact",
    "Btraining_normal.zip": "Btraining_normal",
    "Btraining_murmur.zip": "Btraining_murmur",
    "Btraining_extrasystole.zip": "Btraining_extrastole",
}

SOURCES: dict[str, DatasetSource] = {
    "physionet2016": DatasetSource(
        name="physionet2016",
        title="Classification of Heart Sound Recordings: "
        "The PhysioNet/Computing in Cardiology Challenge 2016 (v1.0.0)",
        folder="physionet2016",
        # PhysioNet publishes no hash of the zip; the SHA256SUMS inside it are
        # checked after unpacking instead.
        archives=(Archive(_PHYSIONET_ZIP, sha256=None),),
        homepage="https://physionet.org/content/challenge-2016/1.0.0/",
        licence="Open Data Commons Attribution License v1.0 (ODC-By 1.0)",
        citation=(
            "Liu C, Springer D, Li Q, et al. An open access database for the evaluation "
            "of heart sound algorithms. Physiol Meas. 2016;37(12):2181-2213. "
            "doi:10.1088/0967-3334/37/12/2181. "
            "Clifford GD, Liu C, Moody B, et al. Classification of normal/abnormal heart "
            "sound recordings: the PhysioNet/Computing in Cardiology Challenge 2016. "
            "Computing in Cardiology 2016;43:609-612. "
            "Goldberger AL, Amaral LAN, Glass L, et al. PhysioBank, PhysioToolkit, and "
            "PhysioNet. Circulation 2000;101(23):e215-e220."
        ),
        manual=(
            "Download the zip from https://physionet.org/content/challenge-2016/1.0.0/ "
            "(or: wget -r -N -c -np https://physionet.org/files/challenge-2016/1.0.0/) "
            "and unpack it so that {dest}/training-a/REFERENCE.csv and "
            "{dest}/validation/REFERENCE.csv exist."
        ),
        layout_glob="training-*/REFERENCE.csv",
        expects_sha256sums=True,
    ),
    "pascal": DatasetSource(
        name="pascal",
        title="PASCAL Classifying Heart Sounds Challenge 2011 (CHSC2011), datasets A and B",
        folder="pascal",
        archives=tuple(
            Archive(f"{_PASCAL_BASE}/{file}", sha256=None, subdir=subdir)
            for file, subdir in _PASCAL_ARCHIVES.items()
        ),
        homepage="http://www.peterjbentley.com/heartchallenge/",
        licence=(
            "No explicit licence on the challenge page: the data is offered for research "
            "and the organisers ask that the results page be cited (the Kaggle copy is "
            "marked CC0 by its uploader)."
        ),
        citation=(
            "Bentley P, Nordehn G, Coimbra M, Mannor S. The PASCAL Classifying Heart "
            "Sounds Challenge 2011 (CHSC2011) Results. "
            "http://www.peterjbentley.com/heartchallenge/index.html"
        ),
        manual=(
            "Either download the archives Atraining_*.zip and Btraining_*.zip from "
            "http://www.peterjbentley.com/heartchallenge/ and unpack each into "
            "{dest}/<archive name>/, or use the Kaggle copy: "
            "kaggle datasets download -d kinguistics/heartbeat-sounds -p {dest} --unzip "
            "(needs a Kaggle API token in ~/.kaggle/kaggle.json), which gives "
            "{dest}/set_a/ and {dest}/set_b/."
        ),
        layout_glob="**/*.wav",
    ),
}


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------


def _one_line(text: str) -> str:
    """Collapse all whitespace (newlines included) to single spaces."""
    return " ".join(str(text).split())


def _reason(exc: BaseException) -> str:
    """Short, one-line description of a network or I/O failure."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        inner = exc.reason
        return _reason(inner) if isinstance(inner, BaseException) else _one_line(str(inner))
    if isinstance(exc, TimeoutError):
        return "timed out"
    return _one_line(str(exc)) or type(exc).__name__


def _short(name: str, width: int = 40) -> str:
    """``name`` shortened to ``width`` characters for progress-bar labels."""
    if len(name) <= width:
        return name
    half = (width - 3) // 2
    return f"{name[:half]}...{name[-half:]}"


def _file_size(path: Path) -> int:
    """Size of ``path`` in bytes, 0 when it does not exist."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _unlink(*paths: Path) -> None:
    """Delete files, ignoring those that do not exist."""
    for path in paths:
        path.unlink(missing_ok=True)


def sha256_file(path: str | os.PathLike) -> str:
    """SHA-256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def archive_url(archive: Archive, base_url: str | None = None) -> str:
    """The URL an archive is fetched from.

    Parameters
    ----------
    archive : Archive
    base_url : str, optional
        Replaces everything but the file name: the URL becomes
        ``base_url + "/" + archive.filename``. When None, the
        ``AUDIOFUSE_DOWNLOAD_BASE_URL`` environment variable is used if set.
    """
    base = base_url or os.environ.get(BASE_URL_ENV) or ""
    if not base:
        return archive.url
    return f"{base.rstrip('/')}/{urllib.parse.quote(archive.filename)}"


# --------------------------------------------------------------------------
# HTTP download with resume
# --------------------------------------------------------------------------


class _Unreachable(Exception):
    """The request could not be made or was refused (no bytes received)."""


class _Interrupted(Exception):
    """The transfer started but stopped early; the ``.part`` file is kept."""


def _open(url: str, offset: int, timeout: float) -> http.client.HTTPResponse:
    """Send a GET request, asking for bytes from ``offset`` on when > 0."""
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except ValueError as exc:  # malformed URL
        raise _Unreachable(f"invalid URL: {exc}") from None
    except (OSError, http.client.HTTPException) as exc:  # URLError/HTTPError are OSError
        if isinstance(exc, urllib.error.HTTPError) and exc.code == 416 and offset:
            raise
        raise _Unreachable(_reason(exc)) from None


def _parse_content_range(value: str | None) -> tuple[int | None, int | None]:
    """``(first_byte, total)`` from a ``Content-Range: bytes a-b/total`` header."""
    match = re.fullmatch(r"\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*", value or "")
    if not match:
        return None, None
    total = None if match.group(3) == "*" else int(match.group(3))
    return int(match.group(1)), total


def _plan_write(response, offset: int) -> tuple[str, int, int | None]:
    """Decide how to store a response body: ``(mode, start, total_size)``.

    A 206 that starts exactly at ``offset`` is appended; anything else (a 200
    from a server that ignores ``Range``) restarts the file from byte 0.
    """
    length = response.headers.get("Content-Length")
    length = int(length) if length and length.isdigit() else None
    if offset and response.status == 206:
        first, total = _parse_content_range(response.headers.get("Content-Range"))
        if first != offset:
            raise _Interrupted(f"server resumed at byte {first}, not {offset}")
        if total is None and length is not None:
            total = offset + length
        return "ab", offset, total
    return "wb", 0, length


def _copy_body(response, handle: BinaryIO, bar: tqdm) -> int:
    """Copy the body to ``handle``; return the number of bytes copied."""
    copied = 0
    try:
        while chunk := response.read(CHUNK_BYTES):
            handle.write(chunk)
            bar.update(len(chunk))
            copied += len(chunk)
    except (OSError, http.client.HTTPException) as exc:
        raise _Interrupted(_reason(exc)) from None
    return copied


def _transfer(url: str, part: Path, *, timeout: float, progress: bool, desc: str) -> None:
    """One GET request that extends ``part`` towards the complete file.

    Raises
    ------
    _Unreachable
        No response at all (refused, DNS, timeout, HTTP error).
    _Interrupted
        The body stopped before the announced size; ``part`` keeps what came.
    """
    offset = _file_size(part)
    try:
        response = _open(url, offset, timeout)
    except urllib.error.HTTPError as exc:  # 416: the .part is stale; start over
        exc.close()
        _unlink(part)
        offset = 0
        response = _open(url, 0, timeout)
    with response:
        try:
            mode, start, total = _plan_write(response, offset)
        except _Interrupted:
            _unlink(part)  # a resume we cannot use: the next attempt starts over
            raise
        with (
            open(part, mode) as handle,
            tqdm(
                total=total,
                initial=start,
                desc=_short(desc),
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                disable=not progress,
            ) as bar,
        ):
            size = start + _copy_body(response, handle, bar)
    if total is not None and size < total:
        raise _Interrupted(f"connection closed after {size} of {total} bytes")
    if total is not None and size > total:
        _unlink(part)
        raise _Interrupted(f"received {size} bytes, {total} were announced")


def _verify_download(path: Path, sha256: str | None, url: str) -> None:
    """Check a finished download against its expected hash; delete it if bad."""
    if sha256 is None:
        return
    actual = sha256_file(path)
    if actual.lower() != sha256.lower():
        _unlink(path, path.with_name(path.name + ".part"))
        raise DownloadError(
            f"SHA-256 mismatch for {path.name} downloaded from {url}: expected {sha256}, "
            f"got {actual}; the bad file {path} was deleted, run the download again"
        )


def download_file(
    url: str,
    dest: str | os.PathLike,
    *,
    sha256: str | None = None,
    progress: bool = True,
    force: bool = False,
    timeout: float = TIMEOUT_SECONDS,
    manual_dir: str | os.PathLike | None = None,
) -> Path:
    """Download one file, resuming a previous partial download.

    Bytes go to ``dest + ".part"``; the file is renamed to ``dest`` only when
    complete. An existing ``dest`` is reused (after checking ``sha256``).

    Parameters
    ----------
    url : str
    dest : path
        Final file name.
    sha256 : str, optional
        Expected SHA-256; on mismatch the file is deleted and an error raised.
    progress : bool
        Show a tqdm progress bar (bytes).
    force : bool
        Delete ``dest`` and any ``.part`` first.
    timeout : float
        Seconds to wait for the server on connect and on each read.
    manual_dir : path, optional
        Folder named in the error message as where a manual copy should go.

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    DownloadError
        Unreachable server, a transfer that keeps failing, or a bad checksum.
    """
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if force:
        _unlink(dest, part)
    if dest.exists():
        _verify_download(dest, sha256, url)
        return dest
    _fetch_with_retries(url, part, timeout=timeout, progress=progress, manual_dir=manual_dir)
    os.replace(part, dest)
    _verify_download(dest, sha256, url)
    return dest


def _fetch_with_retries(
    url: str, part: Path, *, timeout: float, progress: bool, manual_dir
) -> None:
    """Call :func:`_transfer` until the file is complete or it keeps failing."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            _transfer(url, part, timeout=timeout, progress=progress, desc=part.name[:-5])
            return
        except _Unreachable as exc:
            where = (
                f"unpack it into {manual_dir}"
                if manual_dir is not None
                else f"save it as {part.with_suffix('')}"
            )
            raise DownloadError(
                f"cannot reach {url} ({exc}); download it by hand and {where} {_MANUAL_HINT}"
            ) from None
        except _Interrupted as exc:
            if attempt == MAX_ATTEMPTS:
                raise DownloadError(
                    f"download of {url} was interrupted {attempt} times (last: {exc}); "
                    f"{_file_size(part)} bytes are kept in {part}, run the download again "
                    "to resume"
                ) from None


# --------------------------------------------------------------------------
# Safe extraction
# --------------------------------------------------------------------------


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
            desc=f"unpack {_short(archive.name)}",
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
            desc=f"unpack {_short(archive.name)}",
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
        raise DownloadError(f"{archive} is damaged ({_reason(exc)})") from None
    return dest


# --------------------------------------------------------------------------
# Layout normalisation
# --------------------------------------------------------------------------


def _is_junk(path: Path) -> bool:
    """macOS/Windows metadata that archives drag along."""
    return path.name in JUNK_NAMES or path.name.startswith("._")


def _drop_junk(root: Path) -> None:
    """Delete ``__MACOSX``, ``.DS_Store``, ``._*`` and similar under ``root``."""
    for path in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if _is_junk(path):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)


def _hoist_single_folder(root: Path, max_levels: int = 3) -> None:
    """While ``root`` holds exactly one entry and it is a folder, move its contents up."""
    for _ in range(max_levels):
        entries = list(root.iterdir())
        if len(entries) != 1 or not entries[0].is_dir():
            return
        wrapper = entries[0].rename(root / f".hoist-{os.getpid()}")
        for child in wrapper.iterdir():
            child.rename(root / child.name)
        wrapper.rmdir()


def _merge_into(source: Path, dest: Path) -> None:
    """Move everything in ``source`` into ``dest``, merging folders."""
    dest.mkdir(parents=True, exist_ok=True)
    for child in source.iterdir():
        target = dest / child.name
        if target.is_dir() and child.is_dir():
            _merge_into(child, target)
            child.rmdir()
        elif target.exists():
            raise DownloadError(f"two archives both contain {target}; cannot merge them")
        else:
            child.rename(target)


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


def _read_marker(folder: Path) -> dict | None:
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
    marker = _read_marker(Path(folder))
    if not marker:
        return False
    recorded = {a.get("file"): a.get("sha256") for a in marker.get("archives", [])}
    for archive in source.archives:
        if archive.filename not in recorded:
            return False
        if archive.sha256 and (recorded[archive.filename] or "").lower() != archive.sha256.lower():
            return False
    return True


def _write_marker(
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


# --------------------------------------------------------------------------
# Whole-dataset download
# --------------------------------------------------------------------------


def _get_source(name: str, sources: Mapping[str, DatasetSource] | None) -> DatasetSource:
    """Look ``name`` up in ``sources`` (default :data:`SOURCES`)."""
    registry = SOURCES if sources is None else sources
    try:
        return registry[name]
    except KeyError:
        raise DownloadError(
            f"unknown dataset {name!r}; choose one of {', '.join(registry)}"
        ) from None


def _fetch_archives(
    source: DatasetSource,
    downloads: Path,
    target: Path,
    *,
    base_url,
    progress: bool,
    force: bool,
    timeout: float,
) -> list[tuple[Archive, Path]]:
    """Download (or reuse) every archive of ``source``."""
    fetched = []
    for archive in source.archives:
        url = archive_url(archive, base_url)
        path = download_file(
            url,
            downloads / archive.filename,
            sha256=archive.sha256,
            progress=progress,
            force=force,
            timeout=timeout,
            manual_dir=target,
        )
        fetched.append((archive, path))
    return fetched


def _unpack_all(fetched: list[tuple[Archive, Path]], work: Path, progress: bool) -> Path:
    """Unpack every archive into ``work/tree`` (each into its ``subdir``)."""
    tree = work / "tree"
    tree.mkdir()
    for index, (archive, path) in enumerate(fetched):
        scratch = work / f"unpack-{index}"
        try:
            extract_archive(path, scratch, progress=progress)
        except DownloadError as exc:
            _unlink(path)  # never reuse a damaged or unsafe archive
            raise DownloadError(f"{exc}; {path} was deleted") from None
        _drop_junk(scratch)
        _hoist_single_folder(scratch)
        _merge_into(scratch, tree / archive.subdir if archive.subdir else tree)
        scratch.rmdir()
    return tree


def _verify_tree(
    tree: Path, source: DatasetSource, fetched, target: Path, progress: bool
) -> SumsReport:
    """Check SHA256SUMS and the expected layout of the staged tree."""
    report = check_sha256sums(tree, progress=progress)
    names = ", ".join(path.name for _, path in fetched)
    if report.mismatched:
        _unlink(*(path for _, path in fetched))
        shown = ", ".join(report.mismatched[:3])
        raise DownloadError(
            f"{len(report.mismatched)} file(s) unpacked from {names} do not match their "
            f"SHA256SUMS (e.g. {shown}); the archive(s) were deleted, run the download again"
        )
    if not next(iter(tree.glob(source.layout_glob)), None):
        raise DownloadError(
            f"unpacked {names} but found no {source.layout_glob} in it; the archive layout "
            f"may have changed: unpack it by hand into {target} {_MANUAL_HINT}"
        )
    return report


def _install(tree: Path, target: Path, work: Path) -> None:
    """Rename the staged tree to ``target``, replacing an old copy."""
    old = None
    if target.exists():
        old = work / "old"
        os.replace(target, old)
    try:
        os.replace(tree, target)
    except OSError:
        if old is not None:
            os.replace(old, target)
        raise


def _check_replaceable(target: Path, force: bool) -> None:
    """Refuse to overwrite a folder this module did not write, unless forced."""
    if target.exists() and not force and _read_marker(target) is None:
        raise DownloadError(
            f"{target} already exists but was not written by `audiofuse data download` "
            f"(no {MARKER_NAME} marker); remove it or pass force=True (--force) to replace it"
        )


def download_dataset(
    name: str,
    dest_root: str | os.PathLike | None = None,
    *,
    base_url: str | None = None,
    progress: bool = True,
    force: bool = False,
    sources: Mapping[str, DatasetSource] | None = None,
    keep_archives: bool = False,
    timeout: float = TIMEOUT_SECONDS,
) -> Path:
    """Download, verify and unpack a dataset into ``dest_root/<folder>``.

    Parameters
    ----------
    name : {"physionet2016", "pascal"}
        Key in ``sources``.
    dest_root : path, optional
        Data directory; default :func:`audiofuse.config.data_dir`.
    base_url : str, optional
        Mirror: fetch ``base_url/<archive file name>`` instead of the
        official URL. Defaults to ``$AUDIOFUSE_DOWNLOAD_BASE_URL`` if set.
    progress : bool
        Show tqdm progress bars.
    force : bool
        Download and unpack again even if a complete copy exists, and replace
        a folder that was not written by this function.
    sources : mapping, optional
        Registry to use instead of :data:`SOURCES` (tests, mirrors with
        known hashes).
    keep_archives : bool
        Keep the archives in ``dest_root/.downloads`` after success.
    timeout : float
        Network timeout in seconds.

    Returns
    -------
    Path
        The dataset folder, e.g. ``<data>/physionet2016``.

    Raises
    ------
    DownloadError
        With a one-line message: unreachable host (naming the URL and the
        folder for a manual copy), bad checksum, unsafe archive, unexpected
        layout, or an existing folder that is not ours.
    """
    source = _get_source(name, sources)
    root = data_dir(dest_root)
    target = root / source.folder
    if not force and is_complete(target, source):
        return target
    _check_replaceable(target, force)
    root.mkdir(parents=True, exist_ok=True)
    downloads = root / DOWNLOADS_DIRNAME
    try:
        fetched = _fetch_archives(
            source,
            downloads,
            target,
            base_url=base_url,
            progress=progress,
            force=force,
            timeout=timeout,
        )
    except DownloadError:
        _remove_if_empty(downloads)  # no empty .downloads left after a failed start
        raise
    work = Path(tempfile.mkdtemp(prefix=f".{source.folder}.tmp-", dir=root))
    try:
        tree = _unpack_all(fetched, work, progress)
        report = _verify_tree(tree, source, fetched, target, progress)
        if source.expects_sha256sums and report.sums_files == 0:
            warnings.warn(
                f"no SHA256SUMS found in {source.title}; files not verified", stacklevel=2
            )
        records = [
            {
                "file": a.filename,
                "url": archive_url(a, base_url),
                "sha256": a.sha256 or sha256_file(p),
                "bytes": p.stat().st_size,
            }
            for a, p in fetched
        ]
        _write_marker(tree, source, records, report)
        _install(tree, target, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not keep_archives:
        _unlink(*(path for _, path in fetched))
        _remove_if_empty(downloads)
    return target


def _remove_if_empty(folder: Path) -> None:
    """Remove ``folder`` when it exists and is empty."""
    with contextlib.suppress(OSError):
        folder.rmdir()
