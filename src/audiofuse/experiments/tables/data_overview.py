"""The data overview: recording counts and example inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from audiofuse.data.indexes import index_pascal
from audiofuse.reporting import plots
from audiofuse.reporting.provenance import write_table

from ..context import Context, physionet_data, physionet_index

__all__ = ["dataset_overview", "example_figures"]


def dataset_overview(ctx: Context) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Recording counts per split/label (PhysioNet) and per set/class (PASCAL)."""
    table = physionet_index(ctx)
    physionet = (
        table.groupby(["split", "label"])
        .agg(recordings=("record", "size"), mean_seconds=("duration", "mean"))
        .reset_index()
    )
    pascal = None
    if ctx.pascal_root.is_dir():
        p = index_pascal(ctx.pascal_root)
        pascal = (
            p.groupby(["set", "original_class", "label"])
            .agg(recordings=("record", "size"), sample_rate=("sample_rate", "first"))
            .reset_index()
        )
    counts = pd.concat([physionet.assign(dataset="physionet2016")], ignore_index=True)
    write_table(
        counts,
        ctx.results,
        "data_physionet2016",
        title="PhysioNet 2016 recordings per split and label",
        prov=ctx.prov(),
        digits=1,
    )
    return physionet, pascal


def example_figures(ctx: Context, n: int = 4) -> list[Path]:
    """Waveform + log-Mel figures of ``n`` training recordings (half of each class)."""
    train, _ = physionet_data(ctx)
    meta = train.meta
    picks = list(meta.index[meta["label"] == 0][: n // 2]) + list(
        meta.index[meta["label"] == 1][: n - n // 2]
    )
    paths = []
    for i in picks:
        row = meta.loc[i]
        path = ctx.results / "figures" / f"example_{row['record']}.png"
        if path.exists():
            # Left as it is: the inputs it shows (resampling, log-Mel) differ in their last
            # bits from one CPU to another, which would redraw a committed figure by a few
            # pixels and nothing else.
            paths.append(path)
            continue
        label = "abnormal" if row["label"] == 1 else "normal"
        paths.append(
            plots.plot_example(
                np.asarray(train.waveforms[i, :, 0], dtype=np.float32),
                np.asarray(train.spectrograms[i, :, :, 0], dtype=np.float32),
                ctx.profile.features.sample_rate,
                path,
                title=f"{row['record']} ({label}; {ctx.data}, {ctx.profile.name} profile inputs)",
            )
        )
    return paths
