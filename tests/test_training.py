"""Tests of the trainer (audiofuse.model.training) on synthetic features, smoke profile.

The runs use the waveform-only model: it traces fastest, and the checkpoint,
resume and determinism logic is the same for every kind.
"""

from __future__ import annotations

import json
import shutil

import keras
import numpy as np
import pandas as pd
import pytest

from audiofuse.data.indexes import index_physionet, physionet_split
from audiofuse.data.splits import TrainingError, record_weights
from audiofuse.features.batches import FeatureBatches, fit_input
from audiofuse.features.extract import extract_features
from audiofuse.features.feature_set import FeatureSet
from audiofuse.model import run_dir, training
from audiofuse.model.training import carve_validation, load_trained, train_model

KIND = "waveform"
RUN_FILES = {"best.keras", "last.keras", "history.json", "state.json", "config.json"}


@pytest.fixture(scope="module")
def features(synthetic_roots, smoke_profile) -> FeatureSet:
    train, _ = physionet_split(index_physionet(synthetic_roots["physionet2016"]))
    sample = train.groupby("label").head(20).reset_index(drop=True)
    return extract_features(sample, smoke_profile.features, n_jobs=1, progress=False)


@pytest.fixture(scope="module")
def trained(features, smoke_profile, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run_a")
    return train_model(KIND, smoke_profile, features, run_dir, seed=0, progress=False)


def _json(path):
    return json.loads(path.read_text())


def _fake_features(labels_per_record, windows_per_record, subsets=None) -> FeatureSet:
    """A FeatureSet with tiny arrays, for the record-level logic."""
    subsets = subsets if subsets is not None else ["a"] * len(labels_per_record)
    rows = [
        {"record": f"r{i:03d}", "subset": subset, "label": int(label), "window": w}
        for i, (label, k, subset) in enumerate(
            zip(labels_per_record, windows_per_record, subsets, strict=True)
        )
        for w in range(k)
    ]
    meta = pd.DataFrame(rows)
    n = len(meta)
    return FeatureSet(np.zeros((n, 2, 2, 1), "float16"), np.zeros((n, 4, 1), "float16"), meta)


# --- a finished run -------------------------------------------------------------------------


def test_run_folder_holds_every_artifact(trained, smoke_profile):
    run_dir = trained.run_dir
    names = {p.name for p in run_dir.iterdir()}
    assert names == RUN_FILES  # nothing temporary left behind
    history = _json(run_dir / "history.json")
    assert set(history) == {"loss", "val_loss", "val_roc_auc", "seconds"}
    assert all(len(v) == 2 for v in history.values())
    assert history == trained.history
    state = _json(run_dir / "state.json")
    assert state["finished"] and state["epoch"] == 1
    assert state["best_epoch"] == trained.best_epoch
    assert state["best_val_auc"] == trained.best_val_auc == max(history["val_roc_auc"])
    config = _json(run_dir / "config.json")
    assert (config["kind"], config["seed"]) == (KIND, 0)
    assert config["profile"] == json.loads(json.dumps(smoke_profile.to_dict()))
    assert config["val_records"] == sorted(trained.val_records.tolist())
    assert config["onednn"] is True  # conftest's prepare_tensorflow() turns oneDNN on
    model, stored = load_trained(run_dir)
    assert stored == config
    assert {t.name.split(":")[0] for t in model.inputs} == {"waveform"}


def test_the_returned_model_is_the_saved_best(trained, features):
    """train_model hands back the model it trained set to the kept best weights, not a
    reload of best.keras: the same weights, the same outputs, one output."""
    loaded, _ = load_trained(trained.run_dir)
    assert len(trained.model.outputs) == 1
    for ours, theirs in zip(trained.model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(
        training.predict_proba(trained.model, features, KIND),
        training.predict_proba(loaded, features, KIND),
    )


def test_same_seed_gives_the_same_history(trained, features, smoke_profile, tmp_path):
    again = train_model(KIND, smoke_profile, features, tmp_path / "run_b", seed=0, progress=False)
    assert again.history["val_roc_auc"] == trained.history["val_roc_auc"]
    assert again.history["loss"] == trained.history["loss"]
    assert sorted(again.val_records) == sorted(trained.val_records)


def test_several_steps_per_call_give_the_same_run(
    trained, features, smoke_profile, tmp_path, monkeypatch
):
    """Steps per execution is a speed setting only: one step per call trains the same run."""
    assert training.steps_per_execution(smoke_profile.train) > 1
    monkeypatch.setattr(training, "STEPS_PER_EXECUTION", 1)
    one = train_model(KIND, smoke_profile, features, tmp_path / "run_one", seed=0, progress=False)
    assert one.history["loss"] == trained.history["loss"]
    assert one.history["val_roc_auc"] == trained.history["val_roc_auc"]
    for ours, theirs in zip(one.model.get_weights(), trained.model.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_optimizer_built_before_tracing_gives_the_same_run(
    trained, features, smoke_profile, tmp_path, monkeypatch
):
    """Creating the optimizer's variables eagerly is a speed setting only: a run whose
    first traced step creates them (Keras' own default) trains the same weights."""
    built = []

    def lazy(model):
        built.append(model.optimizer.built)
        return model

    monkeypatch.setattr(training, "build_training_state", lazy)
    late = train_model(KIND, smoke_profile, features, tmp_path / "late", seed=0, progress=False)
    assert built == [False]  # the stand-in ran, and left the build to the first step
    assert late.history["loss"] == trained.history["loss"]
    assert late.history["val_roc_auc"] == trained.history["val_roc_auc"]
    for ours, theirs in zip(late.model.get_weights(), trained.model.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_the_pipeline_without_autotuner_gives_the_same_run(
    trained, features, smoke_profile, tmp_path, monkeypatch
):
    """fit_input is a speed setting only: fit over the PyDataset itself (Keras' own
    tf.data pipeline, autotuner on) trains the same weights."""
    monkeypatch.setattr(training, "fit_input", lambda batches: batches)
    keras_own = train_model(KIND, smoke_profile, features, tmp_path / "own", seed=0, progress=False)
    assert keras_own.history["loss"] == trained.history["loss"]
    assert keras_own.history["val_roc_auc"] == trained.history["val_roc_auc"]
    for ours, theirs in zip(keras_own.model.get_weights(), trained.model.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_fit_input_yields_every_batch_without_the_autotuner():
    fs = _fake_features(np.array([1, 0, 0, 1, 0]), [3, 1, 2, 4, 1])
    weights = np.linspace(0.5, 1.5, len(fs)).astype("float32")
    batches = FeatureBatches(fs, "waveform", 4, seed=0, row_weights=weights, n_outputs=2)
    dataset = fit_input(batches)
    if keras.backend.backend() != "tensorflow":
        assert dataset is batches
        return
    assert dataset.options().autotune.enabled is False
    assert int(dataset.cardinality()) == len(batches)
    served = [tuple(map(np.asarray, keras.tree.flatten(b))) for b in dataset]
    expected = [tuple(keras.tree.flatten(batches[i])) for i in range(len(batches))]
    assert len(served) == len(expected) == 3  # the last batch is short: batch dimension open
    for got, want in zip(served, expected, strict=True):
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("outputs", [1, 3])
def test_build_training_state_leaves_one_trace_of_the_training_step(smoke_profile, outputs):
    """With its variables made first (the optimizer's, and the loss trackers of a
    model with auxiliary outputs), the compiled training step is traced once, not twice
    (a tf.function that creates variables traces again without creating them)."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the double trace is the TensorFlow trainer's")

    def traces(build: bool) -> int:
        keras.utils.set_random_seed(0)
        inputs = keras.Input((4,), name="x")
        model = keras.Model(inputs, [keras.layers.Dense(1)(inputs) for _ in range(outputs)])
        model.compile(optimizer=keras.optimizers.AdamW(1e-3), loss=["mse"] * outputs)
        if build:
            assert training.build_training_state(model) is model and model.optimizer.built
        calls, step = [], model.train_step

        def counted(data):  # its Python body runs once per trace
            calls.append(1)
            return step(data)

        model.train_step = counted
        x, y = np.ones((4, 4), "float32"), [np.ones((4, 1), "float32")] * outputs
        losses = [model.train_on_batch(x, y) for _ in range(2)]
        return len(calls), losses

    (late, late_losses), (built, built_losses) = traces(build=False), traces(build=True)
    assert (late, built) == (2, 1)
    assert built_losses == late_losses  # the same steps


@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_the_projects_adamw_takes_keras_adamw_steps_bit_for_bit(schedule):
    """training.AdamW computes the step's scalars once per step instead of once per
    variable (less to trace); the updates must stay Keras's, to the last bit."""

    def rate():
        if schedule == "constant":
            return 3e-3
        return keras.optimizers.schedules.CosineDecay(0.0, 20, warmup_target=3e-3, warmup_steps=4)

    def weights_after_steps(optimizer_class):
        keras.utils.set_random_seed(0)
        inputs = keras.Input((6,))
        hidden = keras.layers.Dense(8, activation="gelu")(inputs)
        model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(hidden))
        model.compile(
            optimizer=optimizer_class(rate(), weight_decay=1e-2),
            loss="binary_crossentropy",
            steps_per_execution=4,
        )
        rng = np.random.default_rng(1)
        x = rng.normal(size=(64, 6)).astype("float32")
        y = (x[:, :1] > 0).astype("float32")
        model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
        return model.get_weights() + [np.asarray(v) for v in model.optimizer.variables]

    ours, theirs = weights_after_steps(training.AdamW), weights_after_steps(keras.optimizers.AdamW)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_projects_adamw_traces_fewer_ops_than_keras_adamw():
    if keras.backend.backend() != "tensorflow":
        pytest.skip("counts the ops of TensorFlow's traced training step")
    import tensorflow as tf

    def traced_ops(optimizer_class) -> int:
        inputs = keras.Input((6,))
        outputs = keras.layers.Dense(1)(keras.layers.Dense(8)(keras.layers.Dense(8)(inputs)))
        model = keras.Model(inputs, outputs)
        model.compile(optimizer=optimizer_class(1e-3), loss="mse")
        training.build_training_state(model)
        x = tf.ones((4, 6))
        step = tf.function(lambda: model.train_step((x, tf.ones((4, 1)))), autograph=False)
        graph = step.get_concrete_function().graph
        return len(graph.get_operations())

    ours, theirs = traced_ops(training.AdamW), traced_ops(keras.optimizers.AdamW)
    assert ours < theirs - 5 * 6  # six variables, each with its own scalars before


def test_checkpoints_written_less_often_give_the_same_run(
    trained, features, smoke_profile, tmp_path, monkeypatch
):
    """Writing the run folder at most every CHECKPOINT_EVERY_S is a speed setting only:
    the run folder at the end is the one an every-epoch write leaves."""
    from audiofuse.model import checkpoint

    writes = []
    save = checkpoint.save_model_atomic

    def counted(model, path):
        writes.append(path.name)
        save(model, path)

    monkeypatch.setattr(checkpoint, "save_model_atomic", counted)
    monkeypatch.setattr(training, "CHECKPOINT_EVERY_S", 0.0)
    every = train_model(KIND, smoke_profile, features, tmp_path / "every", seed=0, progress=False)
    improvements = sum(
        auc > max(every.history["val_roc_auc"][:i], default=-1)
        for i, auc in enumerate(every.history["val_roc_auc"])
    )
    assert writes.count("last.keras") == 2 and writes.count("best.keras") == improvements
    writes.clear()
    monkeypatch.setattr(training, "CHECKPOINT_EVERY_S", 1e9)
    once = train_model(KIND, smoke_profile, features, tmp_path / "once", seed=0, progress=False)
    assert sorted(writes) == ["best.keras", "last.keras"]  # after the last epoch only
    assert once.history["val_roc_auc"] == every.history["val_roc_auc"]
    assert _json(tmp_path / "once" / "state.json") | {"seconds": 0} == _json(
        tmp_path / "every" / "state.json"
    ) | {"seconds": 0}
    for which in ("best", "last"):
        ours, theirs = (load_trained(tmp_path / run, which)[0] for run in ("once", "every"))
        for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)


def test_the_test_diagnostic_is_recorded_and_never_selects(
    trained, features, synthetic_roots, smoke_profile, tmp_path
):
    """The per-epoch test ROC-AUC joins the history; the run is otherwise the same."""
    _, test = physionet_split(index_physionet(synthetic_roots["physionet2016"]))
    test_set = extract_features(test.head(24), smoke_profile.features, n_jobs=1, progress=False)
    run = train_model(
        KIND, smoke_profile, features, tmp_path / "diag", seed=0, progress=False,
        diagnostic_test=test_set,
    )
    recorded = run.history.pop(run_dir.DIAGNOSTIC_TEST_AUC)
    assert len(recorded) == len(trained.history["loss"])
    assert all(0.0 <= auc <= 1.0 for auc in recorded)
    assert _json(tmp_path / "diag" / "history.json")[run_dir.DIAGNOSTIC_TEST_AUC] == recorded
    for key in ("loss", "val_roc_auc", "val_loss"):
        assert run.history[key] == trained.history[key]
    assert run.best_epoch == trained.best_epoch
    assert run_dir.DIAGNOSTIC_TEST_AUC not in trained.history


def test_a_plateau_halves_the_rate_and_a_resumed_run_keeps_it(features, smoke_profile, tmp_path):
    """lr_schedule="plateau": the rate halves after every `plateau_patience` epochs without
    a new best; a run cut off (here at an epoch limit, then given more) goes on exactly."""
    plateau = smoke_profile.train.replace(
        lr_schedule="plateau", plateau_patience=1, patience=4, epochs=12
    )
    profile = smoke_profile.replace(train=plateau)
    whole = train_model(KIND, profile, features, tmp_path / "whole", seed=0, progress=False)
    lrs, aucs = whole.history["lr"], whole.history["val_roc_auc"]
    assert lrs[0] == pytest.approx(plateau.learning_rate)
    for epoch in range(1, len(lrs)):  # halved after each epoch that was not a new best
        new_best = aucs[epoch - 1] > max(aucs[: epoch - 1], default=-1)
        expected = lrs[epoch - 1] * (1 if new_best else plateau.plateau_factor)
        assert lrs[epoch] == pytest.approx(expected)
    assert min(lrs) < plateau.learning_rate  # the run did stall somewhere

    cut = len(lrs) // 2
    short = profile.replace(train=plateau.replace(epochs=cut))
    train_model(KIND, short, features, tmp_path / "cut", seed=0, progress=False)
    resumed = train_model(KIND, profile, features, tmp_path / "cut", seed=0, progress=False)
    assert resumed.history["lr"] == lrs
    assert resumed.history["val_roc_auc"] == aucs


def test_a_run_with_a_weight_average_takes_one_step_per_call(smoke_profile):
    assert training.steps_per_execution(smoke_profile.train.replace(ema_momentum=0.99)) == 1


def test_finished_run_is_loaded_without_training(
    trained, features, smoke_profile, monkeypatch, capsys
):
    last = trained.run_dir / "last.keras"
    stamp = last.stat().st_mtime_ns

    def no_fit(*args, **kwargs):
        raise AssertionError("a finished run must not train again")

    monkeypatch.setattr(keras.Model, "fit", no_fit)
    again = train_model(KIND, smoke_profile, features, trained.run_dir, seed=0)
    assert "finished run found" in capsys.readouterr().err
    assert again.history == trained.history
    assert again.best_epoch == trained.best_epoch
    assert last.stat().st_mtime_ns == stamp


def test_resume_with_more_epochs_continues(
    trained, features, smoke_profile, tmp_path, monkeypatch, capsys
):
    run_dir = tmp_path / "run_c"
    one_epoch = smoke_profile.replace(train=smoke_profile.train.replace(epochs=1))
    first = train_model(KIND, one_epoch, features, run_dir, seed=0, progress=False)
    assert len(first.history["val_roc_auc"]) == 1
    assert _json(run_dir / "state.json")["finished"]
    # deterministic: the first epoch is the 2-epoch run's first epoch
    assert first.history["val_roc_auc"][0] == trained.history["val_roc_auc"][0]

    def no_build(*args, **kwargs):
        raise AssertionError("resuming must load last.keras, not build a new model")

    monkeypatch.setattr(training, "build_model", no_build)
    resumed = train_model(KIND, smoke_profile, features, run_dir, seed=0)
    assert "resuming at epoch 2" in capsys.readouterr().err
    assert len(resumed.history["val_roc_auc"]) == 2
    # the same history as the uninterrupted 2-epoch run, the second epoch included
    assert resumed.history["val_roc_auc"] == trained.history["val_roc_auc"]
    assert resumed.history["loss"] == trained.history["loss"]
    state = _json(run_dir / "state.json")
    assert state["epoch"] == 1 and state["finished"]
    assert _json(run_dir / "config.json")["profile"]["train"]["epochs"] == 2


@pytest.mark.parametrize("through_fit_input", [False, True])
def test_one_fit_serves_every_epoch_its_own_draw(through_fit_input):
    """Keras reads batches ahead; each epoch's batches must still be that epoch's draw."""
    fs = _fake_features(np.array([1, 0, 0, 1, 0, 0, 1, 0]), [3, 1, 2, 4, 1, 2, 2, 2])
    served = []

    class Logged(FeatureBatches):
        def __getitem__(self, i):
            served.append((self.epoch, i))
            return super().__getitem__(i)

    batches = Logged(fs, "waveform", 3, seed=0, one_window_per_record=True)
    inputs = keras.Input(fs.waveforms.shape[1:], name="waveform")
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Flatten()(inputs)))
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    x = fit_input(batches) if through_fit_input else batches
    model.fit(x, epochs=3, shuffle=False, callbacks=[batches.epoch_callback()], verbose=0)
    n = len(batches)
    # peeks at the first batches before training (Keras reads the signature) are harmless
    served = served[len(served) - 3 * n :]
    assert served == [(epoch, i) for epoch in range(3) for i in range(n)]



def test_interrupted_run_resumes_where_it_stopped(
    trained, features, smoke_profile, tmp_path, monkeypatch, capsys
):
    """A run cut off after its first epoch (as state.json then records it) resumes."""
    run_dir = tmp_path / "run_d"
    shutil.copytree(trained.run_dir, run_dir)
    history = {k: v[:1] for k, v in trained.history.items()}
    (run_dir / "history.json").write_text(json.dumps(history))
    state = _json(run_dir / "state.json")
    state.update(epoch=0, finished=False, wait=0, best_epoch=0)
    state["best_val_auc"] = history["val_roc_auc"][0]
    (run_dir / "state.json").write_text(json.dumps(state))

    monkeypatch.setattr(training, "build_model", None)  # must load last.keras instead
    resumed = train_model(KIND, smoke_profile, features, run_dir, seed=0)
    assert "resuming at epoch 2" in capsys.readouterr().err
    assert len(resumed.history["loss"]) == 2
    assert resumed.history["val_roc_auc"][0] == history["val_roc_auc"][0]
    state = _json(run_dir / "state.json")
    assert state["epoch"] == 1 and state["finished"]
    assert {p.name for p in run_dir.iterdir()} == RUN_FILES


def test_other_profile_in_the_same_folder_raises(trained, features, smoke_profile):
    other = smoke_profile.replace(model=smoke_profile.model.replace(head_units=(16,)))
    with pytest.raises(TrainingError, match="different configuration"):
        train_model(KIND, other, features, trained.run_dir, seed=0, progress=False)
    other_lr = smoke_profile.replace(train=smoke_profile.train.replace(learning_rate=0.1))
    with pytest.raises(TrainingError, match="different configuration"):
        train_model(KIND, other_lr, features, trained.run_dir, seed=0, progress=False)


def test_the_graph_optimizer_switch_is_not_part_of_a_runs_identity(
    trained, features, smoke_profile, monkeypatch
):
    """A finished smoke run (graph optimizer off) is found under the switch on, too."""
    assert smoke_profile.train.graph_optimizer is False
    switched = smoke_profile.replace(train=smoke_profile.train.replace(graph_optimizer=True))
    monkeypatch.setattr(keras.Model, "fit", lambda *a, **k: pytest.fail("trained again"))
    again = train_model(KIND, switched, features, trained.run_dir, seed=0, progress=False)
    assert again.history == trained.history


def test_train_model_sets_the_graph_optimizer_of_its_profile(smoke_profile, monkeypatch, tmp_path):
    import tensorflow as tf

    switched = []
    monkeypatch.setattr(training, "use_graph_optimizer", switched.append)
    one_class = _fake_features([1] * 10, [1] * 10)
    with pytest.raises(TrainingError):  # stops after the switch, at the carve-out
        train_model(KIND, smoke_profile, one_class, tmp_path, progress=False)
    assert switched == [False]
    monkeypatch.undo()
    try:
        training.use_graph_optimizer(False)
        assert tf.config.optimizer.get_experimental_options()["disable_meta_optimizer"]
        training.use_graph_optimizer(True)
        assert not tf.config.optimizer.get_experimental_options()["disable_meta_optimizer"]
    finally:
        training.use_graph_optimizer(smoke_profile.train.graph_optimizer)


def test_load_trained_errors_name_the_path(tmp_path):
    with pytest.raises(TrainingError, match="best.keras: no trained model"):
        load_trained(tmp_path)
    (tmp_path / "best.keras").write_bytes(b"not a model")
    with pytest.raises(TrainingError, match="cannot load model"):
        load_trained(tmp_path)


# --- data checks ----------------------------------------------------------------------------


def test_carve_validation_is_stratified_disjoint_and_keeps_windows_together():
    rng = np.random.default_rng(0)
    labels = np.array([1] * 20 + [0] * 60)
    fs = _fake_features(labels, rng.integers(1, 5, labels.size))
    train_ids, val_ids = carve_validation(fs, 0.25, seed=3)
    assert not set(train_ids) & set(val_ids)
    assert set(train_ids) | set(val_ids) == set(fs.records)
    assert len(val_ids) == 20
    per_record = fs.meta.drop_duplicates("record").set_index("record")["label"]
    assert per_record.loc[val_ids].sum() == 5  # 25 % of the 20 abnormal
    train_rows, val_rows = fs.select_records(train_ids), fs.select_records(val_ids)
    assert len(train_rows) + len(val_rows) == len(fs)
    assert not set(train_rows.records) & set(val_rows.records)
    # reproducible from the seed, different for another seed
    assert sorted(carve_validation(fs, 0.25, seed=3)[1]) == sorted(val_ids)
    assert sorted(carve_validation(fs, 0.25, seed=4)[1]) != sorted(val_ids)


def test_single_class_or_empty_training_data_raises(smoke_profile, tmp_path):
    one_class = _fake_features([0] * 10, [1] * 10)
    with pytest.raises(TrainingError, match="single class"):
        carve_validation(one_class, 0.2, seed=0)
    with pytest.raises(TrainingError, match="single class"):
        train_model(KIND, smoke_profile, one_class, tmp_path / "run", progress=False)
    with pytest.raises(TrainingError, match="empty"):
        carve_validation(one_class.subset(np.zeros(10, bool)), 0.2, seed=0)
    assert not (tmp_path / "run" / "best.keras").exists()


def test_feature_batches_draw_one_window_per_record():
    labels = np.array([1, 0, 0, 1, 0, 0])
    fs = _fake_features(labels, [3, 1, 2, 4, 1, 2])
    weights = record_weights(fs.meta, "label")  # 2 abnormal, 4 normal records
    batches = FeatureBatches(
        fs, "waveform", 4, seed=0, one_window_per_record=True, row_weights=weights
    )
    assert len(batches) == 2  # 6 records, 4 a batch
    draws = []
    for epoch in range(3):
        batches.set_epoch(epoch)
        rows = batches.index
        assert sorted(fs.records[rows]) == sorted(set(fs.records))
        draws.append(rows.copy())
    batches.set_epoch(1)  # a pure function of (seed, epoch): resumable
    np.testing.assert_array_equal(batches.index, draws[1])
    x, y, w = batches[0]
    assert set(x) == {"waveform"} and x["waveform"].dtype == np.float32
    np.testing.assert_array_equal(w, np.where(y > 0.5, 1.5, 0.75))


def test_finished_state_reads_a_finished_run_only(trained, smoke_profile, tmp_path):
    state = run_dir.finished_state(trained.run_dir, smoke_profile)
    assert state is not None and state["best_epoch"] == trained.best_epoch
    more = smoke_profile.replace(train=smoke_profile.train.replace(epochs=99))
    assert run_dir.finished_state(trained.run_dir, more) is None  # would resume
    assert run_dir.finished_state(tmp_path, smoke_profile) is None  # nothing there
    other = smoke_profile.replace(model=smoke_profile.model.replace(width=48))
    with pytest.raises(TrainingError, match="different configuration"):
        run_dir.finished_state(trained.run_dir, other)
    assert _json(trained.run_dir / "config.json")["params"] == trained.model.count_params()


def _confounded(windows=1):
    """Records of two subsets whose abnormal rates differ, as PhysioNet's a and e."""
    labels, subsets = [], []
    for subset, _, n_abnormal, n_normal in (("a", 0, 30, 10), ("e", 1, 5, 45)):
        labels += [1] * n_abnormal + [0] * n_normal
        subsets += [subset] * (n_abnormal + n_normal)
    return _fake_features(labels, [windows] * len(labels), subsets)


def test_record_weights_balance_classes_overall_or_within_each_subset():
    fs = _confounded()
    meta = fs.meta
    by_label = record_weights(meta, "label")  # 35 abnormal, 55 normal of 90
    np.testing.assert_allclose(by_label[meta["label"] == 1], 90 / 70)
    np.testing.assert_allclose(by_label[meta["label"] == 0], 90 / 110)
    by_subset = record_weights(meta, "subset")
    assert by_subset.mean() == pytest.approx(1.0)
    for subset in ("a", "e"):
        rows = (meta["subset"] == subset).to_numpy()
        per_class = [by_subset[rows & (meta["label"] == y).to_numpy()].sum() for y in (0, 1)]
        assert per_class[0] == pytest.approx(per_class[1])  # subset says nothing of the label
    # subsets keep their share of the records: 40 and 50
    share_a = by_subset[(meta["subset"] == "a").to_numpy()].sum() / by_subset.sum()
    assert share_a == pytest.approx(40 / 90)


def test_record_weights_are_per_record_not_per_window():
    one = record_weights(_confounded().meta, "subset")
    fs = _confounded(windows=3)
    three = record_weights(fs.meta, "subset")
    np.testing.assert_allclose(three[fs.meta["window"].to_numpy() == 0], one)


def test_subset_balance_stratifies_the_carve_out_by_subset_and_label():
    fs = _confounded()
    _, val_ids = carve_validation(fs, 0.2, seed=0, balance="subset")
    val = fs.meta.drop_duplicates("record").set_index("record").loc[val_ids]
    counts = val.groupby(["subset", "label"]).size().to_dict()
    assert counts == {("a", 0): 2, ("a", 1): 6, ("e", 0): 9, ("e", 1): 1}


def test_subset_balance_needs_subsets_and_a_known_mode():
    fs = _confounded()
    with pytest.raises(TrainingError, match="subset"):
        record_weights(fs.meta.drop(columns="subset"), "subset")
    with pytest.raises(TrainingError, match="balance must be one of"):
        carve_validation(fs, 0.2, seed=0, balance="site")


def test_subset_balance_falls_back_to_labels_when_a_pair_cannot_be_split():
    fs = _confounded()
    meta = fs.meta.copy()
    meta.loc[0, "subset"] = "c"  # a subset with a single record
    fs = FeatureSet(fs.spectrograms, fs.waveforms, meta)
    _, val_ids = carve_validation(fs, 0.2, seed=0, balance="subset")
    _, by_label = carve_validation(fs, 0.2, seed=0, balance="label")
    assert sorted(val_ids) == sorted(by_label)  # fell back to the labels


def test_subset_balanced_training_weights_its_validation_auc(features, smoke_profile, tmp_path):
    profile = smoke_profile.replace(train=smoke_profile.train.replace(epochs=2, balance="subset"))
    result = train_model(KIND, profile, features, tmp_path / "run", seed=0, progress=False)
    config = _json(tmp_path / "run" / "config.json")
    assert config["profile"]["train"]["balance"] == "subset"
    val = features.select_records(result.val_records)
    scores = training.predict_proba(result.model, val, KIND)
    from sklearn.metrics import roc_auc_score

    weighted = roc_auc_score(val.labels, scores, sample_weight=record_weights(val.meta, "subset"))
    assert result.best_val_auc == pytest.approx(weighted)


def test_run_dir_owns_the_run_files(trained, tmp_path):
    from audiofuse.model.run_dir import RunDir

    run = RunDir(trained.run_dir)
    assert run.state["finished"] and run.config["kind"] and run.history["val_roc_auc"]
    assert run.checkpoint("best").exists() and run.checkpoint("last").exists()
    copy = RunDir(tmp_path / "copy")
    assert copy.state is None and copy.config == {} and not copy.is_scored(["first_5s"])
    copy.write_json("state", run.state)
    val = pd.DataFrame({"record": ["a", "b"], "label": [0, 1], "score": [0.2, 0.8]})
    test = pd.DataFrame({"record": ["c"], "label": [1], "score": [0.6]})
    copy.write_scores("first_5s", val, test)
    assert copy.is_scored(["first_5s"]) and not copy.is_scored(["first_5s", "full_recording"])
    got_val, got_test = copy.scores("first_5s")
    assert got_val["record"].tolist() == ["a", "b"] and got_test["score"].tolist() == [0.6]
    assert not list(copy.path.glob(".*"))  # no temporary files left behind


def test_a_tensorflow_imported_before_prepare_tensorflow_is_named_when_onednn_stayed_off():
    """TensorFlow imported before ``prepare_tensorflow()`` keeps oneDNN at its default;
    where that is off, training says so instead of running slower."""
    import os
    import subprocess
    import sys

    code = (
        "import warnings, tensorflow, keras\n"
        "from audiofuse.model.tensorflow_env import prepare_tensorflow\n"
        "prepare_tensorflow()\n"
        "from audiofuse.model.training import onednn_enabled\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    on = onednn_enabled()\n"
        "print(on, any('imported before' in str(w.message) for w in caught))"
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout.split()
    on, warned = out  # on: TensorFlow's own default on this CPU, as it was imported first
    assert on in ("True", "False") and warned == str(on == "False")  # named only when off
