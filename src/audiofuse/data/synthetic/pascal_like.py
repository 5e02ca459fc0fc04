"""A PASCAL-like folder (Kaggle "heartbeat-sounds"): sets A and B, their CSV files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from audiofuse.data.synthetic.conditions import (
    ARTIFACT_CONDITIONS,
    GENERATOR_VERSION,
    KINDS,
    NORMAL_KIND,
    PASCAL_A_CONDITIONS,
    PASCAL_B_CONDITIONS,
    PASCAL_STREAM,
    PLAN_STREAM,
    record_rng,
)
from audiofuse.data.synthetic.folders import atomic_folder, is_cached, write_lines, write_wav
from audiofuse.data.synthetic.recording import synthesize_pcg

_PASCAL_SETS = {
    "a": {
        "sample_rate": 44100,
        "conditions": PASCAL_A_CONDITIONS,
        "classes": {"normal": 0.25, "murmur": 0.27, "extrahls": 0.16, "artifact": 0.32},
    },
    "b": {
        "sample_rate": 4000,
        "conditions": PASCAL_B_CONDITIONS,
        "classes": {"normal": 0.69, "murmur": 0.21, "extrastole": 0.10},
    },
}
_PASCAL_KINDS = {
    "normal": (NORMAL_KIND,),
    "murmur": ("systolic_murmur", "systolic_murmur", "systolic_murmur", "diastolic_murmur"),
    "extrahls": ("gallop", "split_s2"),
    "extrastole": ("premature_beat",),
    "artifact": (NORMAL_KIND,),  # recorded under ARTIFACT_CONDITIONS
}


def _pascal_plan(
    n_records: int, n_unlabelled: int, set_a_fraction: float, rng: np.random.Generator
) -> list[dict]:
    """Set, class, kind and file stem of every PASCAL-like recording."""
    n_a = int(round(n_records * set_a_fraction))
    plan = []
    for set_name, n_labelled in (("a", n_a), ("b", n_records - n_a)):
        classes = _PASCAL_SETS[set_name]["classes"]
        shares = np.array(list(classes.values()))
        counts = np.floor(shares * n_labelled).astype(int)
        # hand the rounding remainder to the largest shares first
        for i in np.argsort(-shares)[: n_labelled - counts.sum()]:
            counts[i] += 1
        labels = [c for c, k in zip(classes, counts, strict=True) for _ in range(k)]
        n_unlab = n_unlabelled // 2 + (n_unlabelled % 2 if set_name == "b" else 0)
        labels += [None] * n_unlab
        ids = _pascal_ids(set_name, len(labels), rng)
        for label, record_id in zip(labels, ids, strict=True):
            # unlabelled recordings are of any kind, as the real test files are
            kind = str(rng.choice(KINDS if label is None else _PASCAL_KINDS[label]))
            noisy = set_name == "b" and label in ("normal", "murmur") and rng.random() < 0.2
            plan.append(
                {
                    "set": set_name,
                    "class": label,
                    "kind": kind,
                    "noisy": noisy,
                    "stem": _pascal_stem(set_name, label, record_id, noisy),
                }
            )
    for index, row in enumerate(plan):
        row["index"] = index
    return plan


def _pascal_ids(set_name: str, n: int, rng: np.random.Generator) -> list[str]:
    """Distinct ids in the style of the real files.

    Set A: a timestamp ``YYYYMMDDhhmm`` (2010-11 to 2011-11); set B: a
    patient number, a millisecond Unix time (May-July 2011) and a chest
    position.
    """
    span_days = 365 if set_name == "a" else 60
    minutes = np.sort(rng.choice(span_days * 24 * 60, size=n, replace=False))
    if set_name == "a":
        stamps = np.datetime64("2010-11-01T00:00") + minutes.astype("timedelta64[m]")
        return [str(s).replace("-", "").replace("T", "").replace(":", "") for s in stamps]
    millis = 1_305_000_000_000 + minutes.astype(np.int64) * 60_000 + rng.integers(0, 60_000, n)
    patients = rng.integers(101, 300, n)
    positions = rng.choice(["A", "B", "C", "D", "C1", "C2"], size=n)
    return [f"{p}_{m}_{pos}" for p, m, pos in zip(patients, millis, positions, strict=True)]


def _pascal_stem(set_name: str, label: str | None, record_id: str, noisy: bool) -> str:
    if label is None:
        return f"{set_name.upper()}unlabelledtest__{record_id}"
    if noisy:
        return f"{label}_noisy{label}_{record_id}"
    return f"{label}__{record_id}"


def _kaggle_csv_row(row: dict) -> str:
    """A line of Kaggle's set_a.csv / set_b.csv, quirks included.

    In set_b.csv the names are ``Btraining_<class>_<id>.wav``, which do not
    match the files (``<class>__<id>.wav``), as in the real Kaggle release.
    """
    stem, set_name = row["stem"], row["set"]
    label = row["class"] or ""
    sublabel = f"noisy{label}" if row["noisy"] else ""
    if set_name == "b" and label:
        record_id = stem.split("__", 1)[-1] if "__" in stem else stem.split("_", 2)[-1]
        stem = f"Btraining_{sublabel or label}_{record_id}"
    return f"{set_name},set_{set_name}/{stem}.wav,{label},{sublabel}"


def write_pascal_like(
    root: str | Path,
    *,
    n_records: int = 100,
    seed: int = 1,
    n_unlabelled: int | None = None,
    set_a_fraction: float = 0.3,
    min_seconds: float = 2.0,
    max_seconds: float = 15.0,
) -> Path:
    """Write a synthetic dataset in Kaggle's PASCAL layout.

    Layout::

        root/SYNTHETIC, root/kinds.csv (record,kind)
        root/set_a.csv, root/set_b.csv  dataset,fname,label,sublabel
        root/set_a/normal__201102081321.wav       44100 Hz (iStethoscope)
        root/set_a/Aunlabelledtest__201012172010.wav
        root/set_b/murmur__112_1306243000964_A.wav  4000 Hz (DigiScope)
        root/set_b/normal_noisynormal_101_1305030823364_B.wav

    Set A has ``normal``, ``murmur``, ``extrahls`` and ``artifact``; set B
    ``normal``, ``murmur`` and ``extrastole``, in about the real proportions.
    Classes map to generator kinds: murmur -> a (mostly systolic) murmur,
    extrahls -> ``gallop`` or ``split_s2``, extrastole -> ``premature_beat``,
    artifact -> heart sounds buried in noise and clicks
    (:data:`ARTIFACT_CONDITIONS`). Against the PhysioNet-like set this is a
    domain shift: other sample rates and sensor responses, more noise,
    shorter recordings.

    Parameters
    ----------
    root : str or Path
        Folder to write; cached and protected as in
        :func:`write_physionet_like`.
    n_records : int
        Number of labelled recordings (both sets).
    seed : int
        Base seed; see :func:`record_rng`.
    n_unlabelled : int, optional
        ``*unlabelledtest*`` files to add (which the index skips); default
        10 % of ``n_records``, at least 2.
    set_a_fraction : float
        Share of the labelled recordings in set A (real data: ~0.28).
    min_seconds, max_seconds : float
        Recording lengths are uniform in this range.

    Returns
    -------
    Path
        ``root``.
    """
    root = Path(root)
    if n_unlabelled is None:
        n_unlabelled = max(2, n_records // 10)
    params = {
        "dataset": "pascal",
        "generator_version": GENERATOR_VERSION,
        "n_records": n_records,
        "seed": seed,
        "n_unlabelled": n_unlabelled,
        "set_a_fraction": set_a_fraction,
        "min_seconds": min_seconds,
        "max_seconds": max_seconds,
    }
    if is_cached(root, params):
        return root
    plan = _pascal_plan(n_records, n_unlabelled, set_a_fraction, record_rng(seed, 0, PLAN_STREAM))
    with atomic_folder(root, params) as scratch:
        for row in plan:
            settings = _PASCAL_SETS[row["set"]]
            conditions = settings["conditions"]
            if row["class"] == "artifact":
                conditions = ARTIFACT_CONDITIONS
            elif row["noisy"]:
                conditions = conditions.replace(snr_db=(-3.0, 6.0))
            rng = record_rng(seed, row["index"], PASCAL_STREAM)
            duration = rng.uniform(min_seconds, max_seconds)
            samples = synthesize_pcg(
                duration, settings["sample_rate"], kind=row["kind"], rng=rng, conditions=conditions
            )
            folder = scratch / f"set_{row['set']}"
            folder.mkdir(exist_ok=True)
            write_wav(folder / f"{row['stem']}.wav", samples, settings["sample_rate"])
        for set_name in ("a", "b"):
            rows = [_kaggle_csv_row(row) for row in plan if row["set"] == set_name]
            write_lines(scratch / f"set_{set_name}.csv", ["dataset,fname,label,sublabel"] + rows)
        kinds = [
            f"{row['stem']},{'artifact' if row['class'] == 'artifact' else row['kind']}"
            for row in plan
        ]
        write_lines(scratch / "kinds.csv", ["record,kind"] + kinds)
    return root
