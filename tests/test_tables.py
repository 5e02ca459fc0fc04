"""The table builders on fixed per-record scores: no training, no models, no features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from audiofuse import experiments as ex
from audiofuse.config import get_profile
from audiofuse.experiments.runs import evaluate_split
from audiofuse.experiments.tables.pascal import pascal_figure, pascal_rows, pascal_run_rows
from audiofuse.reporting.paper import PAPER_MAIN, PAPER_PASCAL, PAPER_VIT_SWEEP
from audiofuse.reporting.provenance import write_table

N_BOOT = 20
SEEDS = (0, 1)


def _scores(seed: int, shift: float, n: int = 40) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fixed (val, test) per-record scores: abnormal records score ``shift`` higher."""
    rng = np.random.default_rng(100 * seed + int(10 * shift))
    frames = []
    for split, size in (("val", n // 2), ("test", n)):
        labels = np.tile([0, 1], size // 2)
        scores = np.clip(rng.uniform(0, 0.6, size) + shift * labels, 0, 1)
        records = [f"{split}{i:03d}" for i in range(size)]
        frames.append(pd.DataFrame({"record": records, "label": labels, "score": scores}))
    return frames[0], frames[1]


@pytest.fixture()
def ctx(tmp_path):
    profile = get_profile("smoke")
    return ex.Context(
        profile,
        "synthetic",
        tmp_path / "physionet2016",
        tmp_path / "pascal",
        SEEDS,
        tmp_path / "runs",
        tmp_path / "results",
        n_boot=N_BOOT,
        progress=False,
    )


def _runs(ctx, specs, shifts, evaluations=("first_5s",), params=None) -> pd.DataFrame:
    """Per-seed rows as run_models gives them, with the scores saved in each run folder."""
    rows = []
    for spec, shift in zip(specs, shifts, strict=True):
        for seed in ctx.seeds:
            for name in evaluations:
                val, test = _scores(seed, shift + (0.05 if name == "full_recording" else 0))
                ctx.run(spec, seed).write_scores(name, val, test)
                rows.append(
                    {
                        "model": spec.name,
                        "kind": spec.kind,
                        "slug": spec.run_slug(ctx.profile),
                        "seed": seed,
                        "evaluation": name,
                        "params": (params or {}).get(spec.name, 1000),
                        "backend": "tensorflow",
                        "train_commit": "abc1234",
                        **evaluate_split(val, test, N_BOOT, seed),
                    }
                )
    return pd.DataFrame(rows)


def _fmt(values) -> str:
    values = np.asarray(values, dtype=float)
    return f"{values.mean():.3f} ± {values.std(ddof=1):.3f}"


def test_main_table_summarises_seeds_beside_the_paper(ctx):
    runs = _runs(ctx, ex.PAPER_MODELS, (0.2, 0.3, 0.4), ("first_5s", "full_recording"))
    table = ex.main_table(ctx, runs)
    assert list(table[["model", "evaluation"]].itertuples(index=False, name=None)) == [
        (spec.name, name)
        for spec in ex.PAPER_MODELS
        for name in ("first_5s", "full_recording")
    ]
    assert (table["seeds"] == 2).all()
    fusion = table[(table["model"] == ex.PAPER_MODELS[2].name) & (table["evaluation"] == "first_5s")]
    aucs = [roc_auc_score(t["label"], t["score"]) for t in (_scores(s, 0.4)[1] for s in SEEDS)]
    assert fusion["ROC-AUC"].item() == _fmt(aucs)
    assert fusion["paper ROC-AUC"].item() == PAPER_MAIN["fusion"]["roc_auc"]
    full = table[table["evaluation"] == "full_recording"]
    assert full["paper ROC-AUC"].isna().all()  # the paper reports the first 5 s only
    threshold = runs[(runs["kind"] == "fusion") & (runs["evaluation"] == "first_5s")]["threshold"]
    assert fusion["threshold"].item() == round(float(threshold.mean()), 3)
    assert (ctx.results / "main_comparison.md").exists()
    assert (ctx.results / "main_comparison_per_seed.csv").exists()
    names = {p.name for p in table.attrs["figures"]}
    assert {"roc_main_comparison_first_5s.png", "roc_main_comparison_full_recording.png"} <= names
    assert "confusion_fusion_first_5s.png" in names
    assert all(p.exists() for p in table.attrs["figures"])


def test_vit_sweep_lists_params_and_the_paper_per_depth_and_heads(ctx):
    params = {"4 x 8": 1_990_000, "6 x 8": 2_560_000, "8 x 8": 3_170_000, "12 x 6": 4_350_000}
    runs = _runs(ctx, ex.VIT_SWEEP, (0.1, 0.2, 0.3, 0.4), params=params)
    table = ex.vit_sweep_table(ctx, runs)
    assert table["ViT depth x heads"].tolist() == list(params)
    assert table["total params (M)"].tolist() == [1.99, 2.56, 3.17, 4.35]
    assert table["paper ROC-AUC"].tolist() == [
        PAPER_VIT_SWEEP[k]["roc_auc"] for k in ((4, 8), (6, 8), (8, 8), (12, 6))
    ]
    aucs = [roc_auc_score(t["label"], t["score"]) for t in (_scores(s, 0.1)[1] for s in SEEDS)]
    assert table["ROC-AUC"].iloc[0] == _fmt(aucs)
    assert (ctx.results / "vit_sweep.md").exists() and table.attrs["figures"] == []


def test_fusion_ablation_has_one_row_per_strategy_and_no_paper_column(ctx):
    runs = _runs(ctx, ex.FUSION_ABLATION, (0.3, 0.2, 0.1), params={"Gated FiLM": 1234})
    table = ex.fusion_ablation_table(ctx, runs)
    assert table["fusion"].tolist() == [spec.name for spec in ex.FUSION_ABLATION]
    assert table["total params"].tolist() == [1000, 1234, 1000]
    assert not [c for c in table.columns if c.startswith("paper")]
    mccs = runs[runs["model"] == "Cross-attention"]["mcc"]
    assert table["MCC"].iloc[2] == _fmt(mccs)


def test_balance_ablation_takes_classical_rows_without_params(ctx):
    runs = _runs(ctx, ex.BALANCE_ABLATION, (0.1, 0.15, 0.2, 0.25, 0.3, 0.35))
    classical = runs[runs["kind"] == "waveform"].assign(
        model="Classical", kind="classical", params=np.nan, backend=None, train_commit=None
    )
    table = ex.balance_ablation_table(ctx, runs, extra_rows=classical)
    assert len(table) == len(ex.BALANCE_ABLATION) + 1
    assert table["total params"].iloc[-1] == "—"
    md = (ctx.results / "balance_ablation.md").read_text()
    assert "tensorflow @ abc1234" in md  # trained by, from the deep runs only


def test_cross_dataset_rows_threshold_each_protocol_on_its_own_validation():
    spec = ex.PAPER_MODELS[2]
    physionet = _scores(0, 0.4)
    zero_val, zero = _scores(5, 0.1)  # zero_val unused: zero-shot takes PhysioNet's threshold
    head_val, head_test = _scores(6, 0.3, n=20)
    pascal = pd.concat(
        [
            zero.assign(protocol="zero_shot", split="test"),
            head_val.assign(protocol="head_trained", split="val"),
            head_test.assign(protocol="head_trained", split="test"),
        ],
        ignore_index=True,
    )
    rows = pascal_run_rows(spec, "fusion", 0, physionet, pascal, N_BOOT, {"backend": "jax"})
    by = {row["protocol"]: row for row in rows}
    physio_auc = roc_auc_score(physionet[1]["label"], physionet[1]["score"])
    zero_auc = roc_auc_score(zero["label"], zero["score"])
    assert by["zero_shot"]["n_test"] == len(zero) and by["head_trained"]["n_test"] == len(head_test)
    assert by["zero_shot"]["roc_auc"] == pytest.approx(zero_auc)
    assert by["zero_shot"]["change_pct"] == pytest.approx(100 * (zero_auc - physio_auc) / physio_auc)
    assert by["zero_shot"]["threshold"] == evaluate_split(*physionet, N_BOOT, 0)["threshold"]
    assert by["head_trained"]["threshold"] == evaluate_split(head_val, head_test, N_BOOT, 0)[
        "threshold"
    ]
    assert by["zero_shot"]["backend"] == "jax" and by["zero_shot"]["slug"] == "fusion"


def test_head_trained_protocol_gives_one_row_per_head_split():
    spec = ex.PAPER_MODELS[2]
    parts = [_scores(5, 0.1)[1].assign(protocol="zero_shot", split="test", head_split=0)]
    for k in range(3):
        val, test = _scores(10 + k, 0.2 + 0.1 * k, n=20)
        parts += [
            val.assign(protocol="head_trained", split="val", head_split=k),
            test.assign(protocol="head_trained", split="test", head_split=k),
        ]
    rows = pascal_run_rows(spec, "fusion", 0, _scores(0, 0.4), pd.concat(parts), N_BOOT)
    heads = [r for r in rows if r["protocol"] == "head_trained"]
    assert [r["head_split"] for r in heads] == [0, 1, 2]
    table = pascal_rows(pd.DataFrame(rows)).set_index("protocol")
    assert table.loc["head_trained", "head splits"] == 3 and table.loc["head_trained", "seeds"] == 1
    assert table.loc["zero_shot", "head splits"] == "—"
    aucs = pd.Series([r["roc_auc"] for r in heads])
    assert table.loc["head_trained", "PASCAL ROC-AUC"] == _fmt(aucs)


def test_cross_dataset_table_and_figure(ctx):
    rows, curves = [], {}
    for spec, shift in zip(ex.PAPER_MODELS, (0.1, 0.2, 0.3), strict=True):
        for seed in SEEDS:
            zero = _scores(seed, shift)[1]
            pascal = pd.concat(
                [
                    zero.assign(protocol="zero_shot", split="test"),
                    _scores(seed, shift, n=20)[0].assign(protocol="head_trained", split="val"),
                    _scores(seed + 9, shift, n=20)[1].assign(protocol="head_trained", split="test"),
                ]
            )
            physionet = _scores(seed, 0.4)
            rows += pascal_run_rows(spec, spec.kind, seed, physionet, pascal, N_BOOT)
            curves[spec.name] = (zero["label"].to_numpy(), zero["score"].to_numpy())
    runs = pd.DataFrame(rows)
    table = pascal_rows(runs)
    assert len(table) == 6 and (table["seeds"] == 2).all()
    assert set(table["protocol"]) == {"zero_shot", "head_trained"}
    assert table["paper ROC-AUC"].iloc[0] == PAPER_PASCAL["spectrogram"]["roc_auc"]
    assert table[table["protocol"] == "head_trained"]["n test"].eq(20).all()
    zero_fusion = runs[(runs["kind"] == "fusion") & (runs["protocol"] == "zero_shot")]
    fusion = table[(table["model"] == ex.PAPER_MODELS[2].name) & (table["protocol"] == "zero_shot")]
    assert fusion["PASCAL ROC-AUC"].item() == _fmt(zero_fusion["roc_auc"])
    assert fusion["change vs PhysioNet (%)"].item() == _fmt(zero_fusion["change_pct"])
    (figure,) = pascal_figure(ctx, curves)
    assert figure.name == "roc_pascal_zero_shot.png" and figure.exists()
    assert pascal_figure(ctx, {}) == []


def test_committed_scores_restore_runs_that_rebuild_the_same_table(ctx, tmp_path):
    """Scores (+ config, history, state; no weights) exported beside the results give back
    runs that the tables read as finished and scored: the same table, without any model."""
    from audiofuse.experiments.scores import export_scores, restore_runs
    from audiofuse.model.run_dir import finished_state

    runs = _runs(ctx, ex.PAPER_MODELS, (0.2, 0.3, 0.4))
    last = ctx.profile.train.epochs - 1
    state = {"epoch": last, "best_epoch": 0, "best_val_auc": 0.5, "wait": 0, "seconds": 1.0,
             "finished": True, "config": {"profile": ctx.profile.to_dict()}}
    for spec in ex.PAPER_MODELS:
        for seed in ctx.seeds:
            run = ctx.run(spec, seed)
            run.write_json("config", {"kind": spec.kind, "params": 1000, "commit": "abc1234"})
            run.write_json("history", {"loss": [0.7]})
            run.write_json("state", state)
            val, test = run.scores("first_5s")
            run.write_scores("first_5s", val, test)  # scores postdate the state
    first = ex.main_table(ctx, runs)
    training = ctx.run("fusion-still-training", 0)
    training.write_json("state", {**state, "finished": False})
    committed = ctx.results / "scores"
    written = export_scores(ctx.runs, committed)  # not the run still training
    assert len(written) == 6 and not list(committed.rglob("*.keras"))
    assert {p.name for p in written[0].iterdir()} == {
        "state.json", "config.json", "history.json", "scores_first_5s.csv.gz"
    }
    assert export_scores(ctx.runs, tmp_path / "again")  # same scores, same bytes
    assert (written[0] / "scores_first_5s.csv.gz").read_bytes() == (
        tmp_path / "again" / written[0].parent.name / "seed0" / "scores_first_5s.csv.gz"
    ).read_bytes()

    fresh = ex.Context(ctx.profile, "synthetic", ctx.physionet_root, ctx.pascal_root, SEEDS,
                       tmp_path / "fresh-runs" / "synthetic" / "smoke",
                       tmp_path / "fresh-results" / "synthetic" / "smoke", n_boot=N_BOOT,
                       progress=False, train=False)
    restored = restore_runs(committed, fresh.runs)
    assert all(finished_state(r.path, ctx.profile) for r in restored)
    rebuilt_runs = ex.run_models(fresh, ex.PAPER_MODELS, full_recording=False)
    rebuilt = ex.main_table(fresh, rebuilt_runs)
    pd.testing.assert_frame_equal(rebuilt, first)


def test_scores_command_round_trips_and_names_a_missing_folder(ctx, tmp_path, capsys):
    from audiofuse.experiments import scores

    _runs(ctx, ex.PAPER_MODELS[:1], (0.3,))
    for seed in ctx.seeds:
        ctx.run(ex.PAPER_MODELS[0], seed).write_json("state", {"epoch": 0, "finished": True})
    assert scores.main(["export", str(ctx.runs), str(tmp_path / "s")]) == 0
    assert scores.main(["restore", str(tmp_path / "s"), str(tmp_path / "r")]) == 0
    restored = tmp_path / "r" / ex.PAPER_MODELS[0].run_slug(ctx.profile) / "seed1"
    assert (restored / "scores_first_5s.csv").read_text() == (
        ctx.run(ex.PAPER_MODELS[0], 1).scores_path("first_5s").read_text()
    )
    assert scores.main(["restore", str(tmp_path / "nowhere"), str(tmp_path / "r")]) == 2
    assert "nowhere: not found" in capsys.readouterr().err


def test_loso_table_holds_out_each_subset(tmp_path):
    """Leave-one-subset-out with the classical baseline on the smoke synthetic data."""
    from audiofuse.experiments.context import physionet_index

    ctx = ex.setup(
        profile="smoke",
        seeds=[0],
        results_dir=str(tmp_path / "results"),
        runs_dir=str(tmp_path / "runs"),
        progress=False,
    )
    runs = ex.loso_classical(ctx, full_recording=False, balances=("label",))
    index = physionet_index(ctx).drop_duplicates("record")
    assert set(runs["evaluation"]) == {"first_5s"} and runs["held_out"].is_unique
    assert runs["n"].sum() <= len(index)  # a subset with one class only gives no fold
    assert runs["roc_auc"].between(0, 1).all()
    assert ex.loso_table(ctx, runs).empty  # the classical rows alone make no table
    assert not (ctx.results / "loso.md").exists()
    neural = runs.assign(model="AudioFuse (fusion)")  # stands in for loso_neural's rows
    table = ex.loso_table(ctx, pd.concat([runs, neural], ignore_index=True))
    assert len(table) == 2
    assert table["mean over subsets"].iloc[0] == pytest.approx(runs["roc_auc"].mean())
    assert (ctx.results / "loso.md").exists() and (ctx.results / "loso_per_seed.csv").exists()


def test_a_table_without_runs_says_so_in_one_line_and_writes_nothing(ctx, capsys):
    """A profile that never trained a table's runs (e.g. cpu: no ViT sweep): no crash,
    one line, no file, so its notebook goes on and `make tables` adds nothing."""
    from audiofuse.experiments.tables.classical import MODEL_NAME

    nothing = pd.DataFrame()  # what run_models gives when no run is trained and scored
    classical = pd.DataFrame(
        {"model": [MODEL_NAME], "kind": ["classical"], "evaluation": ["first_5s"], "seed": [0]}
    )
    loso_classical = classical.assign(held_out="training-a", roc_auc=0.7)
    builders = {
        "main_comparison": lambda: ex.main_table(ctx, nothing, extra_rows=classical),
        "vit_sweep": lambda: ex.vit_sweep_table(ctx, nothing),
        "fusion_ablation": lambda: ex.fusion_ablation_table(ctx, nothing),
        "balance_ablation": lambda: ex.balance_ablation_table(ctx, nothing, classical),
        "branch_knockouts": lambda: ex.branch_knockout_table(ctx, nothing),
        "test_selection": lambda: ex.test_selection_table(ctx),
        "pascal_robustness": lambda: ex.cross_dataset(ctx, ex.PAPER_MODELS),
        "plus_ladder": lambda: ex.plus_ladder_table(
            ctx, nothing, ex.knockout_rows(ctx), ex.ensemble_rows(ctx, nothing)
        ),
        "loso": lambda: ex.loso_table(ctx, loso_classical),
    }
    for name, build in builders.items():
        table = build()
        assert table.empty and table.attrs["figures"] == [], name
        assert capsys.readouterr().out.splitlines() == [
            f"{name}: no runs trained and scored for this table (synthetic data, smoke "
            "profile); no table written"
        ]
    assert not ctx.results.exists() or not any(ctx.results.rglob("*"))
    assert ex.figures(ctx, "roc_main_comparison_first_5s.png") == []  # the notebook shows none
    # the main table's fusion is also the fusion ablation's concatenation: alone, no table
    concat_only = _runs(ctx, ex.FUSION_ABLATION[:1], [0.3])
    assert ex.fusion_ablation_table(ctx, concat_only).empty
    assert "compares nothing" in capsys.readouterr().out
    assert not (ctx.results / "fusion_ablation.md").exists()
    # restored PhysioNet scores without PASCAL's, and no model to score PASCAL with
    assert ex.cross_dataset(ctx, ex.FUSION_ABLATION[:1]).empty
    # the ladders' start alone (the balance ablation's subset-balanced fusion)
    start = _runs(ctx, ex.PLUS_LADDER[:1], [0.3])
    assert ex.plus_ladder_table(ctx, start, pd.DataFrame(), pd.DataFrame()).empty
    assert "no rung above the ladders' start" in capsys.readouterr().out
    assert not ctx.results.exists() or not list(ctx.results.glob("*.md"))


def test_index_classical_features_reuse_the_split_halves_bit_for_bit(tmp_path):
    """The whole index's classical features (LOSO) come from the cached train and test
    halves, in the index's order: the matrix a fresh featurization of it gives."""
    from audiofuse.experiments.context import physionet_index
    from audiofuse.experiments.tables import classical

    ctx = ex.setup(profile="smoke", seeds=[0], runs_dir=str(tmp_path / "runs"), progress=False)
    full = physionet_index(ctx)
    # 20 records of each split keep it fast; the context reads this as its index
    index = full.groupby("split").head(20).reset_index(drop=True)
    ctx._memo["physionet_index"] = index
    # a shuffled subset, so that order and membership both matter
    table = index.sample(frac=0.6, random_state=0).reset_index(drop=True)
    x, meta = classical.index_classical_features(ctx, table, windows=True)
    cached = sorted(p.name for p in (ctx.cache / "classical").iterdir())
    assert len(cached) == 2  # the two halves of the split, nothing for the subset
    fresh, fresh_meta = classical.classical_features(table, tmp_path / "fresh", True, False)
    np.testing.assert_array_equal(x, fresh)
    assert meta["record"].tolist() == fresh_meta["record"].tolist()
    assert meta["label"].tolist() == fresh_meta["label"].tolist()


def test_loso_neural_reads_one_run_per_fold_and_skips_untrained_folds(ctx, capsys):
    """Each fold's run has its own folder; its test scores are the held-out subset's."""
    from audiofuse.data.protocols import leave_one_subset_out

    index = pd.DataFrame(
        {
            "record": [f"{s}{i:02d}" for s in "abc" for i in range(6)],
            "subset": [s for s in "abc" for _ in range(6)],
            "label": [0, 1] * 9,
        }
    )
    ctx._memo["physionet_index"] = index
    ctx.train = False
    spec = ex.LOSO_MODELS[1]
    profile = spec.profile(ctx.profile)
    folds = leave_one_subset_out(index)
    for fold, shift in zip(folds[:2], (0.6, -0.6), strict=True):  # fold c is not trained
        run = ctx.fold_run(spec, 0, fold)
        labels = np.tile([0, 1], 3)
        test = pd.DataFrame({"record": fold.test, "label": labels, "score": 0.5 + shift * labels})
        run.write_json(
            "state",
            {"config": {"profile": profile.to_dict()}, "finished": True, "wait": 99, "epoch": 0},
        )
        run.write_scores("first_5s", test.head(2), test)  # scores postdate the training
    rows = ex.loso_neural(ctx, [spec], full_recording=False)
    assert ctx.fold_run(spec, 0, folds[0]).path.parent.name.endswith("-fold_a")
    assert list(rows["held_out"]) == ["training-a", "training-b"]
    assert list(rows["roc_auc"]) == [1.0, 0.0]
    assert set(rows["seed"]) == {0}  # the first seed only, by default
    assert rows["balance"].iloc[0] == ex.BALANCE_LABELS["label"]
    assert "fold_c" in capsys.readouterr().err
    table = ex.loso_table(ctx, rows)
    assert table["mean over subsets"].iloc[0] == pytest.approx(0.5)
    assert table["seeds"].iloc[0] == 1


def test_train_runs_timing_is_appended_per_call_and_exported_with_the_scores(ctx, tmp_path):
    import datetime
    import json

    from audiofuse.experiments.scheduler import TIMING_FILE, _record_timing
    from audiofuse.experiments.scores import export_scores

    when = datetime.datetime(2026, 11, 27, 16, 0, tzinfo=datetime.UTC)
    for wall in (12.34, 56.0):
        # the commit the runs started at, not the one the tree moved to while they ran
        _record_timing(
            ctx, ["main"], 2, [{"run": "fusion/seed0", "seconds": 9.0}], when, wall, "abc1234"
        )
    records = json.loads((ctx.runs / TIMING_FILE).read_text())
    assert [r["wall_s"] for r in records] == [12.3, 56.0]
    assert {r["commit"] for r in records} == {"abc1234"}
    assert records[0]["tables"] == ["main"] and records[0]["workers"] == 2
    assert records[0]["seeds"] == list(ctx.seeds) and records[0]["started"] == "2026-11-27 16:00 UTC"
    elsewhere = {"started": "2026-11-26 09:00 UTC", "wall_s": 1.0, "runs": []}
    (tmp_path / "scores").mkdir()
    (tmp_path / "scores" / TIMING_FILE).write_text(json.dumps([elsewhere]))
    for _ in range(2):  # exporting again adds nothing twice
        export_scores(ctx.runs, tmp_path / "scores")
        exported = json.loads((tmp_path / "scores" / TIMING_FILE).read_text())
        assert exported == [elsewhere, *records]  # a record made elsewhere stays


def _diagnosed_run(ctx, spec, seed, val_curve, test_curve):
    """A finished run folder whose history holds the per-epoch test diagnostic."""
    from audiofuse.model.run_dir import DIAGNOSTIC_TEST_AUC

    run = ctx.run(spec, seed)
    best = int(np.argmax(val_curve))
    run.write_json("state", {"best_epoch": best, "best_val_auc": val_curve[best]})
    run.write_json("history", {"val_roc_auc": val_curve, DIAGNOSTIC_TEST_AUC: test_curve})


def test_test_selection_reports_the_epoch_and_seed_gains_beside_the_honest_number(ctx):
    fusion, spectrogram = ex.PAPER_MODELS[2], ex.PAPER_MODELS[0]
    _diagnosed_run(ctx, fusion, 0, [0.5, 0.9, 0.8], [0.6, 0.7, 0.8])  # honest 0.70, best 0.80
    _diagnosed_run(ctx, fusion, 1, [0.9, 0.5, 0.6], [0.75, 0.72, 0.74])  # honest = best 0.75
    ctx.run(spectrogram, 0).write_json("state", {"best_epoch": 0, "best_val_auc": 0.9})
    table = ex.test_selection_table(ctx)  # the spectrogram run has no diagnostic: skipped
    assert table["model"].tolist() == [fusion.name]
    row = table.iloc[0]
    assert row["test ROC-AUC, epoch chosen on the carve-out (honest)"] == "0.725 ± 0.035"
    assert row["+ best epoch on test (mean over seeds)"] == "+0.050"
    assert row["+ best seed on test"] == "+0.025"
    assert row["+ best seed and epoch on test"] == "+0.075"
    assert row["best single test ROC-AUC seen"] == "0.800"
    per_seed = pd.read_csv(ctx.results / "test_selection_per_seed.csv")
    assert per_seed[["chosen_epoch", "best_test_epoch"]].values.tolist() == [[2, 3], [1, 1]]
    [figure] = table.attrs["figures"]
    assert figure.name == "test_selection_curves.png" and figure.stat().st_size > 0


def test_test_selection_without_the_diagnostic_says_how_to_record_it(ctx):
    ctx.run(ex.PAPER_MODELS[2], 0).write_json("state", {"best_epoch": 0, "best_val_auc": 0.9})
    table = ex.test_selection_table(ctx)
    assert table.empty and table.attrs["figures"] == []
    assert "--diagnostics" in (ctx.results / "test_selection.md").read_text()


def test_branch_knockouts_give_each_branch_its_drop_in_roc_auc(ctx):
    from audiofuse.experiments.runs import KNOCKOUTS

    fusion = ex.PAPER_MODELS[2]
    runs = _runs(ctx, [fusion], [0.4])
    for seed in SEEDS:
        run = ctx.run(fusion, seed)
        run.write_json("state", {"best_epoch": 3, "best_val_auc": 0.9})
        run.write_json("config", {"params": 1000, "commit": "abc1234"})
        for name, shift in zip(KNOCKOUTS, (0.35, 0.0), strict=True):
            run.write_scores(name, *_scores(seed, shift))
    table = ex.branch_knockout_table(ctx, runs)
    [row] = table.to_dict("records")
    whole = runs["roc_auc"].mean()
    for name, shift in zip(KNOCKOUTS, (0.35, 0.0), strict=True):
        branch = name.removeprefix("knockout_")
        knocked = np.mean(
            [roc_auc_score(*_scores(s, shift)[1][["label", "score"]].T.values) for s in SEEDS]
        )
        assert row[f"drop ({branch} branch's share)"] == f"{whole - knocked:+.3f}"
    # no signal left without the waveform here: the larger share
    assert float(row["drop (waveform branch's share)"]) > float(
        row["drop (spectrogram branch's share)"]
    )
    assert (ctx.results / "branch_knockouts.md").exists()


def test_authors_optimisation_runs_apart_and_sits_beside_ours(ctx, capsys):
    fusion = ex.AUTHORS_OPTIMISATION[2].profile(ctx.profile)
    assert (fusion.train.learning_rate, fusion.train.lr_schedule) == (3e-4, "plateau")
    assert (fusion.train.epochs, fusion.train.patience, fusion.model.dropout) == (200, 15, 0.2)
    waveform = ex.AUTHORS_OPTIMISATION[1].profile(ctx.profile)
    assert waveform.model.dropout == ctx.profile.model.dropout  # the CNN has no ViT dropout
    assert len({s.run_slug(ctx.profile) for s in ex.PAPER_MODELS + ex.AUTHORS_OPTIMISATION}) == 6
    # never trained by a table build: runs not trained elsewhere are skipped
    assert ex.run_models(ctx, ex.AUTHORS_OPTIMISATION[:1], train=False).empty
    assert "not trained and scored here; skipped" in capsys.readouterr().err
    runs = _runs(ctx, ex.PAPER_MODELS + ex.AUTHORS_OPTIMISATION, (0.2, 0.3, 0.4, 0.25, 0.35, 0.5))
    table = ex.optimisation_ablation_table(ctx, runs)
    assert table["model, optimisation"].tolist() == [
        s.name for s in ex.PAPER_MODELS + ex.AUTHORS_OPTIMISATION
    ]
    assert "ReduceLROnPlateau" in (ctx.results / "optimisation_ablation.md").read_text()


def test_a_table_rebuilt_with_the_same_numbers_keeps_its_files_and_provenance(tmp_path):
    """`make tables` at a new commit: unchanged tables stay byte for byte (a clean checkout);
    a changed row or note rewrites both files with the new provenance."""
    table = pd.DataFrame({"model": ["AudioFuse"], "ROC-AUC": [0.81]})
    first = {"data": "real", "profile": "cpu", "commit": "aaaaaaa", "date": "2026-01-01"}
    later = first | {"commit": "bbbbbbb", "date": "2026-02-02"}
    csv, md = write_table(table, tmp_path, "t", title="T", prov=first, notes="n")
    written = csv.read_text(), md.read_text()
    write_table(table, tmp_path, "t", title="T", prov=later, notes="n")
    assert (csv.read_text(), md.read_text()) == written
    write_table(table, tmp_path, "t", title="T", prov=later, notes="other")
    assert "bbbbbbb" in csv.read_text() and "bbbbbbb" in md.read_text()
    changed = table.assign(**{"ROC-AUC": [0.82]})
    write_table(changed, tmp_path, "t", title="T", prov=first, notes="other")
    assert "aaaaaaa" in md.read_text() and "0.8200" in md.read_text()
    assert "aaaaaaa" in csv.read_text() and "0.82" in csv.read_text()


def test_synthetic_results_get_their_own_index_outside_the_committed_one(tmp_path):
    """`make demo` (synthetic, never committed) must not change results/README.md."""
    table = pd.DataFrame({"model": ["AudioFuse (fusion)"], "ROC-AUC": ["0.807"]})
    real, synthetic = tmp_path / "real" / "cpu", tmp_path / "synthetic" / "smoke"
    write_table(table, real, "main_comparison", title="Real", prov={"data": "real"})
    write_table(
        table.assign(**{"ROC-AUC": ["0.786"]}),
        synthetic,
        "main_comparison",
        title="Synthetic",
        prov={"data": "synthetic"},
    )
    (synthetic / "figures").mkdir()
    (synthetic / "figures" / "roc_main_comparison_first_5s.png").write_bytes(b"png")
    index = ex.write_results_index(results_root=tmp_path)
    assert index == tmp_path / "README.md"
    committed = index.read_text()
    assert "### Real" in committed and "Synthetic\n" not in committed and "0.786" not in committed
    ctx = ex.Context(
        get_profile("smoke"), "synthetic", tmp_path, tmp_path, (0,), tmp_path / "runs", synthetic
    )
    demo = ex.write_results_index(ctx, results_root=tmp_path)
    assert demo == tmp_path / "synthetic" / "README.md"
    text = demo.read_text()
    assert "### Synthetic" in text and "### Real" not in text
    assert "](smoke/figures/roc_main_comparison_first_5s.png)" in text
    assert index.read_text() == committed
