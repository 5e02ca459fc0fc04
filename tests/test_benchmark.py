"""Tests of :mod:`audiofuse.benchmark`: the FLOP counter by hand, and the quick run.

The quick run goes through the command line in a subprocess: the benchmark
forks its measurements, which must happen before TensorFlow runs any op in
the forking process, and the FLOP tests below build Keras models in this one.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from audiofuse import benchmark


@pytest.fixture(scope="module")
def keras():
    return benchmark.import_tensorflow()


def test_flops_of_dense_and_conv1d_by_hand(keras):
    from keras import layers

    inputs = keras.Input((101, 2))
    x = layers.Conv1D(4, 3, strides=2, padding="same")(inputs)  # 51 steps x 4 filters x 3 x 2
    x = layers.Conv1D(6, 5, padding="valid")(x)  # 47 steps x 6 filters x 5 x 4
    x = layers.Flatten()(x)  # 282
    x = layers.Dense(5, activation="relu")(x)  # 282 x 5
    outputs = layers.Dense(1)(x)  # 5 x 1
    model = keras.Model(inputs, outputs)
    macs = 51 * 4 * 3 * 2 + 47 * 6 * 5 * 4 + 282 * 5 + 5 * 1
    assert benchmark.count_flops(model) == 2 * macs


def test_flops_of_dense_on_tokens_conv2d_and_attention_by_hand(keras):
    from keras import layers

    inputs = keras.Input((8, 16, 1))
    x = layers.Conv2D(8, (4, 4), strides=(4, 4))(inputs)  # 2x4 positions x 8 x 16
    tokens = layers.Reshape((8, 8))(x)
    attended = layers.MultiHeadAttention(num_heads=2, key_dim=4)(tokens, tokens)
    outputs = layers.Dense(3)(attended)  # 8 tokens x 8 x 3
    model = keras.Model(inputs, outputs)
    conv = 2 * 4 * 8 * 16
    # Q, K, V projections (8 tokens x 8 x 2 heads x 4), output projection, then
    # Q K^T and softmax(.) V: 2 heads x 8 x 8 tokens x 4 each.
    attention = 3 * 8 * 8 * 8 + 8 * 8 * 8 + 2 * (2 * 8 * 8 * 4)
    dense = 8 * 8 * 3
    assert benchmark.count_flops(model) == 2 * (conv + attention + dense)


def test_flops_of_project_model_are_plausible(keras):
    from audiofuse.config import get_profile
    from audiofuse.models import build_model

    profile = get_profile("smoke")
    flops = {
        kind: benchmark.count_flops(build_model(kind, profile.features, profile.model))
        for kind in ("fusion", "spectrogram", "waveform")
    }
    # The fusion model is both branches plus a slightly wider head.
    assert flops["fusion"] > flops["spectrogram"] + flops["waveform"] - 10_000
    assert flops["fusion"] < flops["spectrogram"] + flops["waveform"] + 100_000


def test_goal_line_says_pass_or_fail():
    assert "PASS" in benchmark.goal_line("x", 12.0, 10.0, "x")
    assert "FAIL" in benchmark.goal_line("x", 8.0, 10.0, "x")
    assert "PASS" in benchmark.goal_line("ms", 20.0, 50.0, "ms", below=True)
    assert "not measured" in benchmark.goal_line("ms", None, 50.0, "ms")


def test_comparison_rows_give_old_new_and_a_ratio_that_favours_the_winner():
    faster = benchmark.comparison_rows("s", "train", "cpu", 10.0, 25.0, "samples/s", "d")
    assert [r["name"] for r in faster] == ["train: old path", "train: new path", "train: new vs old"]
    assert faster[2]["value"] == 2.5 and faster[2]["unit"] == "x"
    smaller = benchmark.comparison_rows(
        "s", "peak", "cpu", 900.0, 300.0, "MiB", "d", higher_is_better=False
    )
    assert smaller[2]["value"] == 3.0
    assert len(benchmark.comparison_rows("s", "x", "", None, 1.0, "s", "d")) == 1


def _in_process(func, *args):
    return dict(func(*args))


def test_bench_comparisons_measure_both_paths_into_the_comparison_section():
    comparison = benchmark.Comparison(
        "cold start", "s", old=lambda inputs: 4.0, new=lambda inputs: 1.0, higher_is_better=False
    )
    inputs = benchmark.BenchInputs(benchmark.settings_for(True), pd.DataFrame(), "SYNTHETIC")
    rows = benchmark.bench_comparisons([comparison], inputs, runner=_in_process)
    assert {r["section"] for r in rows} == {benchmark.COMPARISON_SECTION}
    assert [r["value"] for r in rows] == [4.0, 1.0, 4.0]
    assert {r["data"] for r in rows} == {"SYNTHETIC"}
    frame = pd.DataFrame(rows).assign(machine="m", cores=1, commit="c")
    run = {"data": "SYNTHETIC", "records": 0, "quick": True, "seconds": 1.0}
    run |= {"load_before": (0, 0, 0), "load_after": (0, 0, 0), "machine": "m", "cores": 1}
    markdown = benchmark.render_markdown(frame[benchmark.CSV_COLUMNS], {**run, "commit": "c"})
    assert "## Comparisons" in markdown and "cold start: new vs old" in markdown


def test_synthetic_sample_is_written_under_the_synthetic_folder_not_the_data_folder(
    tmp_path, monkeypatch
):
    from audiofuse.benchmark.harness import load_sample
    from audiofuse.synthetic import datasets

    tiny = {"physionet": {"n_records": 12, "min_seconds": 5.0, "max_seconds": 5.0}}
    monkeypatch.setitem(datasets._SIZES, "smoke", {**tiny, "pascal": {"n_records": 8}})

    sample, label = load_sample(None, 3, quick=True, synthetic_dir=tmp_path)
    assert label == "SYNTHETIC" and len(sample) == 3
    root = tmp_path / "synthetic" / "smoke" / "physionet2016"
    assert all(root in Path(p).parents for p in sample["path"])
    assert not (root / "synthetic").exists()


@pytest.mark.slow  # an end-to-end run of every section (~35 s on 2 cores, + ~30 s comparisons)
def test_quick_benchmark_writes_csv_and_markdown(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "audiofuse.cli", "bench", "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    # An all-digit short hash (e.g. 3591235) must stay a string, as a reader would load it.
    frame = pd.read_csv(
        tmp_path / "benchmark.csv", keep_default_na=False, dtype={"commit": str, "machine": str}
    )
    assert list(frame.columns) == benchmark.CSV_COLUMNS
    assert set(benchmark.SECTIONS) <= set(frame["section"])
    assert (pd.to_numeric(frame["value"]) > 0).all(), frame[frame["value"] <= 0]
    assert (frame["cores"] >= 1).all()
    assert frame["machine"].str.len().min() > 0 and frame["commit"].str.len().min() > 0
    assert "SYNTHETIC" in set(frame["data"])
    for name in ("original mel+CWT", "ours n_jobs=1", "ours n_jobs=2"):
        assert name in set(frame["name"])
    assert frame["name"].str.contains("1 core").any()
    assert frame["name"].str.contains("train_on_batch").any()

    markdown = (tmp_path / "benchmark.md").read_text()
    assert "SYNTHETIC" in markdown and "make bench" in markdown
    for section in benchmark.SECTIONS:
        assert f"## {section.capitalize()}" in markdown
    assert "PASS" in markdown or "FAIL" in markdown

    # Every comparison of a quick run: old path, new path, and a ratio by which
    # the new path wins (by 3x or more on a 2-core machine); the sweep is skipped.
    from audiofuse.benchmark import paths, sweep

    compared = frame[frame["section"] == benchmark.COMPARISON_SECTION]
    ratios = dict(zip(compared["name"], pd.to_numeric(compared["value"]), strict=True))
    for name in (paths.PREDICT_COLD_START, paths.INDEX_COLD_START, paths.PREDICT_PEAK_QUICK):
        assert {f"{name}: old path", f"{name}: new path"} <= set(ratios)
        assert ratios[f"{name}: new vs old"] > 1.0, compared
    assert not compared["name"].str.startswith(sweep.SWEEP_TRAINING).any()
    assert "## Comparisons" in markdown and f"{paths.PREDICT_COLD_START}: new vs old" in markdown
