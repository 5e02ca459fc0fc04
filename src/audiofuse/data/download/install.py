"""The whole-dataset recipe: fetch every archive, unpack, verify, install atomically."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path

from audiofuse.data.download.archives import (
    drop_junk,
    extract_archive,
    hoist_single_folder,
    merge_into,
)
from audiofuse.data.download.common import (
    DOWNLOADS_DIRNAME,
    MANUAL_HINT,
    MARKER_NAME,
    TIMEOUT_SECONDS,
    DownloadError,
    archive_url,
    remove_quietly,
    sha256_file,
)
from audiofuse.data.download.fetch import download_file
from audiofuse.data.download.sources import SOURCES, Archive, DatasetSource
from audiofuse.data.download.verify import (
    SumsReport,
    check_sha256sums,
    is_complete,
    read_marker,
    write_marker,
)
from audiofuse.paths import data_dir

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
            remove_quietly(path)  # never reuse a damaged or unsafe archive
            raise DownloadError(f"{exc}; {path} was deleted") from None
        drop_junk(scratch)
        hoist_single_folder(scratch)
        merge_into(scratch, tree / archive.subdir if archive.subdir else tree)
        scratch.rmdir()
    return tree


def _verify_tree(
    tree: Path, source: DatasetSource, fetched, target: Path, progress: bool
) -> SumsReport:
    """Check SHA256SUMS and the expected layout of the staged tree."""
    report = check_sha256sums(tree, progress=progress)
    names = ", ".join(path.name for _, path in fetched)
    if report.mismatched:
        remove_quietly(*(path for _, path in fetched))
        shown = ", ".join(report.mismatched[:3])
        raise DownloadError(
            f"{len(report.mismatched)} file(s) unpacked from {names} do not match their "
            f"SHA256SUMS (e.g. {shown}); the archive(s) were deleted, run the download again"
        )
    if not next(iter(tree.glob(source.layout_glob)), None):
        raise DownloadError(
            f"unpacked {names} but found no {source.layout_glob} in it; the archive layout "
            f"may have changed: unpack it by hand into {target} {MANUAL_HINT}"
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
    if target.exists() and not force and read_marker(target) is None:
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
        write_marker(tree, source, records, report)
        _install(tree, target, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not keep_archives:
        remove_quietly(*(path for _, path in fetched))
        _remove_if_empty(downloads)
    return target


def _remove_if_empty(folder: Path) -> None:
    """Remove ``folder`` when it exists and is empty."""
    with contextlib.suppress(OSError):
        folder.rmdir()
