"""What each ``audiofuse`` subcommand does, one function per command.

Each takes the parsed arguments and returns the exit code; the parser that
routes to them is :func:`audiofuse.cli.main.build_parser`. Heavy imports
(TensorFlow, Keras, librosa) happen inside the functions, so that a command
loads only what it needs.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

__all__ = [
    "EXIT_INPUT_ERROR",
    "fail",
    "data_download",
    "data_synthetic",
    "data_index",
    "data_pack",
    "features",
    "train",
    "train_runs",
    "evaluate",
    "predict",
    "app",
    "export",
    "calibrate",
    "quality",
    "bench",
]

EXIT_INPUT_ERROR = 2


def fail(message: str, code: int = EXIT_INPUT_ERROR) -> int:
    """Print ``audiofuse: error: <message>`` on stderr and return ``code``."""
    print(f"audiofuse: error: {message}", file=sys.stderr)
    return code


# --- data --------------------------------------------------------------------------------


def data_download(args) -> int:
    from audiofuse.data.download import DownloadError, download_dataset
    from audiofuse.paths import data_dir

    try:
        path = download_dataset(
            args.dataset, data_dir(args.data_dir), force=args.force, progress=not args.quiet
        )
    except DownloadError as err:
        return fail(str(err))
    print(path)
    return 0


def data_synthetic(args) -> int:
    from audiofuse.data.synthetic import make_synthetic_datasets
    from audiofuse.paths import synthetic_dir

    out = synthetic_dir(args.out)
    paths = make_synthetic_datasets(out, size=args.size, seed=args.seed)
    print(json.dumps({k: str(v) for k, v in paths.items()}, indent=2))
    return 0


def data_index(args) -> int:
    from audiofuse.data.indexes import index_pascal, index_physionet

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = (index_physionet if args.dataset == "physionet2016" else index_pascal)(args.root)
    group = ["split", "label"] if args.dataset == "physionet2016" else ["set", "original_class"]
    print(table.groupby(group).size().rename("recordings").to_string())
    abnormal = f"{int(table['label'].sum())} abnormal"
    if args.dataset == "pascal":
        # PASCAL's abnormal side mixes murmurs, extra sounds and unusable recordings
        kinds = table.loc[table["label"] == 1, "original_class"].value_counts()
        abnormal += " (" + ", ".join(f"{n} {kind}" for kind, n in kinds.items()) + ")"
    print(
        f"total {len(table)} recordings, {abnormal}"
        + (" (SYNTHETIC)" if table.attrs.get("synthetic") else "")
    )
    for path, why in table.attrs.get("skipped", []):
        print(f"skipped {path}: {why}", file=sys.stderr)
    if args.csv:
        table.to_csv(args.csv, index=False)
    return 0


def data_pack(args) -> int:
    from audiofuse.config import get_profile
    from audiofuse.data.pack import pack_datasets

    source = Path(args.data_dir) if args.data_dir else None
    if source is None or not source.is_dir():
        return fail(f"{args.data_dir}: pass --data-dir, the folder holding physionet2016/")
    manifest = pack_datasets(
        source,
        args.out,
        get_profile(args.profile).features,
        datasets=args.datasets,
        whole_test_records=not args.first_only,
    )
    for name, info in manifest["datasets"].items():
        print(
            f"{name}: {info['files']} files ({info['whole_files']} whole), "
            f"{info['bytes'] / 1e6:.1f} MB -> {Path(args.out) / name}"
        )
    return 0


# --- features ----------------------------------------------------------------------------


def features(args) -> int:
    from audiofuse.experiments import physionet_data, setup
    from audiofuse.paths import experiment_data_dir

    ctx = setup(profile=args.profile, data_dir=experiment_data_dir(args.data_dir))
    train, test = physionet_data(ctx, windows=args.windows)
    print(
        f"{ctx.data} data, profile {ctx.profile.name}: {len(train)} train and "
        f"{len(test)} test examples cached under {ctx.cache}"
    )
    return 0


# --- train / evaluate ----------------------------------------------------------------------


def train(args) -> int:
    from audiofuse import experiments
    from audiofuse.paths import experiment_data_dir

    ctx = experiments.setup(
        profile=args.profile,
        data_dir=experiment_data_dir(args.data_dir),
        seeds=args.seeds,
        epochs=args.epochs,
        runs_dir=args.runs_dir,
        results_dir=args.results_dir,
        n_boot=args.n_boot,
    )
    specs = [s for s in experiments.PAPER_MODELS if s.kind in args.models]
    runs = experiments.run_models(ctx, specs, full_recording=not args.first_only)
    table = experiments.main_table(ctx, runs, name=args.table)
    print(table.to_string(index=False))
    print(f"\nresults in {ctx.results}, models in {ctx.runs}")
    return 0


def train_runs(args) -> int:
    from audiofuse import experiments
    from audiofuse.paths import experiment_data_dir

    summary = experiments.train_runs(
        {
            "profile": args.profile,
            "data_dir": experiment_data_dir(args.data_dir),
            "seeds": args.seeds,
            "epochs": args.epochs,
            "runs_dir": args.runs_dir,
            "head_splits": args.head_splits,
            "diagnostics": args.diagnostics,
        },
        args.tables,
        workers=args.workers,
        deadline_s=None if args.deadline_min is None else 60 * args.deadline_min,
        pascal=args.pascal,
        only=args.runs,
    )
    if len(summary):
        print(summary.to_string(index=False))
    return 1 if "error" in summary else 0


def evaluate(args) -> int:
    """Score a trained model on the PhysioNet test split (threshold from its validation)."""
    from audiofuse import evaluation, experiments
    from audiofuse.config import Profile
    from audiofuse.data.splits import TrainingError
    from audiofuse.model.training import load_trained
    from audiofuse.paths import experiment_data_dir

    try:
        model, config = load_trained(args.model)
    except TrainingError as err:
        return fail(str(err))
    profile = Profile.from_dict(config["profile"])
    data_dir = experiment_data_dir(args.data_dir)
    ctx = experiments.setup(profile=profile.name, data_dir=data_dir, n_boot=args.n_boot)
    ctx.profile = profile
    train, test = experiments.physionet_data(ctx, windows=args.full_recording)
    kind = config["kind"]
    val_records = config.get("val_records")
    if not val_records:
        return fail(f"{args.model}/config.json has no validation records; retrain the model")
    val = experiments.record_scores(model, train.select_records(val_records), kind)
    scores = experiments.record_scores(model, test, kind)
    threshold = evaluation.choose_threshold(val["label"], val["score"])
    metrics = evaluation.evaluate(scores["label"], scores["score"], threshold, n_boot=args.n_boot)
    print(
        json.dumps(
            {
                "model": str(args.model),
                "data": ctx.data,
                "evaluation": "full_recording" if args.full_recording else "first_5s",
                **metrics,
            },
            indent=2,
        )
    )
    return 0


# --- predict ----------------------------------------------------------------------------


def predict(args) -> int:
    """Score files and folders; one row per input, exit code 2 when any failed."""
    from audiofuse.predict.formats import format_csv, format_json, format_table
    from audiofuse.predict.inputs import expand_inputs
    from audiofuse.predict.predictor import PredictError, Predictor, error_row

    files, notes = expand_inputs(args.inputs)
    for note in notes:
        print(f"audiofuse: {note}", file=sys.stderr)
    if not files:
        return fail(f"{', '.join(map(str, args.inputs))}: no audio files found")
    try:
        predictor = Predictor.load(args.model)
    except PredictError as err:
        return fail(str(err))
    rows, failures, plot_names = [], 0, set()
    for path in files:
        plot_name = _unique_name(Path(path).stem, plot_names) if args.plot else None
        try:
            rows.append(
                predictor.predict_file(
                    path,
                    full_recording=not args.first_only,
                    plot_dir=args.plot,
                    plot_name=plot_name,
                )
            )
        except PredictError as err:
            failures += 1
            rows.append(error_row(path, err, predictor.source))
            print(f"audiofuse: error: {err}", file=sys.stderr)
    if args.format == "json":
        sys.stdout.write(format_json(rows))
    elif args.format == "csv":
        sys.stdout.write(format_csv(rows))
    else:
        sys.stdout.write(format_table(rows, predictor.describe()))
    return EXIT_INPUT_ERROR if failures else 0


def _unique_name(stem: str, used: set[str]) -> str:
    """``stem``, or ``stem_2``, ``stem_3``... when a walked folder repeats a name."""
    name, n = stem, 1
    while name in used:
        n += 1
        name = f"{stem}_{n}"
    used.add(name)
    return name


def app(args) -> int:
    from audiofuse.cli.app import serve

    return serve(
        args.host, args.port, max_upload_mb=args.max_upload_mb, max_seconds=args.max_seconds
    )


def export(args) -> int:
    from audiofuse.predict.onnx import export_onnx

    if not (Path(args.model) / "best.keras").exists():
        return fail(f"{args.model}: no best.keras to export")
    print(f"wrote {export_onnx(args.model)}")
    return 0


def calibrate(args) -> int:
    from audiofuse.predict.calibrate import calibrate_model

    root = Path(args.physionet)
    if not (root / "validation").is_dir():
        return fail(f"{root}: not a PhysioNet 2016 folder (no validation/)")
    report = calibrate_model(args.model, root, short_cuts=args.short_cuts)
    print(json.dumps(report, indent=2))
    return 0


def quality(args) -> int:
    from audiofuse.predict.quality_report import write_report

    root = Path(args.root)
    if not root.is_dir():
        return fail(f"{root}: folder not found")
    table = write_report(root, args.out, workers=args.workers)
    print(f"{int(table['ok'].sum())}/{len(table)} recordings pass; wrote {args.out}/quality_gate.*")
    return 0


def bench(args) -> int:
    from audiofuse.benchmark import main as bench_main

    return bench_main(args)


