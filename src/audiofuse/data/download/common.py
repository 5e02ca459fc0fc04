"""Shared pieces of the downloader: constants, the error type, small file helpers."""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from audiofuse.data.download.sources import Archive

BASE_URL_ENV = "AUDIOFUSE_DOWNLOAD_BASE_URL"
MARKER_NAME = ".complete"
DOWNLOADS_DIRNAME = ".downloads"
TIMEOUT_SECONDS = 30.0
MAX_ATTEMPTS = 5
CHUNK_BYTES = 256 * 1024
USER_AGENT = "audiofuse-download/0.1 (Python urllib)"
SUMS_FILENAMES = ("SHA256SUMS", "SHA256SUMS.txt")
JUNK_NAMES = frozenset({"__MACOSX", ".DS_Store", "Thumbs.db", "desktop.ini"})
MANUAL_HINT = '(see docs/reproducing.md, "Real data")'


class DownloadError(RuntimeError):
    """A dataset could not be downloaded, verified or unpacked.

    The message is always a single line that says what went wrong and, where
    it helps, which URL, file and folder are involved and what to do next.
    """

    def __init__(self, message: str):
        super().__init__(_one_line(message))


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------


def _one_line(text: str) -> str:
    """Collapse all whitespace (newlines included) to single spaces."""
    return " ".join(str(text).split())


def failure_reason(exc: BaseException) -> str:
    """Short, one-line description of a network or I/O failure."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        inner = exc.reason
        return failure_reason(inner) if isinstance(inner, BaseException) else _one_line(str(inner))
    if isinstance(exc, TimeoutError):
        return "timed out"
    return _one_line(str(exc)) or type(exc).__name__


def short_label(name: str, width: int = 40) -> str:
    """``name`` shortened to ``width`` characters for progress-bar labels."""
    if len(name) <= width:
        return name
    half = (width - 3) // 2
    return f"{name[:half]}...{name[-half:]}"


def size_of(path: Path) -> int:
    """Size of ``path`` in bytes, 0 when it does not exist."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def remove_quietly(*paths: Path) -> None:
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
