"""AudioFuse+ ingredients: each is off in the faithful profiles and does what it says."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import pytest

from audiofuse.config import AUGMENT_PRESETS, get_profile
from audiofuse.data.indexes import index_physionet, physionet_split
from audiofuse.data.protocols import Fold
from audiofuse.data.splits import TrainingError
from audiofuse.experiments.specs import (
    PLUS_BRANCHES,
    PLUS_LABEL_BALANCE,
    PLUS_LADDER,
    PLUS_RECIPE,
    branch_specs,
)
from audiofuse.experiments.tables.plus import ladder_rows
from audiofuse.features.batches import FeatureBatches
from audiofuse.features.extract import extract_features
from audiofuse.model.architecture import build_model, copy_branch_weights, deployable
from audiofuse.model.checkpoint import WeightAverage
from audiofuse.model.training import learning_rate, train_model


@pytest.fixture(scope="module")
def features(synthetic_roots, smoke_profile):
    train, _ = physionet_split(index_physionet(synthetic_roots["physionet2016"]))
    sample = train.groupby("label").head(12).reset_index(drop=True)
    return extract_features(sample, smoke_profile.features, n_jobs=1, progress=False)


def test_faithful_profiles_leave_every_ingredient_off():
    for name in ("smoke", "cpu", "paper"):
        train = get_profile(name).train
        assert train.aux_loss_weight == 0 and train.ema_momentum == 0
        assert train.lr_schedule == "constant" and train.augment == "none"
    plus, cpu = get_profile("plus"), get_profile("cpu")
    assert plus.features == cpu.features and plus.model == cpu.model
    assert plus.train == PLUS_RECIPE.profile(cpu).train  # the kept rungs are the profile
    assert AUGMENT_PRESETS[PLUS_LADDER[-1].profile(cpu).train.augment].enabled


def test_ladder_rungs_each_add_to_the_one_before():
    for before, after in zip(PLUS_LADDER, PLUS_LADDER[1:], strict=False):
        assert set(before.overrides) < set(after.overrides)
    assert {spec.kind for spec in PLUS_BRANCHES} == {"spectrogram", "waveform"}
    assert all(("aux_loss_weight", 0.5) not in spec.overrides for spec in PLUS_BRANCHES)
    assert all(("balance", "subset") not in spec.overrides for spec in PLUS_BRANCHES)


def test_aux_heads_add_two_outputs_that_deployable_strips(smoke_profile):
    cfg = smoke_profile.model
    plain = build_model("fusion", smoke_profile.features, cfg)
    aux = build_model("fusion", smoke_profile.features, cfg, aux_heads=True)
    assert len(aux.outputs) == 3 and len(plain.outputs) == 1
    served = deployable(aux)
    assert len(served.outputs) == 1 and served.count_params() == plain.count_params()
    assert deployable(plain) is plain
    # single-branch models have nothing to balance
    assert len(build_model("waveform", smoke_profile.features, cfg, aux_heads=True).outputs) == 1


def test_learning_rate_warms_up_then_decays_to_zero(smoke_profile):
    cfg = smoke_profile.train.replace(
        lr_schedule="cosine", warmup_epochs=2, epochs=10, batch_size=10, learning_rate=1e-3
    )
    schedule = learning_rate(cfg, n_examples=100)  # 10 steps per epoch
    at = {step: float(schedule(step)) for step in (0, 10, 20, 60, 100)}
    assert at[0] == 0.0 and at[10] == pytest.approx(5e-4)
    assert at[20] == pytest.approx(1e-3) and 0 < at[60] < 1e-3 and at[100] < 1e-6
    assert learning_rate(smoke_profile.train, 100) == smoke_profile.train.learning_rate
    with pytest.raises(TrainingError, match="lr_schedule"):
        learning_rate(cfg.replace(lr_schedule="step"), 100)


def test_weight_average_tracks_swaps_in_and_survives_a_restart(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, use_bias=False)])
    kernel = model.trainable_variables[0]
    average = WeightAverage(momentum=0.5)
    average.set_model(model)
    for value in (1.0, 3.0, 5.0):
        kernel.assign(np.full((2, 1), value, "float32"))
        average.on_train_batch_end(0)
    # the first update copies; then momentum min(0.5, (1 + t) / (10 + t)) = 2/11, 3/12
    second = (2 / 11) * 1.0 + (9 / 11) * 3.0
    expected = 0.25 * second + 0.75 * 5.0
    with average.averaged():
        np.testing.assert_allclose(kernel.numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(kernel.numpy(), 5.0)  # raw weights are back
    average.save(tmp_path / "average.npz")
    restored = WeightAverage(momentum=0.5)
    restored.load(tmp_path / "average.npz")
    assert restored.updates == 3
    np.testing.assert_allclose(restored.shadow[0], expected, rtol=1e-6)


def test_augmented_batches_depend_on_seed_epoch_and_batch_only(features, smoke_profile):
    plus = AUGMENT_PRESETS["plus"]

    def batches(kind="fusion", **kw):
        return FeatureBatches(
            features, kind, 8, seed=3, augment=plus, feature_config=smoke_profile.features, **kw
        )

    a, b = batches(), batches()
    x_a, y_a = a[0]
    x_b, _ = b[0]
    np.testing.assert_array_equal(x_a["waveform"], x_b["waveform"])
    plain = features.inputs("fusion", np.sort(a.index[:8]))
    assert not np.allclose(x_a["waveform"], plain["waveform"])
    b.set_epoch(1)
    assert not np.allclose(b[0][0]["waveform"], x_a["waveform"])
    assert ((y_a >= 0) & (y_a <= 1)).all()  # mixup: soft labels
    assert set(batches("spectrogram")[0][0]) == {"spectrogram"}
    _, y3 = batches(n_outputs=3)[0]
    assert isinstance(y3, tuple) and len(y3) == 3
    with pytest.raises(ValueError, match="feature_config"):
        FeatureBatches(features, "fusion", 8, augment=plus)


def test_plus_training_saves_a_one_output_best_model_and_the_average(
    features, smoke_profile, tmp_path
):
    recipe = PLUS_LADDER[-1].profile(smoke_profile)
    result = train_model("fusion", recipe, features, tmp_path / "run", seed=0, progress=False)
    assert len(result.model.outputs) == 1
    assert (tmp_path / "run" / "average.npz").exists()
    assert len(result.history["val_roc_auc"]) == recipe.train.epochs
    last = keras.saving.load_model(tmp_path / "run" / "last.keras", compile=False)
    assert len(last.outputs) == 3  # the training model, to resume from


def _runs(rows):
    base = {"slug": "s", "mcc": 0.5, "f1_abnormal": 0.5, "accuracy": 0.7}
    base |= {"sensitivity": 0.7, "specificity": 0.7, "macc": 0.7}
    return pd.DataFrame([base | row for row in rows])


def test_ladder_table_gives_rung_deltas_knockouts_and_ensembles():
    r0, r1 = PLUS_LADDER[0].name, PLUS_LADDER[1].name
    runs = _runs(
        [
            {"model": r0, "evaluation": "first_5s", "seed": s, "roc_auc": auc}
            for s, auc in ((0, 0.80), (1, 0.82))
        ]
        + [
            {"model": r1, "evaluation": "first_5s", "seed": s, "roc_auc": auc}
            for s, auc in ((0, 0.85), (1, 0.87))
        ]
    )
    knockouts = _runs(
        [
            {"model": r1, "evaluation": "knockout_spectrogram", "seed": 0, "roc_auc": 0.7},
            {"model": r1, "evaluation": "knockout_waveform", "seed": 0, "roc_auc": 0.6},
        ]
    )
    ensembles = pd.DataFrame(
        [{"model": f"{r1}, ensemble of 2 seeds", "evaluation": "first_5s", "seeds": 2, "roc_auc": 0.9}]
    )
    table = ladder_rows(runs, knockouts, ensembles).set_index("model")
    assert table.loc[r0, "rung"] == 0 and table.loc[r1, "rung"] == 1
    assert table.loc[r1, "class balance"] == "within each subset"
    assert table.loc[r1, "Δ ROC-AUC vs rung before"] == "+0.050"
    assert table.loc[r0, "Δ ROC-AUC vs rung before"] == "—"
    assert table.loc[r1, "ROC-AUC, spectrogram knocked out"] == "0.700"
    assert table.loc[r1, "ROC-AUC, waveform knocked out"] == "0.600"
    assert table.loc[r0, "ROC-AUC, waveform knocked out"] == "—"
    assert table.loc[f"{r1}, ensemble of 2 seeds", "ROC-AUC"] == "0.900"
    assert table.loc[f"{r1}, ensemble of 2 seeds", "class balance"] == "within each subset"


def test_label_balance_ladder_compares_with_its_own_rung_before():
    l1, l2, l3 = (spec.name for spec in PLUS_LABEL_BALANCE)
    runs = _runs(
        [
            {"model": l1, "evaluation": "first_5s", "seed": 0, "roc_auc": 0.79},
            {"model": l2, "evaluation": "first_5s", "seed": 0, "roc_auc": 0.80},
            {"model": l3, "evaluation": "first_5s", "seed": 0, "roc_auc": 0.78},
            {"model": PLUS_BRANCHES[0].name, "evaluation": "first_5s", "seed": 0, "roc_auc": 0.7},
        ]
    )
    table = ladder_rows(runs, pd.DataFrame(), pd.DataFrame()).set_index("model")
    assert table.loc[l1, "rung"] == 1 and table.loc[l1, "Δ ROC-AUC vs rung before"] == "—"
    assert table.loc[l2, "rung"] == 2 and table.loc[l2, "Δ ROC-AUC vs rung before"] == "+0.010"
    assert table.loc[l2, "class balance"] == "overall (paper)"
    assert table.loc[l3, "rung"] == 3 and table.loc[l3, "Δ ROC-AUC vs rung before"] == "-0.020"
    assert table.loc[PLUS_BRANCHES[0].name, "rung"] == "—"
    assert PLUS_LABEL_BALANCE[1] == PLUS_RECIPE


def test_parallel_runs_split_the_cores_and_respect_the_environment(monkeypatch):
    from audiofuse.experiments.scheduler import worker_threads

    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("TF_NUM_INTEROP_THREADS", raising=False)
    assert worker_threads(2, cores=2)["TF_NUM_INTRAOP_THREADS"] == "1"
    assert worker_threads(2, cores=16)["OMP_NUM_THREADS"] == "8"
    assert worker_threads(8, cores=2)["TF_NUM_INTRAOP_THREADS"] == "1"
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "3")
    assert "TF_NUM_INTRAOP_THREADS" not in worker_threads(2, cores=2)


def test_staged_fusion_starts_from_its_recipes_trained_branches(
    features, smoke_profile, tmp_path
):
    staged = PLUS_LABEL_BALANCE[-1]
    branches = branch_specs(staged)
    assert {b.run_slug(smoke_profile) for b in branches.values()} == {
        b.run_slug(smoke_profile) for b in PLUS_BRANCHES
    }
    cfg, feats = smoke_profile.model, smoke_profile.features
    spectrogram, waveform = (build_model(k, feats, cfg) for k in ("spectrogram", "waveform"))
    spectrogram.save(tmp_path / "spectrogram.keras")
    waveform.save(tmp_path / "waveform.keras")
    fusion = build_model("fusion", feats, cfg)
    copied = copy_branch_weights(fusion, spectrogram, "spectrogram")
    assert copied and all(name.startswith("vit_") for name in copied)
    for name in copied:
        for mine, theirs in zip(
            fusion.get_layer(name).get_weights(), spectrogram.get_layer(name).get_weights(),
            strict=True,
        ):
            np.testing.assert_array_equal(mine, theirs)
    wider = build_model("spectrogram", feats, cfg.replace(width=2 * cfg.width))
    with pytest.raises(ValueError, match="another model configuration"):
        copy_branch_weights(fusion, wider, "spectrogram")
    recipe = staged.profile(smoke_profile)
    recipe = recipe.replace(train=recipe.train.replace(epochs=1))
    with pytest.raises(TrainingError, match="staged training needs"):
        train_model("fusion", recipe, features, tmp_path / "bare", seed=0, progress=False)
    init = {"spectrogram": tmp_path / "spectrogram.keras", "waveform": tmp_path / "waveform.keras"}
    result = train_model(
        "fusion", recipe, features, tmp_path / "run", seed=0, progress=False, init_from=init
    )
    assert result.model is not None
    stored = (tmp_path / "run" / "config.json").read_text()
    assert "init_from" in stored and "waveform.keras" in stored


def test_scheduler_starts_a_staged_fusion_only_after_its_branches(smoke_profile):
    from audiofuse.experiments.scheduler import _next_ready

    class Ctx:
        profile = smoke_profile

    staged, spectrogram, waveform = PLUS_LABEL_BALANCE[-1], *PLUS_BRANCHES
    jobs = [(staged, 0, False, None), (spectrogram, 0, False, None), (waveform, 0, False, None)]
    assert _next_ready(Ctx, jobs, set()) == 1  # the branches first
    running = {f"{spectrogram.run_slug(smoke_profile)}/seed0"}
    assert _next_ready(Ctx, jobs[:1], running) is None  # waits for the running branch
    assert _next_ready(Ctx, [(staged, 1, False, None)], running) == 0  # other seed: ready
    # on a fold, it waits for the branches of the same fold only
    fold = Fold("a", np.array(["r1"]), np.array(["r2"]))
    assert _next_ready(Ctx, [(staged, 0, False, fold)], running) == 0
    folded = {f"{spectrogram.run_slug(smoke_profile)}-fold_a/seed0"}
    assert _next_ready(Ctx, [(staged, 0, False, fold)], folded) is None


def test_train_runs_knows_every_table_and_the_loso_folds():
    from audiofuse.config import TRAIN_RUNS_TABLES
    from audiofuse.experiments.scheduler import TABLES
    from audiofuse.experiments.specs import TABLE_SPECS

    assert TABLES == TRAIN_RUNS_TABLES
    assert set(TABLES) == {*TABLE_SPECS, "loso", "robust_loso"}


def _smoke_context(synthetic_roots, tmp_path, seeds):
    """A smoke-profile context on the synthetic data, its runs and results under tmp_path."""
    from audiofuse.experiments import context

    return context.setup(
        profile="smoke", data_dir=str(synthetic_roots["physionet2016"].parent), seeds=seeds,
        runs_dir=str(tmp_path / "runs"), results_dir=str(tmp_path / "results"),
    )


def test_train_runs_queues_the_loso_folds_of_the_first_seed_after_the_tables(
    synthetic_roots, tmp_path
):
    from audiofuse.experiments.scheduler import _pending_jobs
    from audiofuse.experiments.specs import LOSO_MODELS, PAPER_MODELS

    ctx = _smoke_context(synthetic_roots, tmp_path, seeds=[0, 1])
    jobs = _pending_jobs(ctx, ("main", "loso"), pascal=False)
    main, loso = jobs[: 2 * len(PAPER_MODELS)], jobs[2 * len(PAPER_MODELS) :]
    assert all(fold is None for *_, fold in main)
    # seed by seed, the slowest model first: the last run to start is a short one
    assert [(spec.kind, seed) for spec, seed, *_ in main] == [
        (kind, seed) for seed in (0, 1) for kind in ("fusion", "spectrogram", "waveform")
    ]
    folds = sorted({fold.name for *_, fold in loso})
    assert len(folds) >= 2 and len(loso) == len(LOSO_MODELS) * len(folds)
    assert {seed for _, seed, _, _ in loso} == {0}  # the first seed only, as notebook 08
    assert {spec.name for spec, *_ in loso} == {spec.name for spec in LOSO_MODELS}


def test_train_runs_scores_pascal_for_the_main_table_and_the_plus_pascal_rows(
    synthetic_roots, tmp_path
):
    """``--pascal``: notebooks 06 and 08 then find every PASCAL score they show."""
    from audiofuse.experiments.scheduler import _pending_jobs
    from audiofuse.experiments.specs import PAPER_MODELS, PLUS_PASCAL

    ctx = _smoke_context(synthetic_roots, tmp_path, seeds=[0])
    slugs = {spec.run_slug(ctx.profile) for spec in (*PAPER_MODELS, *PLUS_PASCAL)}
    jobs = _pending_jobs(ctx, ("main", "plus"), pascal=True)
    scored = {spec.run_slug(ctx.profile) for spec, _, with_pascal, _ in jobs if with_pascal}
    assert scored == slugs
    assert not any(with_pascal for *_, with_pascal, _ in _pending_jobs(ctx, ("plus",), False))


def test_train_runs_only_keeps_the_named_models_and_names_a_wrong_one(
    synthetic_roots, tmp_path
):
    """``train-runs --runs fusion-balancesubset``: that model's seeds, nothing else."""
    from audiofuse.data.splits import TrainingError
    from audiofuse.experiments.scheduler import _pending_jobs

    ctx = _smoke_context(synthetic_roots, tmp_path, seeds=[1, 2])
    jobs = _pending_jobs(ctx, ("balance",), False, only=["fusion-balancesubset"])
    assert [(spec.run_slug(ctx.profile), seed) for spec, seed, *_ in jobs] == [
        ("fusion-balancesubset", 1),
        ("fusion-balancesubset", 2),
    ]
    with pytest.raises(TrainingError, match="fusion-balance: not a run of the tables balance"):
        _pending_jobs(ctx, ("balance",), False, only=["fusion-balance"])


def test_a_killed_training_process_is_one_error_naming_the_run(
    synthetic_roots, tmp_path, monkeypatch
):
    """An OOM-killed worker breaks the pool: one TrainingError naming the run, no new
    run started (each would fail the same way), no traceback from the pool."""
    import concurrent.futures as cf
    from concurrent.futures.process import BrokenProcessPool

    from audiofuse.data.splits import TrainingError
    from audiofuse.experiments import scheduler

    class KilledPool(cf.ThreadPoolExecutor):
        def __init__(self, workers, mp_context=None):
            super().__init__(workers)

        def submit(self, fn, *args):
            future = cf.Future()
            future.set_exception(BrokenProcessPool("a child process terminated abruptly"))
            return future

    monkeypatch.setattr(cf, "ProcessPoolExecutor", KilledPool)
    ctx = _smoke_context(synthetic_roots, tmp_path, seeds=[1, 2])
    jobs = scheduler._pending_jobs(ctx, ("balance",), False, only=["fusion-balancesubset"])
    with pytest.raises(TrainingError, match=r"killed .* fusion-balancesubset/seed1; finished"):
        scheduler._run_pool(ctx, {}, jobs, 1, None, 0.0)
    assert len(jobs) == 1  # seed 2 never started


def test_a_train_runs_job_scores_knockouts_only_with_diagnostics(monkeypatch):
    """``train-runs --diagnostics``: each job also scores its run's branch knock-outs."""
    from types import SimpleNamespace

    from audiofuse.experiments import scheduler
    from audiofuse.experiments.specs import PAPER_MODELS

    calls = []
    result = SimpleNamespace(best_val_auc=0.9, history={"loss": [1.0]})
    monkeypatch.setattr(scheduler, "setup", lambda **kw: SimpleNamespace(**kw))
    monkeypatch.setattr(scheduler, "train_and_score", lambda ctx, spec, seed, fold: result)
    monkeypatch.setattr(scheduler, "knockout_scores", lambda ctx, spec, seed: calls.append(seed))
    monkeypatch.setattr(scheduler, "short_clip_scores", lambda ctx, spec, seed, fold: True)
    monkeypatch.setattr(scheduler, "_label", lambda ctx, spec, seed, fold: f"run{seed}")
    fusion = PAPER_MODELS[2]
    scheduler._run_job({"diagnostics": False}, fusion, 0, False, None)
    scheduler._run_job({"diagnostics": True}, fusion, 1, False, None)
    assert calls == [1]
