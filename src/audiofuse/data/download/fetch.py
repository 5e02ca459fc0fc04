"""HTTP download with resume (``Range``), retries and an optional SHA-256 check."""

from __future__ import annotations

import http.client
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import BinaryIO

from tqdm import tqdm

from audiofuse.data.download.common import (
    CHUNK_BYTES,
    MANUAL_HINT,
    MAX_ATTEMPTS,
    TIMEOUT_SECONDS,
    USER_AGENT,
    DownloadError,
    failure_reason,
    remove_quietly,
    sha256_file,
    short_label,
    size_of,
)

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
        raise _Unreachable(failure_reason(exc)) from None


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
        raise _Interrupted(failure_reason(exc)) from None
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
    offset = size_of(part)
    try:
        response = _open(url, offset, timeout)
    except urllib.error.HTTPError as exc:  # 416: the .part is stale; start over
        exc.close()
        remove_quietly(part)
        offset = 0
        response = _open(url, 0, timeout)
    with response:
        try:
            mode, start, total = _plan_write(response, offset)
        except _Interrupted:
            remove_quietly(part)  # a resume we cannot use: the next attempt starts over
            raise
        with (
            open(part, mode) as handle,
            tqdm(
                total=total,
                initial=start,
                desc=short_label(desc),
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
        remove_quietly(part)
        raise _Interrupted(f"received {size} bytes, {total} were announced")


def _verify_download(path: Path, sha256: str | None, url: str) -> None:
    """Check a finished download against its expected hash; delete it if bad."""
    if sha256 is None:
        return
    actual = sha256_file(path)
    if actual.lower() != sha256.lower():
        remove_quietly(path, path.with_name(path.name + ".part"))
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
        remove_quietly(dest, part)
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
                f"cannot reach {url} ({exc}); download it by hand and {where} {MANUAL_HINT}"
            ) from None
        except _Interrupted as exc:
            if attempt == MAX_ATTEMPTS:
                raise DownloadError(
                    f"download of {url} was interrupted {attempt} times (last: {exc}); "
                    f"{size_of(part)} bytes are kept in {part}, run the download again "
                    "to resume"
                ) from None
