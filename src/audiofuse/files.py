"""Small files written and read safely: atomic writes, JSON objects with one-line errors.

Shared by every layer (run folders, model cards, tables, reports).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

__all__ = ["read_json_object", "write_text_atomic"]


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` via a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return path


def read_json_object(path: str | os.PathLike) -> dict:
    """The JSON object in ``path`` (a run's or model's ``config.json``).

    Raises
    ------
    ValueError
        One line naming the file when it is unreadable, not JSON, or not an object.
    """
    path = Path(path)
    try:
        payload = json.loads(path.read_text())
    except OSError as exc:
        raise ValueError(f"{path}: cannot read ({exc.strerror or type(exc).__name__})") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: invalid JSON ({exc})") from None
    if not isinstance(payload, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return payload
