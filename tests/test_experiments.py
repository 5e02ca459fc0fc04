"""The experiment specs: which profile each table row trains, and where its runs go."""

from __future__ import annotations

from audiofuse import experiments as ex
from audiofuse.config import get_profile


def test_overrides_reach_the_model_or_the_training_settings():
    cpu = get_profile("cpu")
    deep = ex.ModelSpec("8 x 8", "fusion", (("depth", 8), ("heads", 8))).profile(cpu)
    assert (deep.model.depth, deep.model.heads) == (8, 8) and deep.train == cpu.train
    balanced = ex.ModelSpec("b", "fusion", (("balance", "subset"),)).profile(cpu)
    assert balanced.train.balance == "subset" and balanced.model == cpu.model
    assert balanced.train.replace(balance="label") == cpu.train


def test_rows_equal_to_the_profile_share_the_main_runs_folder():
    paper = get_profile("paper")
    main_fusion = ex.PAPER_MODELS[2].run_slug(paper)
    assert ex.VIT_SWEEP[1].run_slug(paper) == main_fusion  # 6 x 8 is the paper's ViT
    slugs = [spec.run_slug(paper) for spec in ex.BALANCE_ABLATION]
    main = {spec.run_slug(paper) for spec in ex.PAPER_MODELS}
    assert set(slugs[0::2]) == main  # the paper's balance: the main table's runs
    assert slugs[1::2] == [
        f"{kind}-balancesubset" for kind in ("spectrogram", "waveform", "fusion")
    ]


def _write_table(folder, name, header, rows, *, title="T (301 records)", seeds="0,1,2"):
    folder.mkdir(parents=True, exist_ok=True)
    prov = f"# data: real\n# profile: {folder.name}\n# seeds: {seeds}\n"
    body = ",".join(f'"{h}"' for h in header) + "\n"
    body += "".join(",".join(f'"{v}"' for v in row) + "\n" for row in rows)
    (folder / f"{name}.csv").write_text(prov + body)
    md_rows = "".join("| " + " | ".join(row) + " |\n" for row in rows)
    (folder / f"{name}.md").write_text(
        f"### {title}\n\n| " + " | ".join(header) + " |\n|" + "---|" * len(header) + "\n" + md_rows
    )


MAIN_HEADER = [
    "model",
    "evaluation",
    "seeds",
    "ROC-AUC",
    "ROC-AUC 95% CI (seed 1)",
    "paper ROC-AUC",
]


CLASSICAL_ROW = [
    "Classical (HistGradientBoosting)",
    "first_5s",
    "3",
    "0.866 ± 0.003",
    "[0.8, 0.9]",
    "",
]


def _real_results(root, fusion="0.807 ± 0.011", ci="[0.750, 0.844]", balanced_seeds="1"):
    main = [
        ["AudioFuse (fusion)", "first_5s", "3", fusion, ci, "0.8608"],
        ["AudioFuse (fusion)", "full_recording", "3", "0.803 ± 0.012", "[0.742, 0.838]", ""],
        CLASSICAL_ROW,
    ]
    _write_table(root / "real" / "paper", "main_comparison", MAIN_HEADER, main)
    _write_table(
        root / "real" / "paper",
        "balance_ablation",
        ["model, class balance", "evaluation", "seeds", "ROC-AUC"],
        [
            [
                "AudioFuse (fusion), classes balanced within each subset",
                "first_5s",
                balanced_seeds,
                "0.854",
            ]
        ],
    )


def test_readme_block_holds_only_the_real_headline(tmp_path):
    _real_results(tmp_path)
    _write_table(
        tmp_path / "synthetic" / "smoke",
        "main_comparison",
        MAIN_HEADER,
        [["AudioFuse (fusion)", "first_5s", "1", "0.786", "[0.6, 0.9]", "0.8608"]],
    )
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- results:start -->\nSTALE BLOCK\n<!-- results:end -->\nend\n")
    assert ex.update_readme_headline(readme, tmp_path)
    text = readme.read_text()
    assert "STALE BLOCK" not in text and text.startswith("intro\n") and text.endswith("end\n")
    assert "**No, not to the paper's number.**" in text
    assert "0.807 ± 0.011 (3 seeds; 95 % CI of the first seed 0.750–0.844)" in text
    assert "0.854 (1 seed so far)" in text and "0.866 ± 0.003" in text
    assert "0.786" not in text and "smoke" not in text  # no synthetic result
    assert "0.803" not in text  # the headline, not the tables
    assert text.count("\n|") <= 6


def test_headline_verdict_follows_the_numbers(tmp_path):
    _real_results(tmp_path, fusion="0.850 ± 0.010", ci="[0.820, 0.880]", balanced_seeds="3")
    from audiofuse.experiments.index import read_headline, verdict_markdown

    text = " ".join(verdict_markdown(read_headline(tmp_path)).split())  # wrapped lines
    assert "**Yes, within our uncertainty.**" in text and "inside the 95 % bootstrap CI" in text
    assert "0.854 (3 seeds)" in text and "so far" not in text


def test_results_index_gives_the_verdict_first_and_no_empty_or_repeated_table(tmp_path):
    _real_results(tmp_path)
    paper = tmp_path / "real" / "paper"
    _write_table(
        paper,
        "baselines",
        MAIN_HEADER,
        [CLASSICAL_ROW],
    )
    (paper / "test_selection.md").write_text(
        "### Choosing on test\n\n|  |\n||\n\nNo run recorded it.\n"
    )
    for name in ("pascal_robustness", "plus_pascal"):
        _write_table(
            paper, name, ["model", "protocol"], [[name, "zero_shot"]], title="Cross-dataset"
        )
    index = ex.write_results_index(results_root=tmp_path).read_text()
    assert index.index("## Does AudioFuse reproduce?") < index.index(
        "## real data, `paper` profile"
    )
    assert "|  |\n||" not in index and "- *Choosing on test*: No run recorded it." in index
    assert (
        "### Cross-dataset\n" in index
        and "### Cross-dataset: the AudioFuse+ ladder's models" in index
    )
    assert index.count("| Classical (HistGradientBoosting) | first_5s |") == 1  # baselines left out


def test_provenance_names_an_epoch_cap_and_only_one(tmp_path):
    smoke = get_profile("smoke")
    capped = smoke.replace(train=smoke.train.replace(epochs=8))
    for profile, epochs in ((smoke, None), (capped, f"8 (profile: {smoke.train.epochs})")):
        ctx = ex.Context(profile, "synthetic", tmp_path, tmp_path, (0,), tmp_path / "r", tmp_path)
        prov = ctx.prov()
        assert prov.get("epochs") == epochs and prov["profile"] == "smoke"


def test_context_names_each_run_folder(tmp_path):
    from audiofuse.model.run_dir import RunDir

    cpu = get_profile("cpu")
    ctx = ex.Context(cpu, "synthetic", tmp_path, tmp_path, (0,), tmp_path / "runs", tmp_path)
    run = ctx.run(ex.VIT_SWEEP[0], 3)
    assert isinstance(run, RunDir)
    assert run.path == tmp_path / "runs" / ex.VIT_SWEEP[0].run_slug(cpu) / "seed3"
    assert ctx.run("classical", 0).path == tmp_path / "runs" / "classical" / "seed0"


def test_outputs_go_under_the_checkout_or_else_the_working_directory(tmp_path, monkeypatch):
    from audiofuse import paths

    checkout = tmp_path / "checkout"
    (checkout / "src" / "audiofuse").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text("")
    assert paths.output_root(checkout / "src" / "audiofuse" / "paths.py") == checkout
    installed = tmp_path / "venv" / "lib" / "site-packages" / "audiofuse" / "paths.py"
    installed.parent.mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert paths.output_root(installed) == tmp_path
    assert paths.output_root() == paths.REPO_ROOT  # this test runs from the checkout


def test_paths_are_resolved_once_with_the_cache_beside_the_runs(tmp_path, monkeypatch):
    from audiofuse.paths import Paths

    monkeypatch.setenv("AUDIOFUSE_RUNS_DIR", str(tmp_path / "env-runs"))
    monkeypatch.setenv("AUDIOFUSE_DATA_DIR", str(tmp_path / "env-data"))
    paths = Paths.resolve(results=tmp_path / "res")
    assert paths.runs == tmp_path / "env-runs" and paths.cache == tmp_path / "env-runs" / "cache"
    assert paths.data == tmp_path / "env-data" and paths.results == tmp_path / "res"
    assert Paths.resolve(runs=tmp_path / "r").runs == tmp_path / "r"
    try:
        paths.runs = tmp_path
    except AttributeError:
        pass
    else:
        raise AssertionError("Paths must be frozen")


def test_importing_the_experiments_loads_no_keras():
    """Notebooks that build tables from saved scores start without the training stack
    (about 4 s per notebook kernel on 2 cores); Keras comes with the first training."""
    import subprocess
    import sys

    code = (
        "import sys, audiofuse.experiments, audiofuse.model.run_dir; "
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_provenance_names_the_keras_backend_without_importing_keras(tmp_path):
    """Keras' own rule (KERAS_BACKEND, else keras.json in KERAS_HOME, else TensorFlow),
    read without importing Keras: a table's provenance costs no ~5 s Keras import."""
    import json
    import os
    import subprocess
    import sys

    import keras

    from audiofuse.reporting.provenance import keras_backend

    assert keras_backend() == keras.backend.backend()  # loaded here: Keras' own answer
    code = (
        "import sys; from audiofuse.reporting.provenance import provenance; "
        "p = provenance(data='synthetic', profile='smoke', seeds=[0]); "
        "print(p['backend'], 'keras' in sys.modules)"
    )
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env["KERAS_HOME"] = str(tmp_path)

    def backend(**extra) -> list[str]:
        run = subprocess.run(
            [sys.executable, "-c", code], env=env | extra, capture_output=True, text=True
        )
        assert run.returncode == 0, run.stderr
        return run.stdout.split()

    assert backend() == ["tensorflow", "False"]
    (tmp_path / "keras.json").write_text(json.dumps({"backend": "jax"}))
    assert backend() == ["jax", "False"]
    assert backend(KERAS_BACKEND="torch") == ["torch", "False"]


def test_prepare_tensorflow_turns_onednn_on_unless_told_otherwise_and_import_sets_nothing():
    """TensorFlow reads TF_ENABLE_ONEDNN_OPTS when it is imported (why it is on:
    :func:`audiofuse.model.tensorflow_env.prepare_tensorflow`); ``import audiofuse``
    leaves the environment as it was."""
    import os
    import subprocess
    import sys

    code = (
        "import os, audiofuse; before = os.environ.get('TF_ENABLE_ONEDNN_OPTS'); "
        "from audiofuse.model.tensorflow_env import prepare_tensorflow; prepare_tensorflow(); "
        "print(before, os.environ['TF_ENABLE_ONEDNN_OPTS'])"
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    for given, expected in ((None, "None 1"), ("0", "0 0"), ("1", "1 1")):
        child = env if given is None else env | {"TF_ENABLE_ONEDNN_OPTS": given}
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=child
        )
        assert out.stdout.strip() == expected
