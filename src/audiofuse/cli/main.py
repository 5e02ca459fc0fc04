"""The ``audiofuse`` command line.

Subcommands: ``data`` (download, synthetic, index, pack), ``features``,
``train``, ``train-runs``, ``evaluate``, ``predict``, ``export``,
``calibrate``, ``app`` (a local web page), ``quality`` and ``bench``. Every one has ``--help``.

Errors in input (a missing file, a corrupt recording, an empty dataset, a
model that does not fit) print one line naming the file and exit non-zero,
never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import textwrap

from audiofuse.config import PROFILES, TRAIN_RUNS_TABLES, TRAIN_RUNS_WORKERS
from audiofuse.model.tensorflow_env import prepare_tensorflow
from audiofuse.predict.resources import default_model

from . import commands

__all__ = ["main", "build_parser"]

DEFAULT_MODEL = default_model()

PREDICT_EXAMPLES = """examples:
  audiofuse predict recording.wav                  table: label, P(abnormal), reason
  audiofuse predict recordings/                    every audio file in the folder, recursively
  audiofuse predict phone.m4a --plot figures/      M4A needs ffmpeg; writes figures/phone.png
  audiofuse predict recordings/ --format json      one object per input, failed ones included
  audiofuse predict a.flac --model models/audiofuse-cpu   another committed model

exit code: 0 when every input was scored (unsure included), 2 when any failed."""


# --- parser ------------------------------------------------------------------------------


def _add_data_dir(p) -> None:
    p.add_argument(
        "--data-dir",
        default=None,
        help="folder holding physionet2016/ and pascal/ (default: $AUDIOFUSE_DATA_DIR "
        "when set, else the synthetic data)",
    )


def _add_run_options(p, seeds: list[int]) -> None:
    """Options of every command that trains: profile, data, seeds, epochs, runs folder."""
    p.add_argument("--profile", default="smoke", choices=list(PROFILES))
    _add_data_dir(p)
    p.add_argument("--seeds", nargs="+", type=int, default=seeds)
    p.add_argument("--epochs", type=int, default=None, help="override the profile's epochs")
    p.add_argument("--runs-dir", default=None, help="where models go (default: runs/)")


def _add_data_commands(subparsers) -> None:
    """``data download``, ``data synthetic``, ``data index`` and ``data pack``."""
    data = subparsers.add_parser("data", help="download, synthesize, index or pack datasets")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    dl = data_sub.add_parser(
        "download",
        help="download a real dataset (PhysioNet: per-file SHA-256 sums shipped in its zip; "
        "PASCAL: zip CRCs only, no sums are published)",
        description="Download and unpack a dataset. Verified: zip CRCs; for PhysioNet also "
        "every file against the SHA256SUMS files inside its zip (no hash of the zip itself "
        "is published, so none is pinned); PASCAL publishes no sums. Archives that would "
        "unpack past 8 GB or outside their folder are refused.",
    )
    dl.add_argument("dataset", choices=["physionet2016", "pascal"])
    dl.add_argument("--data-dir", default=None, help="target data folder (default: data/)")
    dl.add_argument("--force", action="store_true", help="download again even if present")
    dl.add_argument("--quiet", action="store_true", help="no progress bar")
    dl.set_defaults(func=commands.data_download)
    syn = data_sub.add_parser("synthetic", help="write the synthetic PCG datasets")
    syn.add_argument("--size", choices=["smoke", "demo"], default="smoke")
    syn.add_argument("--seed", type=int, default=0)
    syn.add_argument(
        "--out", default=None, help="data folder; writes <out>/synthetic/<size>/ (default: data/)"
    )
    syn.set_defaults(func=commands.data_synthetic)
    idx = data_sub.add_parser("index", help="count the recordings of a dataset folder")
    idx.add_argument("dataset", choices=["physionet2016", "pascal"])
    idx.add_argument("root", help="the dataset's folder")
    idx.add_argument("--csv", default=None, help="also write the index as CSV")
    idx.set_defaults(func=commands.data_index)

    pack = data_sub.add_parser(
        "pack", help="compact copy holding only the audio a profile reads (for a GPU machine)"
    )
    pack.add_argument("out", help="output folder")
    pack.add_argument("--profile", default="paper", choices=list(PROFILES))
    pack.add_argument(
        "--datasets",
        nargs="+",
        default=["physionet2016", "pascal"],
        choices=["physionet2016", "pascal"],
    )
    pack.add_argument(
        "--first-only", action="store_true", help="keep only the first clip of test records too"
    )
    _add_data_dir(pack)
    pack.set_defaults(func=commands.data_pack)


def _add_features_command(subparsers) -> None:
    """``features``: compute and cache the model inputs."""
    feat = subparsers.add_parser("features", help="compute and cache the model inputs")
    feat.add_argument("--profile", default="smoke", choices=list(PROFILES))
    feat.add_argument("--windows", action="store_true", help="full-recording windows")
    _add_data_dir(feat)
    feat.set_defaults(func=commands.features)


def _add_train_commands(subparsers) -> None:
    """``train`` (one table, in this process) and ``train-runs`` (every run, in parallel)."""
    train = subparsers.add_parser("train", help="train and evaluate the paper's models")
    _add_run_options(train, seeds=[0])
    train.add_argument(
        "--models",
        nargs="+",
        default=["spectrogram", "waveform", "fusion"],
        choices=["spectrogram", "waveform", "fusion"],
    )
    train.add_argument("--first-only", action="store_true", help="skip full-recording evaluation")
    train.add_argument("--results-dir", default=None, help="where tables go (default: results/)")
    train.add_argument("--table", default="main_comparison", help="results table name")
    train.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for CIs")
    train.set_defaults(func=commands.train)

    many = subparsers.add_parser(
        "train-runs",
        help="train and score every run the tables need, several at once (for a GPU); "
        "`make reproduce` then builds the tables from the saved scores",
    )
    _add_run_options(many, seeds=[0, 1, 2])
    many.add_argument(
        "--tables",
        nargs="+",
        default=["main", "sweep", "ablation"],
        choices=TRAIN_RUNS_TABLES,
        help="tables whose runs to train; optim: the authors' optimisation settings (as a "
        "port has them; up to 200 epochs); beyond the paper: balance (the subset-balance "
        "ablation), plus (the AudioFuse+ ladder) and loso (its leave-one-subset-out folds)",
    )
    many.add_argument(
        "--runs",
        nargs="+",
        default=None,
        metavar="MODEL",
        help="train only these models' runs, by folder name (e.g. fusion-balancesubset); "
        "default: every run of the tables",
    )
    many.add_argument(
        "--workers",
        type=int,
        default=TRAIN_RUNS_WORKERS,
        help=f"runs trained at the same time, the cores split between them "
        f"(default: {TRAIN_RUNS_WORKERS}, the fastest measured on 2 CPU cores)",
    )
    many.add_argument(
        "--deadline-min",
        type=float,
        default=None,
        help="start no run that would likely end after this many minutes",
    )
    many.add_argument(
        "--pascal",
        action="store_true",
        help="also score PASCAL (the main table's runs, and the plus table's PASCAL rows)",
    )
    many.add_argument(
        "--diagnostics",
        action="store_true",
        help="also record each run's test ROC-AUC after every epoch and each fusion's "
        "branch knock-outs (diagnostics only: never used to choose an epoch or a model)",
    )
    many.add_argument(
        "--head-splits",
        type=int,
        default=20,
        help="with --pascal: head-trained splits per run (default: 20, as the notebooks)",
    )
    many.set_defaults(func=commands.train_runs)


def _add_evaluate_command(subparsers) -> None:
    """``evaluate``: score a trained model on the PhysioNet test split."""
    ev = subparsers.add_parser("evaluate", help="score a trained model on the PhysioNet test split")
    ev.add_argument("model", help="a run folder holding best.keras and config.json")
    _add_data_dir(ev)
    ev.add_argument(
        "--full-recording",
        action="store_true",
        help="average over 5 s windows covering each recording",
    )
    ev.add_argument("--n-boot", type=int, default=1000)
    ev.set_defaults(func=commands.evaluate)


def _add_predict_commands(subparsers) -> None:
    """``predict``, ``export`` (to ONNX) and ``calibrate``: the commands that use a model."""
    from audiofuse.predict.inputs import FORMATS_HELP

    pr = subparsers.add_parser(
        "predict",
        help="P(abnormal) for your own recordings (files or folders)",
        # raw formatting keeps the examples' columns; the description is wrapped here
        description=textwrap.fill(
            "Score heart-sound recordings: normal, abnormal, or unsure (the signal-quality "
            "gate failed; the reason is given), with P(abnormal) averaged over 5 s windows "
            "covering each recording. Formats: " + FORMATS_HELP + ". Any length and sample "
            "rate. A research model, not a medical device.",
            78,
        ),
        epilog=PREDICT_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    pr.add_argument(
        "inputs",
        nargs="+",
        metavar="FILE_OR_FOLDER",
        help="audio files, or folders (walked recursively for audio files, in sorted order)",
    )
    pr.add_argument(
        "--model",
        default=str(DEFAULT_MODEL),
        help="model folder: config.json with model.onnx (run by onnxruntime) and/or "
        "best.keras (run by Keras when there is no model.onnx); default: the committed "
        f"seed ensemble, models/{DEFAULT_MODEL.name}",
    )
    pr.add_argument(
        "--format",
        choices=["table", "json", "csv"],
        default="table",
        help="table: for reading, with the model and threshold in its first line; json: "
        "one object per input with the window scores; csv: one line per input. Failed "
        "inputs keep their row, with 'error' and no score (default: table)",
    )
    pr.add_argument(
        "--first-only", action="store_true", help="score only the first 5 s, as the paper does"
    )
    pr.add_argument(
        "--plot",
        metavar="DIR",
        default=None,
        help="also write DIR/<name>.png per recording: waveform, spectrogram, and "
        "P(abnormal) per window against the threshold, with the verdict",
    )
    pr.set_defaults(func=commands.predict)

    ex = subparsers.add_parser("export", help="export a model folder's best.keras to model.onnx")
    ex.add_argument("model", help="model folder (best.keras + config.json)")
    ex.set_defaults(func=commands.export)

    cal = subparsers.add_parser(
        "calibrate",
        help="fit Platt scaling and the Se=Sp threshold on a model's validation carve-out",
    )
    cal.add_argument("model", help="model folder (best.keras + config.json with val_records)")
    cal.add_argument("physionet", help="PhysioNet 2016 folder (real data)")
    cal.add_argument(
        "--short-cuts",
        action="store_true",
        help="also fit on each carve-out record cut to a random 2-5 s (a threshold that holds "
        "for short recordings too)",
    )
    cal.set_defaults(func=commands.calibrate)


def _add_app_command(subparsers) -> None:
    """``app``: the local web page."""
    from audiofuse.cli.app import (
        DEFAULT_HOST,
        DEFAULT_MAX_SECONDS,
        DEFAULT_MAX_UPLOAD_MB,
        DEFAULT_PORT,
    )

    app = subparsers.add_parser(
        "app",
        help="a local web page: upload or record a heart sound, see the verdict and the plot",
        description=textwrap.fill(
            "Serve a web page on this computer that scores a recording (upload or "
            "microphone) with a committed model and shows the verdict, P(abnormal), the "
            "unsure reason and the plot. Needs nothing beyond the core install. A research "
            "model, not a medical device.",
            78,
        ),
        epilog="example:\n  audiofuse app              then open http://127.0.0.1:8765/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    app.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on (default: {DEFAULT_HOST}, this computer only; "
        "0.0.0.0 lets other machines reach it)",
    )
    app.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default: {DEFAULT_PORT}")
    app.add_argument(
        "--max-upload-mb",
        type=float,
        default=DEFAULT_MAX_UPLOAD_MB,
        help=f"largest upload accepted (default: {DEFAULT_MAX_UPLOAD_MB:g} MB)",
    )
    app.add_argument(
        "--max-seconds",
        type=float,
        default=DEFAULT_MAX_SECONDS,
        help=f"longest recording scored (default: {DEFAULT_MAX_SECONDS:g} s)",
    )
    app.set_defaults(func=commands.app)


def _add_quality_command(subparsers) -> None:
    """``quality``: the signal-quality gate over a PhysioNet tree."""
    qa = subparsers.add_parser(
        "quality", help="run the signal-quality gate on a PhysioNet tree (results/quality_gate.*)"
    )
    qa.add_argument("root", help="folder holding training-a/ ... validation/")
    qa.add_argument("--out", default="results", help="output folder (default: results/)")
    qa.add_argument("--workers", type=int, default=2, help="processes (default: 2)")
    qa.set_defaults(func=commands.quality)


def _add_bench_command(subparsers) -> None:
    """``bench``: speed and cost measurements."""
    bench = subparsers.add_parser(
        "bench",
        help="measure features, training, inference, memory and the demo against their "
        "goals (writes results/benchmark.*; docs/performance.md reads them)",
    )
    bench.add_argument(
        "--quick",
        action="store_true",
        help="synthetic data, the smoke profile and small sizes: about a minute (tests)",
    )
    _add_data_dir(bench)
    bench.add_argument("--out", default=None, help="output folder (default: results/)")
    bench.set_defaults(func=commands.bench)


def build_parser() -> argparse.ArgumentParser:
    """The ``audiofuse`` parser; subcommands are added in the order ``--help`` lists them."""
    parser = argparse.ArgumentParser(
        prog="audiofuse",
        description="AudioFuse: heart-sound classification by ViT-spectrogram + "
        "1-D CNN-waveform late fusion.",
    )
    from audiofuse.predict.resources import package_version

    parser.add_argument("--version", action="version", version=f"audiofuse {package_version()}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_data_commands(subparsers)
    _add_features_command(subparsers)
    _add_train_commands(subparsers)
    _add_evaluate_command(subparsers)
    _add_predict_commands(subparsers)
    _add_app_command(subparsers)
    _add_quality_command(subparsers)
    _add_bench_command(subparsers)
    return parser


# matched by name so that main() imports neither training nor evaluation (TensorFlow)
_INPUT_ERRORS = {
    "AudioError",
    "DatasetError",
    "TrainingError",
    "EvaluationError",
    "FileNotFoundError",
}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``audiofuse`` command."""
    prepare_tensorflow(quiet=True)  # before any command imports TensorFlow
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except Exception as err:
        # only the project's own input errors become one line; anything else is a bug
        if type(err).__name__ in _INPUT_ERRORS:
            return commands.fail(str(err))
        raise
    except KeyboardInterrupt:
        return commands.fail("interrupted; finished work is kept and a rerun resumes", 130)


if __name__ == "__main__":
    sys.exit(main())
