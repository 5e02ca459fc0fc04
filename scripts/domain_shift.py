"""Does a descriptor-based domain-shift flag separate other sources from the test list?

Every recording is read as ``audiofuse predict`` reads it (the ``cpu``
profile: resampled to 2 kHz in blocks, the clipped share measured on the
native samples), described by :func:`audiofuse.predict.domain.describe_recording`,
and scored by the Mahalanobis distance of :func:`audiofuse.predict.domain.fit_domain_model`.

Fitting uses only PhysioNet records that are not on the official test list
(split ``train``): a random 80 % fits the statistics, and the remaining 20 %
set the threshold (its 97.5th percentile of distances). The test list never
sets anything. Reported:

- the share of the 301 test-list records flagged (goal: at most 10 %);
- ROC-AUC of the distance separating PASCAL set A and set B from the test list,
  and the share of each set flagged;
- leave one subset out: refit (and re-threshold) without PhysioNet subset s,
  then ROC-AUC of all of subset s's records against the test-list records of
  the other subsets, and the share of each flagged.

``variants`` repeats this with other fit/threshold splits, other
percentiles, and with the recording's length as one more descriptor, to show
how much the numbers move; none of them sets the shipped statistics.

Usage::

    python scripts/domain_shift.py --data-dir ../shared/data \
        [--cache runs/domain_descriptors.csv] [--out results/real/domain_shift.json] \
        [--ship models/audiofuse-plus models/audiofuse-cpu ...]

``--ship`` writes the fitted statistics (the 80 % fit and its threshold) as
``domain.json`` into each named model folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from audiofuse.config import get_profile
from audiofuse.data.indexes import index_pascal, index_physionet
from audiofuse.predict.domain import (
    DESCRIPTORS,
    DomainModel,
    describe_recording,
    fit_domain_model,
)
from audiofuse.predict.predictor import _read_at_rate

THRESHOLD_PERCENTILE = 97.5
FIT_SHARE = 0.8
SEED = 0


def recordings(data_dir: Path) -> pd.DataFrame:
    """PhysioNet and PASCAL recordings: ``source`` (physionet, pascal-a, pascal-b), subset, split, path."""
    physionet = index_physionet(data_dir / "physionet2016", probe=False)
    physionet = physionet.assign(source="physionet")
    pascal = index_pascal(data_dir / "pascal", probe=False)
    pascal = pascal.assign(
        source="pascal-" + pascal["set"].astype(str).str.lower().str[-1],
        subset="pascal",
        split="outside",
    )
    physionet = physionet.assign(original_class="")
    columns = ["record", "source", "subset", "split", "original_class", "path"]
    return pd.concat([physionet[columns], pascal[columns]], ignore_index=True)


def describe_all(table: pd.DataFrame, cache: Path) -> pd.DataFrame:
    """Descriptors of every recording, read from ``cache`` where already computed."""
    cfg = get_profile("cpu").features
    done = pd.read_csv(cache) if cache.exists() else pd.DataFrame(columns=["path", *DESCRIPTORS])
    known = set(done["path"])
    rows = []
    todo = table[~table["path"].isin(known)]
    for i, path in enumerate(todo["path"], 1):
        samples, native, _ = _read_at_rate(path, cfg, True)
        values = describe_recording(samples, cfg.sample_rate, clipped_fraction=native[2])
        named = dict(zip(DESCRIPTORS, values, strict=True))
        rows.append({"path": path, "seconds": native[0] / native[1], **named})
        if i % 200 == 0 or i == len(todo):
            done = pd.concat([done, pd.DataFrame(rows)], ignore_index=True)
            rows = []
            cache.parent.mkdir(parents=True, exist_ok=True)
            done.to_csv(cache, index=False)
            print(f"described {i}/{len(todo)}", file=sys.stderr)
    return table.merge(done, on="path", how="left")


def fit_with_threshold(
    train: pd.DataFrame, columns: list[str], seed: int, percentile: float
) -> tuple[DomainModel, np.ndarray]:
    """Fit on a random :data:`FIT_SHARE` of ``train``, threshold on the rest."""
    order = np.random.default_rng(seed).permutation(len(train))
    cut = int(FIT_SHARE * len(train))
    fit_rows, hold_rows = train.iloc[order[:cut]], train.iloc[order[cut:]]
    model = fit_domain_model(fit_rows[columns].to_numpy(), names=columns)
    held_out = model.distance(hold_rows[columns].to_numpy())
    model.threshold = float(np.percentile(held_out, percentile))
    model.info = {
        "fitted_on": f"{len(fit_rows)} PhysioNet 2016 records off the official test list",
        "threshold": f"{percentile} th percentile of the distances of "
        f"{len(hold_rows)} other such records",
        "script": "scripts/domain_shift.py",
    }
    return model, held_out


def auroc(outside: np.ndarray, inside: np.ndarray) -> float:
    """ROC-AUC of the distance: outside recordings (positive) against inside ones."""
    y = np.r_[np.ones(len(outside)), np.zeros(len(inside))]
    return float(roc_auc_score(y, np.r_[outside, inside]))


def evaluate(
    table: pd.DataFrame,
    columns: list[str] | None = None,
    seed: int = SEED,
    percentile: float = THRESHOLD_PERCENTILE,
) -> tuple[dict, DomainModel]:
    """The numbers of the module docstring, and the model fitted on all subsets."""
    x = list(columns or DESCRIPTORS)
    physionet = table[table["source"] == "physionet"]
    train = physionet[physionet["split"] == "train"]
    test = physionet[physionet["split"] == "test"]
    model, held_out = fit_with_threshold(train, x, seed, percentile)
    d_test = model.distance(test[x].to_numpy())
    out = {
        "descriptors": x,
        "seed": seed,
        "percentile": percentile,
        "threshold": model.threshold,
        "n_train_fit": int(FIT_SHARE * len(train)),
        "n_train_threshold": len(train) - int(FIT_SHARE * len(train)),
        "held_out_train_flagged": float(np.mean(held_out > model.threshold)),
        "test_list": {"n": len(test), "flagged": float(np.mean(d_test > model.threshold))},
        "pascal": {},
        "held_out_subset": {},
    }
    for source in ("pascal-a", "pascal-b"):
        rows = table[table["source"] == source]
        d = model.distance(rows[x].to_numpy())
        flagged = pd.Series(d > model.threshold, index=rows.index)
        out["pascal"][source] = {
            "n": len(rows),
            "auroc": auroc(d, d_test),
            "flagged": float(flagged.mean()),
            "flagged_per_class": {
                cls: float(flagged[rows["original_class"] == cls].mean())
                for cls in sorted(rows["original_class"].unique())
            },
        }
    for subset in sorted(physionet["subset"].unique()):
        others_test = test[test["subset"] != subset]
        held = physionet[physionet["subset"] == subset]
        m, _ = fit_with_threshold(train[train["subset"] != subset], x, seed, percentile)
        d_held = m.distance(held[x].to_numpy())
        d_others = m.distance(others_test[x].to_numpy())
        out["held_out_subset"][subset] = {
            "n": len(held),
            "auroc": auroc(d_held, d_others),
            "flagged": float(np.mean(d_held > m.threshold)),
            "test_others_flagged": float(np.mean(d_others > m.threshold)),
        }
    aucs = [v["auroc"] for v in out["held_out_subset"].values()]
    out["held_out_subset_mean_auroc"] = float(np.mean(aucs))
    return out, model


def summary(numbers: dict) -> dict:
    """The headline of :func:`evaluate`'s numbers: flag rates and ROC-AUCs."""
    return {
        "test_flagged": numbers["test_list"]["flagged"],
        **{f"{s}_auroc": v["auroc"] for s, v in numbers["pascal"].items()},
        **{f"{s}_flagged": v["flagged"] for s, v in numbers["pascal"].items()},
        "held_out_subset_mean_auroc": numbers["held_out_subset_mean_auroc"],
        "held_out_subset_flagged_mean": float(
            np.mean([v["flagged"] for v in numbers["held_out_subset"].values()])
        ),
    }


def variants(table: pd.DataFrame) -> dict:
    """How much the numbers move with the fit/threshold split, the percentile, and length.

    None of these set the shipped statistics (seed 0, 97.5th percentile, no length).
    """
    out = {}
    for seed in range(1, 5):
        out[f"seed {seed}"] = summary(evaluate(table, seed=seed)[0])
    for percentile in (95.0, 99.0):
        out[f"percentile {percentile}"] = summary(evaluate(table, percentile=percentile)[0])
    cfg = get_profile("cpu").features
    model = evaluate(table)[1]
    test = table[(table["source"] == "physionet") & (table["split"] == "test")]
    for seconds in (3.0, 5.0):
        # the test list cut short: does the flag fire for short recordings as such?
        distances = []
        for path in test["path"]:
            samples, native, _ = _read_at_rate(path, cfg, True)
            cut = samples[: int(seconds * cfg.sample_rate)]
            distances.append(
                model.distance(describe_recording(cut, cfg.sample_rate, clipped_fraction=native[2]))
            )
        out[f"test list, first {seconds:g} s"] = {
            "test_flagged": float(np.mean(np.array(distances) > model.threshold))
        }
    with_length = table.assign(log_seconds=np.log10(table["seconds"]))
    out["with log length"] = summary(
        evaluate(with_length, columns=[*DESCRIPTORS, "log_seconds"])[0]
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--cache", type=Path, default=Path("runs/domain_descriptors.csv"))
    parser.add_argument("--out", type=Path, default=None, help="write the numbers as JSON")
    parser.add_argument(
        "--ship", nargs="*", default=[], help="model folders to write domain.json into"
    )
    args = parser.parse_args()
    table = describe_all(recordings(args.data_dir), args.cache)
    numbers, model = evaluate(table)
    numbers["variants"] = variants(table)
    text = json.dumps(numbers, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    for folder in args.ship:
        print(f"wrote {model.save(folder)}", file=sys.stderr)


if __name__ == "__main__":
    main()
