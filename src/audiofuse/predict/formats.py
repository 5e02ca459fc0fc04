"""The rows of ``audiofuse predict`` as a table, CSV or JSON: one row per input.

The table and the CSV use the JSON's field names (``p_abnormal``,
``duration_s``, ``elapsed_s``, ``reason``, ``error``). An ``unsure`` row
shows no P(abnormal) in the table: the model gives a number for anything,
and a recording that failed the quality gate has no verdict (the number is
still in the JSON and CSV, for scripts).
"""

from __future__ import annotations

import csv
import io
import json

__all__ = ["CSV_FIELDS", "RESEARCH_NOTE", "format_table", "format_csv", "format_json"]

RESEARCH_NOTE = "research model, not a medical device"

CSV_FIELDS = [
    "file",
    "label",
    "p_abnormal",
    "threshold",
    "windows",
    "duration_s",
    "elapsed_s",
    "reason",
    "error",
    "model",
]


def _cell(row: dict, field: str) -> str:
    value = row.get(field)
    if value is None:
        return "-"
    if field == "p_abnormal":
        return "-" if row["label"] == "unsure" else f"{value:.3f}"
    if field in ("duration_s", "elapsed_s"):
        return f"{value:.1f}" if field == "duration_s" else f"{value:.2f}"
    return str(value)


def format_table(rows: list[dict], header: str) -> str:
    """The rows as an aligned table under a header line (the model and threshold).

    Parameters
    ----------
    rows : list of dict
        :meth:`audiofuse.predict.predictor.Predictor.predict_file` results
        and :func:`audiofuse.predict.predictor.error_row` rows.
    header : str
        :meth:`audiofuse.predict.predictor.Predictor.describe`.

    Returns
    -------
    str
        Ends with a newline.
    """
    columns = ["file", "label", "p_abnormal", "windows", "duration_s", "elapsed_s", "reason"]
    cells = [
        [_cell(r, c) if c != "reason" else (r.get("reason") or r.get("error") or "") for c in columns]
        for r in rows
    ]
    widths = [max([len(c)] + [len(line[i]) for line in cells]) for i, c in enumerate(columns)]
    numeric = {"p_abnormal", "windows", "duration_s", "elapsed_s"}

    def line(values):
        parts = [
            v.rjust(w) if c in numeric else v.ljust(w)
            for c, v, w in zip(columns, values, widths, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = [f"{header}; {RESEARCH_NOTE}", line(columns)] + [line(c) for c in cells]
    if any(r["label"] == "unsure" for r in rows):
        out.append(
            "unsure: see the reason; such a recording gets no verdict, and its P(abnormal) "
            "is left out here (--format json has it)"
        )
    return "\n".join(out) + "\n"


def format_csv(rows: list[dict]) -> str:
    """The rows as CSV with :data:`CSV_FIELDS` (window scores: use JSON)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in CSV_FIELDS})
    return buffer.getvalue()


def format_json(rows: list[dict]) -> str:
    """The rows as a JSON list, one object per input."""
    return json.dumps(rows, indent=2) + "\n"
