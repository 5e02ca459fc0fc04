"""Results tables with provenance: which data, profile, seeds and commit made them.

Every table written here is a CSV plus a Markdown file whose header says which
data it came from (real or synthetic), which profile, which seeds and which
git commit produced it.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pandas as pd

from audiofuse.files import write_text_atomic
from audiofuse.paths import REPO_ROOT

__all__ = [
    "git_commit",
    "keras_backend",
    "provenance",
    "write_table",
    "format_table",
]

def git_commit(repo: str | os.PathLike | None = None) -> str:
    """Current commit (short hash), with ``+dirty`` when ``src/`` has changes.

    ``AUDIOFUSE_COMMIT`` overrides it, for copies of the tree whose ``.git`` is
    missing or stale (a synced folder on a GPU machine, a Colab upload).
    """
    if os.environ.get("AUDIOFUSE_COMMIT"):
        return os.environ["AUDIOFUSE_COMMIT"]
    repo = Path(repo) if repo else REPO_ROOT
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "src"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def keras_backend() -> str:
    """The Keras backend of this process, without importing Keras where it is not loaded.

    Keras' own rule, as its ``backend/config.py`` applies it at import:
    ``KERAS_BACKEND``, else ``"backend"`` in ``$KERAS_HOME/keras.json`` (or
    ``~/.keras``, ``/tmp/.keras`` where the home folder is read-only), else
    TensorFlow. Why: a notebook that builds its tables from saved scores
    imports no Keras otherwise, and importing it takes seconds.
    """
    keras = sys.modules.get("keras")
    if keras is not None and hasattr(keras, "backend"):
        return keras.backend.backend()
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    if "KERAS_HOME" in os.environ:
        home = Path(os.environ["KERAS_HOME"])
    else:
        base = Path("~").expanduser()
        home = (base if os.access(base, os.W_OK) else Path("/tmp")) / ".keras"
    try:
        config = json.loads((home.expanduser() / "keras.json").read_text())
    except (OSError, ValueError):
        config = {}
    backend = config.get("backend") if isinstance(config, dict) else None
    return backend or "tensorflow"


def provenance(*, data: str, profile: str, seeds, **extra) -> dict:
    """What produced a result: data kind, profile, seeds, commit, machine, date."""
    return {
        "data": data,
        "profile": profile,
        "seeds": ",".join(str(s) for s in seeds),
        "commit": git_commit(),
        "backend": keras_backend(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        **extra,
    }


def format_table(table: pd.DataFrame, digits: int = 4) -> str:
    """A DataFrame as a GitHub Markdown table (no extra dependency)."""

    def cell(value):
        if isinstance(value, float):
            return "" if pd.isna(value) else f"{value:.{digits}f}"
        return str(value)

    header = "| " + " | ".join(str(c) for c in table.columns) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def write_table(
    table: pd.DataFrame,
    folder: str | os.PathLike,
    name: str,
    *,
    title: str,
    prov: dict,
    notes: str = "",
    digits: int = 4,
) -> tuple[Path, Path]:
    """Write ``name.csv`` and ``name.md`` (with a provenance header) into ``folder``.

    Files that already hold the same table (the same title, rows and notes)
    are left as they are, their provenance included: rebuilding a table from
    the same scores at another commit or on another day changes nothing, so
    ``make tables`` leaves a checkout of committed results clean. The
    provenance then names the build that first produced these numbers.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = folder / f"{name}.csv", folder / f"{name}.md"
    csv_text = "".join(f"# {k}: {v}\n" for k, v in prov.items()) + table.to_csv(index=False)
    label = (
        "SYNTHETIC data -- not a result about heart sounds"
        if prov.get("data") == "synthetic"
        else f"{prov.get('data', '?')} data"
    )
    meta = ", ".join(f"{k} `{v}`" for k, v in prov.items() if k != "data")
    md = f"### {title}\n\n**{label}**; {meta}.\n\n{format_table(table, digits)}\n"
    if notes:
        md += f"\n{notes.strip()}\n"
    if not _same_table(csv_path, csv_text, md_path, md):
        write_text_atomic(csv_path, csv_text)
        write_text_atomic(md_path, md)
    return csv_path, md_path


def _without_provenance(text: str) -> list[str]:
    """A table file's lines less its provenance: the CSV's leading ``# key: value``
    lines, the Markdown's data line (the third, after the title and a blank line)."""
    lines = text.splitlines(keepends=True)
    if lines and lines[0].startswith("### "):
        return lines[:2] + lines[3:]
    return lines[sum(1 for _ in itertools.takewhile(lambda line: line.startswith("# "), lines)) :]


def _same_table(csv_path: Path, csv_text: str, md_path: Path, md_text: str) -> bool:
    """True when both files exist and differ from the new texts in provenance only."""
    try:
        old_csv, old_md = csv_path.read_text(), md_path.read_text()
    except OSError:
        return False
    return _without_provenance(old_csv) == _without_provenance(csv_text) and (
        _without_provenance(old_md) == _without_provenance(md_text)
    )
