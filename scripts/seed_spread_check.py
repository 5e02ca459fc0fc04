"""Does a retrained table stay within the seed spread of the committed one?

For a change that must not move quality (issue 12: a faster training path).
Reads two per-seed CSVs (``<table>_per_seed.csv``: one row per run), writes
``seed_spread.csv`` and ``seed_spread.md`` into ``OUT`` (see
:func:`audiofuse.evaluation.within_seed_spread`)::

    python scripts/seed_spread_check.py \\
        results/real/cpu/main_comparison_per_seed.csv RETRAINED/main_comparison_per_seed.csv \\
        results/real/cpu/checks/onednn --why "oneDNN on (TF_ENABLE_ONEDNN_OPTS=1)"
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from audiofuse.evaluation import within_seed_spread
from audiofuse.reporting.provenance import write_table

NEURAL = ("fusion", "spectrogram", "waveform")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", help="the committed per-seed CSV")
    parser.add_argument("retrained", help="the retrained per-seed CSV")
    parser.add_argument("out", help="folder for seed_spread.csv and seed_spread.md")
    parser.add_argument("--why", default="", help="what changed between the two")
    args = parser.parse_args(argv)
    try:
        tables = [pd.read_csv(path, comment="#") for path in (args.reference, args.retrained)]
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    reference, retrained = (t[t["kind"].isin(NEURAL)] for t in tables)
    check = within_seed_spread(reference, retrained)
    commits = sorted(set(retrained["train_commit"].astype(str)))
    prov = {
        "data": "real",
        "profile": "cpu",
        "seeds": ",".join(str(s) for s in sorted(set(retrained["seed"]))),
        "retrained_at": ",".join(commits),
        "reference": args.reference,
        "retrained": args.retrained,
    }
    notes = (
        f"Test ROC-AUC (301 records) of the retrained runs{f' ({args.why})' if args.why else ''} "
        "against the committed ones, mean over seeds. `within_range`: the retrained mean lies "
        "between the committed table's lowest and highest seed; `within_1sd`: within one sd "
        "of its mean."
    )
    write_table(check, args.out, "seed_spread", title="Seed-spread check", prov=prov, notes=notes)
    print(check.to_string(index=False))
    return 0 if check["within_range"].all() else 1


if __name__ == "__main__":
    sys.exit(main())
