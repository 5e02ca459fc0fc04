"""Download, verify and unpack the public heart-sound datasets.

Two datasets are known (see :data:`SOURCES`):

``physionet2016``
    The PhysioNet/CinC Challenge 2016 zip, unpacked so that
    ``<data>/physionet2016/training-a`` ... ``training-f`` and
    ``validation/`` exist (the layout :func:`audiofuse.data.indexes.index_physionet`
    reads). PhysioNet publishes no checksum of the zip itself; instead every
    ``SHA256SUMS``/``SHA256SUMS.txt`` found in the unpacked tree is checked.
``pascal``
    The labelled archives of the PASCAL Classifying Heart Sounds Challenge
    (``Atraining_normal.zip`` ...), each unpacked into its own folder
    (``<data>/pascal/Atraining_normal/`` ...), the layout
    :func:`audiofuse.data.indexes.index_pascal` reads. The Kaggle copy
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

Only the standard library and :mod:`tqdm` are used. Modules: :mod:`.sources`
(the registry), :mod:`.fetch` (HTTP with resume), :mod:`.archives` (safe
unpacking), :mod:`.verify` (sums and marker), :mod:`.dataset` (the recipe),
:mod:`.common` (constants, errors, helpers).
"""

from __future__ import annotations

from audiofuse.data.download.archives import MAX_UNPACKED_BYTES, extract_archive
from audiofuse.data.download.common import (
    BASE_URL_ENV,
    DOWNLOADS_DIRNAME,
    MARKER_NAME,
    TIMEOUT_SECONDS,
    DownloadError,
    archive_url,
    sha256_file,
)
from audiofuse.data.download.fetch import download_file
from audiofuse.data.download.install import download_dataset
from audiofuse.data.download.sources import SOURCES, Archive, DatasetSource
from audiofuse.data.download.verify import SumsReport, check_sha256sums, is_complete

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
