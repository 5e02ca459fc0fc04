"""Export a profile's three main models (one seed) to models/, as the original project
releases AudioFuse, the spectrogram ViT and the waveform CNN.

    python scripts/ship_models.py --profile paper --data-dir ../shared/data [--weights-dir OUT]

Each run must be trained and scored in ``runs/real/<profile>/`` (for the ``paper``
profile: ``scripts/gpu_paper_run.sh``, then its archive unpacked into ``runs/``).
``--weights-dir`` holds ``<kind>_seed<seed>.weights.h5`` where the runs' own
``best.keras`` did not come back (the GPU script returns only the weights: a
checkpoint with Adam's state is three times their size). Every exported model is
checked here: its test scores (first 5 s) must match the scores saved when it was
trained to within ``--tolerance``. The weights travel exactly (float32), but the runs may
come from another backend and device: XLA on a recent NVIDIA GPU computes float32
matrix products in TF32 by default, which moves the paper ViT's P(abnormal) by ~1e-3.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from audiofuse import experiments as ex
from audiofuse.experiments.runs import record_scores
from audiofuse.model.training import load_trained

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"fusion": "audiofuse", "spectrogram": "audiofuse-vit", "waveform": "audiofuse-cnn"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="paper")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weights-dir", default=None)
    parser.add_argument("--tolerance", type=float, default=5e-3)
    args = parser.parse_args(argv)
    ctx = ex.setup(args.profile, args.data_dir, seeds=[args.seed], train=False, progress=False)
    _, test = ex.physionet_data(ctx)
    worst = 0.0
    for spec in ex.PAPER_MODELS:
        weights = None
        if args.weights_dir:
            weights = Path(args.weights_dir) / f"{spec.kind}_seed{args.seed}.weights.h5"
        dest = ROOT / "models" / f"{FOLDERS[spec.kind]}-{args.profile}"
        ex.export_model(ctx, spec, args.seed, dest, weights=weights)
        saved = ctx.run(spec, args.seed).scores("first_5s")[1].set_index("record")
        ours = record_scores(load_trained(dest)[0], test, spec.kind).set_index("record")
        ours = ours.loc[saved.index, "score"]
        moved = float(np.max(np.abs(ours - saved["score"])))
        auc_here = roc_auc_score(saved["label"], ours)
        auc_saved = roc_auc_score(saved["label"], saved["score"])
        worst = max(worst, moved)
        print(
            f"{dest.relative_to(ROOT)}: largest change of P(abnormal) on the test records vs "
            f"the training run's scores {moved:.2e}; test ROC-AUC {auc_here:.4f} here, "
            f"{auc_saved:.4f} there"
        )
    if worst > args.tolerance:
        print(f"error: scores moved by {worst:.2e} > {args.tolerance}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
