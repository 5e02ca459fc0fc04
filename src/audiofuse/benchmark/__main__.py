"""``python -m audiofuse.benchmark single-core ...``: the pinned one-core latency child."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from .. import config as _config
from .harness import MODEL_KINDS, import_tensorflow
from .single_core import single_core_latency


def worker_main(argv: Sequence[str] | None = None) -> int:
    """Parse ``single-core --profile P --kind K --repeats N`` and print the result as JSON."""
    parser = argparse.ArgumentParser(prog="python -m audiofuse.benchmark")
    sub = parser.add_subparsers(dest="command", required=True)
    single = sub.add_parser("single-core", help="latency of one 5 s recording (run it pinned)")
    single.add_argument("--profile", default="cpu", choices=list(_config.PROFILES))
    single.add_argument("--kind", default="fusion", choices=list(MODEL_KINDS))
    single.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    import_tensorflow()
    print(json.dumps(single_core_latency(args.profile, args.kind, args.repeats)))
    return 0


if __name__ == "__main__":
    sys.exit(worker_main())
