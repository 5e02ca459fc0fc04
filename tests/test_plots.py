"""Tests of audiofuse.reporting.plots: every figure is a real, non-trivial PNG."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from audiofuse.evaluation import EvaluationError
from audiofuse.reporting.plots import (
    plot_confusion_matrix,
    plot_example,
    plot_roc_curves,
    plot_selection_curves,
    plot_training_curves,
    save_figure,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path, expected):
    assert path == expected
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert len(data) > 1024
    leftovers = [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


@pytest.fixture(scope="module")
def scores():
    rng = np.random.default_rng(0)
    y = (rng.random(120) < 0.4).astype(int)
    fusion = np.clip(0.3 + 0.4 * y + rng.normal(0, 0.2, y.size), 0, 1)
    cnn = np.clip(0.4 + 0.2 * y + rng.normal(0, 0.25, y.size), 0, 1)
    return y, fusion, cnn


@pytest.fixture(autouse=True)
def no_pyplot_leak():
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    yield
    assert set(plt.get_fignums()) == before


def test_roc_curves(tmp_path, scores):
    y, fusion, cnn = scores
    out = tmp_path / "figs" / "roc.png"  # missing folder is created
    path = plot_roc_curves(
        {"AudioFuse": (y, fusion), "1-D CNN": (y, cnn)},
        out,
        title="Test set",
        operating_points={"AudioFuse": 0.5},
    )
    assert_png(path, out)


def test_roc_curves_errors_name_the_model(tmp_path, scores):
    y, fusion, _ = scores
    with pytest.raises(EvaluationError, match="'bad'.*only one class"):
        plot_roc_curves(
            {"ok": (y, fusion), "bad": (np.ones(3), [0.1, 0.2, 0.3])}, tmp_path / "r.png"
        )
    with pytest.raises(ValueError, match="empty"):
        plot_roc_curves({}, tmp_path / "r.png")
    assert not (tmp_path / "r.png").exists()


def test_roc_curves_on_given_axes(tmp_path, scores):
    y, fusion, _ = scores
    fig = Figure()
    ax = fig.add_subplot()
    assert plot_roc_curves({"AudioFuse": (y, fusion)}, None, ax=ax) is ax
    assert len(ax.lines) == 2  # chance diagonal + curve
    out = tmp_path / "on_ax.png"
    assert_png(plot_roc_curves({"AudioFuse": (y, fusion)}, out, ax=fig.add_subplot(2, 1, 2)), out)


def test_confusion_matrix(tmp_path, scores):
    y, fusion, _ = scores
    out = tmp_path / "cm.png"
    assert_png(plot_confusion_matrix(y, fusion >= 0.5, out, title="AudioFuse"), out)
    # a class never predicted still gives a 2 x 2 matrix
    out2 = tmp_path / "cm_all_normal.png"
    assert_png(plot_confusion_matrix(y, np.zeros_like(y), out2), out2)


def test_confusion_matrix_annotations():
    fig = Figure()
    ax = fig.add_subplot()
    plot_confusion_matrix([0, 0, 0, 1], [0, 1, 0, 1], None, ax=ax)
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["2\n(66.7%)", "1\n(33.3%)", "0\n(0.0%)", "1\n(100.0%)"]
    with pytest.raises(EvaluationError, match="differ in length"):
        plot_confusion_matrix([0, 1], [1], None, ax=ax)


def test_training_curves(tmp_path):
    history = {
        "loss": [0.7, 0.5, 0.4, 0.35],
        "val_loss": [0.72, 0.6, 0.55, 0.58],
        "val_roc_auc": [0.6, 0.75, 0.8, 0.78],
        "lr": [1e-3] * 4,
    }
    out = tmp_path / "hist.png"
    assert_png(plot_training_curves(history, out), out)
    frame = pd.DataFrame(history).assign(epoch=range(4))
    out2 = tmp_path / "hist_csv.png"
    assert_png(plot_training_curves(frame[["epoch", "loss"]], out2, title="loss only"), out2)
    with pytest.raises(ValueError, match="one value per epoch"):
        plot_training_curves({"loss": [1.0, 0.5], "val_loss": [1.0]}, tmp_path / "bad.png")
    with pytest.raises(ValueError, match="no numeric series"):
        plot_training_curves({"lr": [0.1, 0.1]}, tmp_path / "bad.png")


def test_example(tmp_path):
    sr = 2000
    t = np.arange(5 * sr) / sr
    wave = np.sin(2 * np.pi * 40 * t) * np.exp(-((t % 0.8) / 0.1))
    spec = np.random.default_rng(0).normal(-40, 10, size=(64, 80, 1))
    out = tmp_path / "example.png"
    assert_png(plot_example(wave, spec, sr, out, "a0001 (abnormal)"), out)
    with pytest.raises(ValueError, match="spectrogram"):
        plot_example(wave, np.zeros(5), sr, tmp_path / "bad.png")


def test_save_figure_replaces_atomically(tmp_path):
    out = tmp_path / "f.png"
    out.write_bytes(b"old")
    fig = Figure()
    fig.add_subplot().plot([0, 1], [1, 0])
    assert_png(save_figure(fig, out), out)


def test_selection_curves_one_panel_per_model_and_seed(tmp_path):
    curves = {
        (model, seed): ([0.6, 0.9, 0.8], [0.5, 0.7, 0.75])
        for model in ("ViT", "AudioFuse")
        for seed in (0, 1)
    }
    path = plot_selection_curves(curves, tmp_path / "sel.png")
    assert path.exists() and path.stat().st_size > 0
    with pytest.raises(ValueError, match="no curves"):
        plot_selection_curves({}, tmp_path / "empty.png")
