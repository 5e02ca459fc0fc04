"""``python -m audiofuse.benchmark train|warm-predict ...``: the benchmark's child processes.

Each prints its result as JSON on its last line of output.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence


def worker_main(argv: Sequence[str] | None = None) -> int:
    """Parse a child's command line, run it, print its result."""
    parser = argparse.ArgumentParser(prog="python -m audiofuse.benchmark")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train a fusion on random features; its samples/s")
    train.add_argument("--profile", required=True)
    train.add_argument("--records", type=int, required=True)
    train.add_argument("--epochs", type=int, required=True)
    train.add_argument("--seed", type=int, default=0)
    warm = sub.add_parser("warm-predict", help="warm latency and throughput of a model")
    warm.add_argument("--model", required=True)
    warm.add_argument("--short", required=True, help="the file whose latency is timed")
    warm.add_argument("--long", required=True, help="the file whose throughput is timed")
    warm.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    if args.command == "train":
        from ..model.tensorflow_env import prepare_tensorflow

        prepare_tensorflow(quiet=True)  # as `audiofuse train` does, before TensorFlow loads
        from .training_speed import train_worker

        result = train_worker(args.profile, args.records, args.epochs, args.seed)
    else:
        from .inference_speed import warm_worker

        result = warm_worker(args.model, args.short, args.long, args.repeats)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(worker_main())
