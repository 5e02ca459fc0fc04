"""Ship every trained robust-default candidate as an ONNX model folder.

Each finished run of :data:`audiofuse.experiments.specs.ROBUST_CANDIDATES` (every seed
found) becomes ``models/candidates/<name>-seed<k>/`` with ``config.json`` (the run's
configuration, its threshold and the protocol's measures) and ``model.onnx``, without
``best.keras``, so that each folder stays small. A finalist with three or more
seeds also gets ``<name>-ensemble/``: the seed ensemble, one ONNX graph. ``audiofuse predict --model`` runs any of
them, and any ranking of the candidates can be re-checked on recordings the project
does not hold.

The threshold is the selection protocol's: Youden's J on the run's validation
carve-out scored at full clip length and cut to its first 3 s, pooled
(:func:`audiofuse.experiments.tables.robust.travelling_threshold`).

Usage (the second command gives each folder the domain-shift flag's statistics)::

    python scripts/ship_candidates.py --data-dir ../shared/data --runs-dir runs
    python scripts/domain_shift.py --data-dir ../shared/data --ship models/candidates/*
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from audiofuse.model.tensorflow_env import prepare_tensorflow

prepare_tensorflow(quiet=True)

from audiofuse.data.indexes import index_pascal  # noqa: E402
from audiofuse.experiments.context import setup  # noqa: E402
from audiofuse.experiments.export import export_ensemble, export_model  # noqa: E402
from audiofuse.experiments.runs import SHORT_CLIP  # noqa: E402
from audiofuse.experiments.specs import ROBUST_CANDIDATES, ROBUST_FINALISTS  # noqa: E402
from audiofuse.experiments.tables.robust import robust_run_row  # noqa: E402
from audiofuse.predict.onnx import export_onnx  # noqa: E402
from audiofuse.predict.predictor import write_model_card  # noqa: E402

#: Folder names, in the order of the candidates' table.
NAMES = ("faithful-short", "plus-short", "plus-short-moddrop", "plus-cues-moddrop", "cnn-short")
MEASURES = (
    "carve_out_auc",
    "pascal_a_auc",
    "pascal_b_auc",
    "pascal_auc",
    "pascal_b_length_rho",
    "test_5s_auc",
    "test_3s_auc",
    "test_full_auc",
    "test_full_sensitivity",
    "test_full_specificity",
    "test_full_macc",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--runs-dir", default=None)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--out", default="models/candidates")
    args = parser.parse_args()
    ctx = setup(args.profile, data_dir=args.data_dir, runs_dir=args.runs_dir, seeds=args.seeds)
    pascal = index_pascal(ctx.pascal_root)
    for name, spec in zip(NAMES, ROBUST_CANDIDATES, strict=True):
        shipped = []
        for seed in ctx.seeds:
            run = ctx.run(spec, seed)
            if not (run.checkpoint("best").exists() and run.scores_path(SHORT_CLIP).exists()):
                continue
            row = robust_run_row(ctx, spec, seed, pascal)
            if row is None:
                continue
            dest = Path(args.out) / f"{name}-seed{seed}"
            export_model(ctx, spec, seed, dest)
            export_onnx(dest)
            (dest / "best.keras").unlink()
            write_model_card(
                dest,
                {
                    "exported_from": f"runs/{ctx.data}/{ctx.profile.name}/{run.path.parent.name}/"
                    f"seed{seed}",
                    "threshold": round(float(row["threshold"]), 6),
                    "threshold_rule": "Youden's J on the carve-out at first 5 s and first 3 s, pooled",
                    "selection_stage": "finalist" if spec in ROBUST_FINALISTS else "screened out",
                    "protocol_measures": {k: round(float(row[k]), 4) for k in MEASURES},
                },
            )
            shipped.append(seed)
            _report(dest)
        if spec in ROBUST_FINALISTS and len(shipped) >= 3:
            dest = export_ensemble(ctx, spec, shipped, Path(args.out) / f"{name}-ensemble")
            export_onnx(dest)
            (dest / "best.keras").unlink()
            _report(dest)


def _report(dest: Path) -> None:
    size = sum(p.stat().st_size for p in dest.iterdir()) / 1e6
    threshold = json.loads((dest / "config.json").read_text())["threshold"]
    print(f"{dest}: {size:.2f} MB, threshold {threshold:.3f}")


if __name__ == "__main__":
    main()
