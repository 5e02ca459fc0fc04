"""Score a shipped model's run on the short-recording protocol (first 3 s).

The committed scores of a run hold no weights; the shipped model of the same run
(``models/<name>/best.keras``, exported from it) does. This restores the run's
committed scores into a runs folder, puts the shipped weights beside them and saves
its ``scores_first_3s.csv``, so that the robust-default table can show the shipped
models as references.

Usage::

    python scripts/score_shipped_short_clips.py --data-dir ../shared/data \
        --runs-dir runs models/audiofuse-plus models/audiofuse-cpu
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from audiofuse.experiments.context import setup
from audiofuse.experiments.runs import short_clip_scores
from audiofuse.experiments.scores import restore_runs
from audiofuse.experiments.specs import PAPER_MODELS, PLUS_RECIPE

REFERENCES = {spec.name: spec for spec in (PAPER_MODELS[2], PLUS_RECIPE)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="shipped model folders (models/<name>)")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--runs-dir", default=None)
    parser.add_argument("--profile", default="cpu")
    args = parser.parse_args()
    ctx = setup(args.profile, data_dir=args.data_dir, runs_dir=args.runs_dir, progress=False)
    # every committed run (restoring never overwrites a run trained here)
    restore_runs(Path("results") / ctx.data / ctx.profile.name / "scores", ctx.runs)
    for folder in map(Path, args.models):
        config = json.loads((folder / "config.json").read_text())
        spec, seed = REFERENCES[config["model_name"]], int(config["seed"])
        run = ctx.run(spec, seed)
        if not run.checkpoint("best").exists():
            shutil.copy2(folder / "best.keras", run.checkpoint("best"))
        short_clip_scores(ctx, spec, seed)
        print(f"{folder}: {run.scores_path('first_3s')}")


if __name__ == "__main__":
    main()
