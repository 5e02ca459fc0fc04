"""Write the thin experiment notebooks in notebooks/ (run: python scripts/build_notebooks.py).

The notebooks are generated so that their shared cells (parameters, the
Colab install cell, set-up) are written once, here, and stay identical. Each
notebook holds parameters, calls into ``audiofuse`` and displays, never model
or preprocessing code. They are written without outputs; papermill runs them.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
# The ONE place that names the published repository (a placeholder until it is
# published; README.md, "Notebooks (Colab)", points here). The Colab cell installs
# the package from it at REPO_REF, a tag (or commit) pinned to the package version.
REPO_SLUG = "audiofuse-companion/audiofuse"
REPO_URL = f"https://github.com/{REPO_SLUG}"
REPO_REF = "v" + tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
COLAB = f"https://colab.research.google.com/github/{REPO_SLUG}/blob/{REPO_REF}/notebooks"

PARAMETERS = """\
# Parameters (papermill overrides these; see `make reproduce`).
PROFILE = "smoke"     # smoke | cpu | paper
DATA_DIR = None       # None or "synthetic": embedded synthetic data; else a folder with physionet2016/ and pascal/
SEEDS = [0, 1, 2]
EPOCHS = None         # None: the profile's own maximum
N_BOOT = 1000         # bootstrap resamples for the 95 % CIs
HEAD_SPLITS = 20      # PASCAL head-trained protocol: stratified 85/15 splits, one head each
RESULTS_DIR = None    # None: results/ in the repository
RUNS_DIR = None       # None: runs/ in the repository (trained models, feature caches)
TRAIN = True          # False: tables from runs already trained and scored (e.g. on a GPU), no training
"""

COLAB_INSTALL = f"""\
# Colab only (elsewhere: nothing happens). Idempotent: re-running it installs nothing new.
# Installs the package from {REPO_URL} at {REPO_REF}; its requirements leave TensorFlow
# alone, so Colab's own (GPU) TensorFlow is kept. AUDIOFUSE_COLAB=1 forces this cell (tests).
import importlib.util
import os
import subprocess
import sys

IN_COLAB = "google.colab" in sys.modules or os.environ.get("AUDIOFUSE_COLAB") == "1"
if IN_COLAB:
    source = os.environ.get("AUDIOFUSE_INSTALL_FROM", "git+{REPO_URL}@{REPO_REF}")
    if importlib.util.find_spec("audiofuse") is None:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", source], check=True)
        importlib.invalidate_caches()
    # outputs go under /content (or AUDIOFUSE_COLAB_OUT) unless the parameters say otherwise
    out = os.environ.get("AUDIOFUSE_COLAB_OUT", "/content")
    RESULTS_DIR = RESULTS_DIR or f"{{out}}/results"
    RUNS_DIR = RUNS_DIR or f"{{out}}/runs"
    print(f"results -> {{RESULTS_DIR}}, runs -> {{RUNS_DIR}}")
"""

DATA = """\
# Real data in Colab: set DATA_DIR = "/content/data" (or USE_DRIVE = True to keep the
# downloads in Google Drive across sessions). A complete copy is never downloaded again.
USE_DRIVE = False
if IN_COLAB and DATA_DIR not in (None, "", "synthetic"):
    if USE_DRIVE:
        from google.colab import drive

        drive.mount("/content/drive")
        DATA_DIR = "/content/drive/MyDrive/audiofuse-data"
    for dataset in ("physionet2016", "pascal"):
        subprocess.run([sys.executable, "-m", "audiofuse.cli", "data", "download", dataset,
                        "--data-dir", DATA_DIR], check=True)
"""

SETUP = """\
import pandas as pd
from IPython.display import Image, Markdown, display

from audiofuse.model.tensorflow_env import prepare_tensorflow

prepare_tensorflow()  # before TensorFlow is imported (audiofuse.experiments imports it)
from audiofuse import experiments as ex

ctx = ex.setup(profile=PROFILE, data_dir=DATA_DIR, seeds=SEEDS, epochs=EPOCHS,
               results_dir=RESULTS_DIR, runs_dir=RUNS_DIR, n_boot=N_BOOT, train=TRAIN,
               head_splits=HEAD_SPLITS)
display(Markdown(f"**{ctx.data.upper()} data**, profile `{ctx.profile.name}`, seeds {list(ctx.seeds)}"
                 + (" -- synthetic results say nothing about heart sounds." if ctx.data == "synthetic" else "")))
"""

NOTEBOOKS = {
    "01_data_preparation": (
        "Data preparation: indexes, feature cache, and a look at a few recordings",
        "Indexes PhysioNet 2016 (the paper's split: the 301 `validation/` records are the test "
        "set) and PASCAL, caches the model inputs of the chosen profile, and shows a few "
        "recordings with their spectrograms.",
        [
            "physionet, pascal = ex.dataset_overview(ctx)\ndisplay(physionet)\ndisplay(pascal)",
            "train, test = ex.physionet_data(ctx)\n"
            "print(f'{len(train)} training and {len(test)} test examples; '\n"
            "      f'features: {train.info}')",
            "for path in ex.example_figures(ctx, n=4):\n    display(Image(str(path)))",
        ],
    ),
    "02_baselines": (
        "Baselines: the spectrogram ViT, the waveform 1-D CNN, and a classical baseline",
        "Trains the two single-branch baselines of the paper (or reuses finished runs), and "
        "adds a cheap classical row: gradient boosting on hand-crafted features of the first "
        "5 s. Thresholds come from the validation carve-out, never the test split.",
        [
            "runs = ex.run_models(ctx, ex.PAPER_MODELS[:2])\n"
            "classical = ex.run_classical(ctx)\n"
            "table = ex.main_table(ctx, runs, name='baselines', extra_rows=classical)\n"
            "display(table)",
            "for path in ex.figures(ctx, 'roc_baselines_first_5s.png'):\n"
            "    display(Image(str(path)))",
        ],
    ),
    "03_fusion": (
        "AudioFuse: late fusion of the ViT and the 1-D CNN",
        "Trains AudioFuse and writes the paper's main comparison, with the baselines (reused "
        "from notebook 02 when already trained) and the classical row. Then two diagnostics "
        "that choose nothing: what picking the epoch or the seed on the test list would have "
        "added (runs trained with `audiofuse train-runs --diagnostics`), and what each branch "
        "contributes to the fusion (its input knocked out). Last, the authors' optimisation "
        "settings beside ours, where those runs were trained.",
        [
            "runs = ex.run_models(ctx, ex.PAPER_MODELS)\n"
            "classical = ex.run_classical(ctx)\n"
            "table = ex.main_table(ctx, runs, extra_rows=classical)\n"
            "display(table)",
            "for path in ex.figures(ctx, 'roc_main_comparison_first_5s.png',\n"
            "                       'roc_main_comparison_full_recording.png',\n"
            "                       'confusion_fusion_first_5s.png'):\n"
            "    display(Image(str(path)))",
            "selection = ex.test_selection_table(ctx)  # diagnostic: chooses nothing\n"
            "display(selection)\n"
            "for path in selection.attrs['figures']:\n"
            "    display(Image(str(path)))",
            "display(ex.branch_knockout_table(ctx, runs))",
            "# the authors' optimisation (up to 200 epochs: trained apart, on a GPU, with\n"
            "# `audiofuse train-runs --tables optim`); only runs already trained are shown\n"
            "optim = ex.run_models(ctx, ex.AUTHORS_OPTIMISATION, train=False)\n"
            "display(ex.optimisation_ablation_table(ctx, pd.concat([runs, optim])))",
        ],
    ),
    "04_vit_ablation": (
        "ViT ablation: depth x heads",
        "The paper's sweep of the fusion model's ViT: 4x8, 6x8, 8x8 and 12x6, the mean of the "
        "seeds for each, with total parameter counts.",
        [
            "runs = ex.run_models(ctx, ex.VIT_SWEEP, full_recording=False)\n"
            "display(ex.vit_sweep_table(ctx, runs))",
        ],
    ),
    "05_fusion_ablation": (
        "Fusion-strategy ablation: concatenation, gated FiLM, cross-attention",
        "Same branches, three ways to join them.",
        [
            "runs = ex.run_models(ctx, ex.FUSION_ABLATION)\n"
            "display(ex.fusion_ablation_table(ctx, runs))",
        ],
    ),
    "06_cross_dataset": (
        "Cross-dataset: trained on PhysioNet 2016, tested on PASCAL",
        "Zero-shot on all labelled PASCAL recordings, and the paper's protocol: the "
        "PhysioNet-trained backbone frozen, the head trained on 85 % of PASCAL, tested on a "
        "stratified 15 %.",
        [
            "ex.run_models(ctx, ex.PAPER_MODELS)  # reuses finished runs\n"
            "display(ex.cross_dataset(ctx, ex.PAPER_MODELS))",
            "for path in ex.figures(ctx, 'roc_pascal_zero_shot.png'):\n"
            "    display(Image(str(path)))",
        ],
    ),
    "07_balance_ablation": (
        "Beyond the paper: balancing the classes within each recording subset",
        "PhysioNet's test list is class-balanced within every recording subset, but the "
        "training subsets run from 6 % to 83 % abnormal, so a model can score well on its "
        "validation carve-out by telling the subsets (sites, stethoscopes) apart. This "
        "ablation trains the paper's three models with the classes balanced within each "
        "subset, in the loss, the carve-out and early stopping, beside the paper's setting, "
        "and the classical baseline with the same loss weights. The test split is untouched.",
        [
            "runs = ex.run_models(ctx, ex.BALANCE_ABLATION)\n"
            "classical = pd.concat([ex.run_classical(ctx, balance=b) for b in ('label', 'subset')])\n"
            "display(ex.balance_ablation_table(ctx, runs, extra_rows=classical))",
        ],
    ),
    "08_plus": (
        "AudioFuse+: making the fusion earn its place (beyond the paper)",
        "Two cumulative ladders on top of the profile, one ingredient per rung: auxiliary "
        "per-branch heads (against modality imbalance: the waveform branch learns fast and "
        "leaves the ViT under-trained), then warm-up + cosine decay with an average of the "
        "weights, then augmentation (gain, noise, time shift, stethoscope-like EQ, clipping, "
        "SpecAugment, mixup). One ladder balances the classes within each recording subset, "
        "which matches the composition of PhysioNet's test list; the other keeps the paper's "
        "balance, which recordings from elsewhere are more likely to share. Each fusion row "
        "shows its ROC-AUC with each branch knocked out (its input replaced by the training "
        "mean); the single branches are trained with the kept recipe; seed ensembles are "
        "their own rows. Then PASCAL: the subset-balance start, its best rung, the kept "
        "recipe and its staged variant. Last, leave-one-subset-out: train on five PhysioNet subsets, score the sixth.",
        [
            "fusions = ex.PLUS_LADDER + ex.PLUS_LABEL_BALANCE\n"
            "runs = ex.run_models(ctx, fusions + ex.PLUS_BRANCHES)\n"
            "knockouts = ex.knockout_rows(ctx, fusions)\n"
            "ensembles = ex.ensemble_rows(ctx, runs)\n"
            "display(ex.plus_ladder_table(ctx, runs, knockouts, ensembles))",
            "# PASCAL: the subset-balance start, its best rung, the kept recipe, and staged\n"
            "display(ex.cross_dataset(ctx, ex.PLUS_PASCAL, name='plus_pascal'))",
            "# Leave-one-subset-out: each PhysioNet subset held out in turn. The classical\n"
            "# baseline for every seed; the faithful fusion, the kept recipe and its best\n"
            "# single branch for the first seed (six trainings per model)\n"
            "loso = pd.concat([ex.loso_classical(ctx), ex.loso_neural(ctx)])\n"
            "display(ex.loso_table(ctx, loso))",
        ],
    ),
    "10_robust_default": (
        "Beyond the paper: a default model that holds up on other recordings",
        "Candidates for the model `audiofuse predict` ships, each trained with short "
        "recordings in distribution (half the training clips cut to 1.5-5 s and zero-padded, "
        "as `predict` pads a short recording), some with modality dropout or the recording "
        "chain's cues taken away. They are judged by the written selection protocol "
        "(`docs/selection-protocol.md`): the validation carve-out at 5 s and 3 s, PASCAL per "
        "set without its `artifact` recordings, whether P(abnormal) follows a recording's "
        "length, and leave-one-subset-out folds without the test list. The PhysioNet test "
        "list is reported beside them and never used to choose.",
        [
            "missing = ex.robust_runs(ctx)  # trains and scores what train-runs has not\n"
            "if missing:\n"
            "    print('not trained here:', ', '.join(missing))\n"
            "display(ex.robust_default(ctx))",
            "# Model cards: the default of `audiofuse predict` (the protocol's pick, a seed\n"
            "# ensemble) and the previous default. Every recording through predict, its\n"
            "# verdicts at the model's own threshold\n"
            "display(ex.model_card(ctx))\n"
            "display(ex.model_card(ctx, 'audiofuse-plus'))",
        ],
    ),
    "09_results": (
        "Results: every table and figure",
        "Gathers the tables written by notebooks 01-08 and 10 into `results/README.md` (real data) "
        "or `results/synthetic/README.md` (synthetic data, never committed).",
        [
            "readme = ex.write_results_index(ctx)\ndisplay(Markdown(readme.read_text()))",
        ],
    ),
}


def build(name: str, title: str, intro: str, calls: list[str]) -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    badge = f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({COLAB}/{name}.ipynb)"
    parameters = new_code_cell(PARAMETERS)
    parameters.metadata["tags"] = ["parameters"]
    nb.cells = [
        new_markdown_cell(f"# {title}\n\n{badge}\n\n{intro}"),
        parameters,
        new_code_cell(COLAB_INSTALL),
        new_code_cell(DATA),
        new_code_cell(SETUP),
        *[new_code_cell(code) for code in calls],
    ]
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{name[:2]}-{i}"
    return nb


def main() -> None:
    out = ROOT / "notebooks"
    out.mkdir(exist_ok=True)
    for name, (title, intro, calls) in NOTEBOOKS.items():
        nbformat.write(build(name, title, intro, calls), out / f"{name}.ipynb")
        print(out / f"{name}.ipynb")


if __name__ == "__main__":
    main()
