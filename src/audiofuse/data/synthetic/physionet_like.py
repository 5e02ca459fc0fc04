"""A PhysioNet/CinC 2016-like folder: ``training-*`` subsets and a stratified test list."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from audiofuse.data.synthetic.conditions import (
    ABNORMAL_KINDS,
    GENERATOR_VERSION,
    NORMAL_KIND,
    PHYSIONET_STREAM,
    PLAN_STREAM,
    record_rng,
)
from audiofuse.data.synthetic.folders import atomic_folder, is_cached, write_lines, write_wav
from audiofuse.data.synthetic.recording import synthesize_pcg


def _physionet_plan(
    n_records: int, subsets: tuple[str, ...], abnormal_fraction: float, rng: np.random.Generator
) -> list[dict]:
    """Name, subset and kind of every record; abnormal kinds in equal shares."""
    n_abnormal = int(round(n_records * abnormal_fraction))
    kinds = [ABNORMAL_KINDS[i % len(ABNORMAL_KINDS)] for i in range(n_abnormal)]
    kinds += [NORMAL_KIND] * (n_records - n_abnormal)
    kinds = [kinds[i] for i in rng.permutation(n_records)]
    plan, counters = [], dict.fromkeys(subsets, 0)
    for index, kind in enumerate(kinds):
        subset = subsets[index % len(subsets)]
        counters[subset] += 1
        plan.append(
            {
                "index": index,
                "subset": subset,
                "kind": kind,
                "record": f"{subset}{counters[subset]:04d}",
            }
        )
    return plan


def _stratified_test_records(
    plan: list[dict], test_fraction: float, rng: np.random.Generator
) -> set[str]:
    """Records held out for ``validation/``: the same fraction of every
    (subset, class) group, at least one per group of two or more."""
    if test_fraction <= 0:
        return set()
    groups: dict[tuple[str, bool], list[str]] = {}
    for row in plan:
        key = (row["subset"], row["kind"] != NORMAL_KIND)
        groups.setdefault(key, []).append(row["record"])
    chosen = set()
    for key in sorted(groups):
        names = groups[key]
        if len(names) < 2:
            continue
        n_test = min(len(names) - 1, max(1, int(round(test_fraction * len(names)))))
        chosen.update(rng.choice(names, size=n_test, replace=False).tolist())
    return chosen


def write_physionet_like(
    root: str | Path,
    *,
    n_records: int = 300,
    seed: int = 0,
    abnormal_fraction: float = 0.3,
    test_fraction: float = 0.1,
    min_seconds: float = 5.0,
    max_seconds: float = 60.0,
    sample_rate: int = 2000,
    subsets: tuple[str, ...] = ("a", "b", "c"),
) -> Path:
    """Write a synthetic dataset in the PhysioNet/CinC 2016 layout.

    Layout::

        root/SYNTHETIC                  explanation + parameters (JSON)
        root/kinds.csv                  record,kind (the generator's kind)
        root/training-a/REFERENCE.csv   a0001,1  (1 abnormal, -1 normal)
        root/training-a/RECORDS         one record name a line
        root/training-a/a0001.wav       16-bit PCM, mono
        root/validation/REFERENCE.csv   the held-out (test) records
        root/validation/RECORDS

    Parameters
    ----------
    root : str or Path
        Folder to write. An existing synthetic folder written with the same
        parameters is kept as is (a cache); one written with other
        parameters is replaced. A non-synthetic folder is never touched.
    n_records : int
        Number of recordings, spread evenly over ``subsets``.
    seed : int
        Base seed; see :func:`record_rng`.
    abnormal_fraction : float
        Share of abnormal records; their kinds cycle through
        :data:`ABNORMAL_KINDS` in equal shares.
    test_fraction : float
        Share of each (subset, class) group listed in ``validation/``.
    min_seconds, max_seconds : float
        Recording lengths are uniform in this range.
    sample_rate : int
        Sample rate of the files (PhysioNet: 2000 Hz).
    subsets : tuple of str
        Subset letters: ``training-<letter>`` folders, record name prefixes.

    Returns
    -------
    Path
        ``root``.
    """
    root = Path(root)
    params = {
        "dataset": "physionet2016",
        "generator_version": GENERATOR_VERSION,
        "n_records": n_records,
        "seed": seed,
        "abnormal_fraction": abnormal_fraction,
        "test_fraction": test_fraction,
        "min_seconds": min_seconds,
        "max_seconds": max_seconds,
        "sample_rate": sample_rate,
        "subsets": list(subsets),
    }
    if is_cached(root, params):
        return root
    plan_rng = record_rng(seed, 0, PLAN_STREAM)
    plan = _physionet_plan(n_records, tuple(subsets), abnormal_fraction, plan_rng)
    test_records = _stratified_test_records(plan, test_fraction, plan_rng)

    with atomic_folder(root, params) as scratch:
        references: dict[str, list[str]] = {subset: [] for subset in subsets}
        for row in plan:
            rng = record_rng(seed, row["index"], PHYSIONET_STREAM)
            duration = rng.uniform(min_seconds, max_seconds)
            samples = synthesize_pcg(duration, sample_rate, kind=row["kind"], rng=rng)
            folder = scratch / f"training-{row['subset']}"
            folder.mkdir(exist_ok=True)
            write_wav(folder / f"{row['record']}.wav", samples, sample_rate)
            label = -1 if row["kind"] == NORMAL_KIND else 1
            references[row["subset"]].append(f"{row['record']},{label}")
        for subset, lines in references.items():
            folder = scratch / f"training-{subset}"
            folder.mkdir(exist_ok=True)
            write_lines(folder / "REFERENCE.csv", lines)
            write_lines(folder / "RECORDS", [line.split(",")[0] for line in lines])
        validation = scratch / "validation"
        validation.mkdir()
        held_out = [
            line
            for subset in subsets
            for line in references[subset]
            if line.split(",")[0] in test_records
        ]
        write_lines(validation / "REFERENCE.csv", held_out)
        write_lines(validation / "RECORDS", [line.split(",")[0] for line in held_out])
        write_lines(
            scratch / "kinds.csv",
            ["record,kind"] + [f"{row['record']},{row['kind']}" for row in plan],
        )
    return root


# PASCAL: each class becomes a generator kind; set A and B have different classes.
