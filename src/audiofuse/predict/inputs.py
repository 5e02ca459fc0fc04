"""What ``audiofuse predict`` accepts: files, folders, and anything ffmpeg decodes.

Folders are walked recursively for audio files (by extension, in sorted
order). A file is read with libsndfile (WAV, FLAC, OGG/Vorbis, Opus, MP3,
AIFF, ...); when libsndfile cannot read it and ``ffmpeg`` is on ``PATH``,
ffmpeg decodes it (M4A/AAC, the usual phone format, WebM, WMA, ...) into a
temporary mono float WAV at its own sample rate, which is then read the same
way. Without ffmpeg, the error names the ffmpeg command that converts it.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = [
    "SNDFILE_SUFFIXES",
    "FFMPEG_SUFFIXES",
    "AUDIO_SUFFIXES",
    "FORMATS_HELP",
    "expand_inputs",
    "ffmpeg_available",
    "ffmpeg_decoded",
    "conversion_hint",
]

SNDFILE_SUFFIXES = frozenset(
    {".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc",
     ".au", ".snd", ".caf", ".w64", ".rf64"}
)
"""Extensions of the formats libsndfile reads (its build in the ``soundfile`` wheel)."""
FFMPEG_SUFFIXES = frozenset(
    {".m4a", ".aac", ".mp4", ".3gp", ".amr", ".wma", ".webm", ".mka", ".mkv", ".mov", ".wv",
     ".ape", ".ac3"}
)
"""Extensions of common formats that only ffmpeg decodes (phones: M4A/AAC, 3GP, AMR)."""
AUDIO_SUFFIXES = SNDFILE_SUFFIXES | FFMPEG_SUFFIXES
"""What a folder walk picks up."""

FORMATS_HELP = (
    "WAV, FLAC, OGG/Opus, MP3, AIFF (and anything else libsndfile reads); with ffmpeg on "
    "PATH also M4A/AAC, 3GP, AMR, WebM, WMA (anything ffmpeg decodes)"
)

FFMPEG_TIMEOUT_S = 600
"""Longest an ffmpeg decode may take (a 2 h M4A decodes in well under a minute)."""


def expand_inputs(paths) -> tuple[list[str], list[str]]:
    """The files to score: ``paths`` with every folder replaced by its audio files.

    Parameters
    ----------
    paths : iterable of str or Path
        Files and folders, as given on the command line. Files are kept
        whatever their extension (an unreadable one then gets its own error).

    Returns
    -------
    files : list of str
        In the order given; a folder's files sorted by path.
    notes : list of str
        One line per folder: how many audio files it held.
    """
    files, notes = [], []
    for given in paths:
        path = Path(given)
        if not path.is_dir():
            files.append(str(given))
            continue
        found = sorted(
            p for p in path.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file()
        )
        files.extend(str(p) for p in found)
        notes.append(
            f"{given}: {len(found)} audio file{'s' if len(found) != 1 else ''} "
            f"({', '.join(sorted({p.suffix.lower() for p in found})) or 'none'})"
        )
    return files, notes


def ffmpeg_available() -> bool:
    """Whether an ``ffmpeg`` executable is on ``PATH``."""
    return shutil.which("ffmpeg") is not None


def conversion_hint(path: str | os.PathLike) -> str:
    """The ffmpeg command that converts ``path`` to a WAV beside it."""
    path = Path(path)
    return f"ffmpeg -i {shlex.quote(str(path))} {shlex.quote(str(path.with_suffix('.wav')))}"


@contextlib.contextmanager
def ffmpeg_decoded(path: str | os.PathLike):
    """Decode ``path`` with ffmpeg to a temporary mono float WAV at its own rate.

    The WAV keeps the native rate so that the clipping and truncation checks
    and the resampling are the same as for a file libsndfile reads.

    Yields
    ------
    Path
        The temporary WAV (removed on exit).

    Raises
    ------
    ValueError
        ffmpeg could not decode it; the message is ffmpeg's last line.
    """
    with tempfile.TemporaryDirectory(prefix="audiofuse-ffmpeg-") as tmp:
        out = Path(tmp) / "decoded.wav"
        command = [
            "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-i", str(path),
            "-vn", "-ac", "1", "-c:a", "pcm_f32le", "-f", "wav", "-rf64", "auto", str(out),
        ]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=FFMPEG_TIMEOUT_S, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            raise ValueError(f"ffmpeg failed ({type(err).__name__})") from None
        if done.returncode != 0 or not out.exists() or out.stat().st_size == 0:
            lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
            reason = lines[-1] if lines else f"exit code {done.returncode}"
            # ffmpeg's messages start with the input's path: name it once, in the caller
            raise ValueError(f"ffmpeg: {reason.replace(str(path) + ': ', '')}")
        yield out
