"""``python -m audiofuse.benchmark.record_demo RECORD --clock FILE --seeds ... --head-splits N
--epochs N|null``:
the end of ``make demo``, which appends its wall time to the record ``make bench`` reads
(:func:`audiofuse.benchmark.recorded.add_demo_record`)."""

from __future__ import annotations

import argparse

from .recorded import DEMO_RECORD, add_demo_record


def _epochs(text: str) -> int | None:
    return None if text == "null" else int(text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m audiofuse.benchmark.record_demo")
    parser.add_argument("record", help=f"the record to append to ({DEMO_RECORD})")
    parser.add_argument("--clock", required=True, help="the start written by `make demo`")
    parser.add_argument("--seeds", nargs="+", required=True)
    parser.add_argument("--head-splits", type=int, required=True)
    parser.add_argument(
        "--epochs", type=_epochs, default=None, help="the epoch cap, or null: the profile's"
    )
    args = parser.parse_args(argv)
    try:
        record = add_demo_record(
            args.record, args.clock, args.seeds, args.head_splits, epochs=args.epochs
        )
    except (OSError, ValueError) as exc:
        parser.exit(1, f"{parser.prog}: error: {exc}\n")
    print(f"make demo: {record['wall_s'] / 60:.1f} min, recorded in {args.record}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
