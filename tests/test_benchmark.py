"""Tests of :mod:`audiofuse.benchmark`: the FLOP counter by hand, goals, the demo's
record, and the quick run end to end (through the command line, in a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from audiofuse import benchmark


@pytest.fixture(scope="module")
def keras():
    import keras

    return keras


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
    from audiofuse.model.architecture import build_model

    profile = get_profile("smoke")
    flops = {
        kind: benchmark.count_flops(build_model(kind, profile.features, profile.model))
        for kind in ("fusion", "spectrogram", "waveform")
    }
    # The fusion model is both branches plus a slightly wider head.
    assert flops["fusion"] > flops["spectrogram"] + flops["waveform"] - 10_000
    assert flops["fusion"] < flops["spectrogram"] + flops["waveform"] + 100_000


def test_verdict_reads_the_goal_of_a_row():
    assert benchmark.verdict(12.0, ">= 10") == "PASS"
    assert benchmark.verdict(8.0, ">= 10") == "FAIL"
    assert benchmark.verdict(20.0, "< 50") == "PASS"
    assert benchmark.verdict(50.0, "< 50") == "FAIL"
    assert benchmark.verdict(None, "< 50") == benchmark.verdict(3.0, "") == ""


def test_a_failing_child_process_is_named_with_its_error():
    from audiofuse.benchmark.harness import run_python

    with pytest.raises(RuntimeError, match="no such model"):
        run_python(["-c", "raise SystemExit('no such model')"], one_core=True)


def test_demo_record_is_written_by_make_demo_and_read_by_the_bench(tmp_path):
    from audiofuse.benchmark.record_demo import demo_row, main

    record, clock = tmp_path / "demo" / "demo_runs.json", tmp_path / ".demo_clock"
    assert demo_row(record)["data"] == "not recorded"
    clock.write_text(f"{time.time() - 420:.0f} 1\n")
    assert main([str(record), "--clock", str(clock), "--seeds", "0", "--head-splits", "3",
                 "--epochs", "8"]) == 0  # fmt: skip
    clock.write_text(f"{time.time() - 60:.0f} 0\n")  # an existing venv: not a fresh clone
    assert main([str(record), "--clock", str(clock), "--seeds", "0", "--head-splits", "3",
                 "--epochs", "null"]) == 0  # fmt: skip
    assert [r["epochs"] for r in json.loads(record.read_text())] == [8, None]
    row = demo_row(record)
    assert 6.9 < row["value"] < 7.2 and row["unit"] == "min"
    assert benchmark.verdict(row["value"], row["goal"]) == "PASS"
    clock.write_text("yesterday")
    with pytest.raises(SystemExit) as stop:
        main([str(record), "--clock", str(clock), "--seeds", "0", "--head-splits", "3"])
    assert stop.value.code == 1


def test_synthetic_sample_is_written_under_the_synthetic_folder_not_the_data_folder(
    tmp_path, monkeypatch
):
    from audiofuse.benchmark.harness import load_sample
    from audiofuse.data.synthetic import generate as datasets

    tiny = {"physionet": {"n_records": 12, "min_seconds": 5.0, "max_seconds": 5.0}}
    monkeypatch.setitem(datasets._SIZES, "smoke", {**tiny, "pascal": {"n_records": 8}})

    sample, label = load_sample(None, 3, quick=True, synthetic_dir=tmp_path)
    assert label == "SYNTHETIC" and len(sample) == 3
    root = tmp_path / "synthetic" / "smoke" / "physionet2016"
    assert all(root in Path(p).parents for p in sample["path"])
    assert not (root / "synthetic").exists()


@pytest.mark.slow  # the whole quick run: about 40 s on 2 cores (three TensorFlow-free children)
def test_quick_benchmark_writes_every_row_with_its_goal(tmp_path):
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
    assert set(frame["section"]) == set(benchmark.SECTIONS)
    measured = frame[frame["section"] != "demo"]
    assert (pd.to_numeric(measured["value"]) > 0).all(), measured
    assert "SYNTHETIC" in set(frame["data"]) and (frame["cores"] >= 1).all()
    assert frame["machine"].str.len().min() > 0 and frame["commit"].str.len().min() > 0
    names = " | ".join(frame["name"])
    for part in ("original recipe", "extractor vs original recipe", "share of matmul peak",
                 "cold", "warm", "1 core", "peak RSS", "make demo"):  # fmt: skip
        assert part in names, part
    assert (frame[frame["unit"] == "%"]["goal"] != "").all()
    assert (frame[frame["section"] == "memory"]["goal"] != "").all()

    markdown = (tmp_path / "benchmark.md").read_text()
    assert "SYNTHETIC" in markdown and "make bench" in markdown and "docs/performance.md" in markdown
    assert "PASS" in markdown or "FAIL" in markdown
