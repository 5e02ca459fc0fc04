"""The notebook runner: which notebooks wait for which, parameters, and failures."""

from pathlib import Path

import pytest

from audiofuse.reporting.notebooks import main, notebook_order, run_notebooks

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("papermill")

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))


def test_the_notebooks_run_in_three_waves_with_the_results_index_last():
    waves = [[nb.name[:2] for nb in wave] for wave in notebook_order(NOTEBOOKS)]
    assert waves == [["01", "02", "04", "05", "06", "10"], ["03", "07", "08"], ["09"]]


def test_a_notebook_whose_needs_are_not_given_does_not_wait_for_them():
    assert notebook_order([Path("03_fusion.ipynb")]) == [[Path("03_fusion.ipynb")]]


def _notebook(path: Path, code: str) -> Path:
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    parameters = new_code_cell("OUT = None\nVALUE = 0")
    parameters.metadata["tags"] = ["parameters"]
    nb.cells = [parameters, new_code_cell(code)]
    nbformat.write(nb, path)
    return path


def test_notebooks_run_with_the_parameters_and_their_executed_copies_are_written(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    code = "from pathlib import Path\nPath(OUT).write_text(str(VALUE * 2))"
    books = [_notebook(src / f"0{i}_write.ipynb", code) for i in (1, 2)]
    out = tmp_path / "executed"
    seconds = run_notebooks(books[:1], out, {"OUT": str(tmp_path / "a.txt"), "VALUE": 21})
    assert (tmp_path / "a.txt").read_text() == "42"
    assert list(seconds) == ["01_write.ipynb"] and (out / "01_write.ipynb").is_file()


def test_a_failing_notebook_gives_a_one_line_error_naming_it_and_exit_code_1(tmp_path, capsys):
    bad = _notebook(tmp_path / "05_bad.ipynb", "raise ValueError('broken on purpose')")
    code = main([str(bad), "--out", str(tmp_path / "out"), "--workers", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert err[-1].startswith("error: ") and "05_bad.ipynb" in err[-1]
    assert "ValueError: broken on purpose" in err[-1]


def test_make_reproduce_passes_every_notebook_parameter_as_yaml(tmp_path):
    """Runs the recipe through the shell, with a stand-in python that records its argv."""
    import json
    import shutil
    import subprocess
    import sys

    import yaml

    if shutil.which("make") is None:
        pytest.skip("no make")
    repo = Path(__file__).parents[1]
    venv, calls = tmp_path / "venv", tmp_path / "calls.jsonl"
    (venv / "bin").mkdir(parents=True)
    fake = venv / "bin" / "python"
    fake.write_text(
        f"#!{sys.executable}\nimport json, sys\n"
        f"open({str(calls)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
    )
    fake.chmod(0o755)
    (venv / ".installed").touch()  # newer than requirements.txt: no setup
    subprocess.run(
        ["make", "-s", "-C", str(repo), "reproduce", "TRAIN=False", "SEEDS=0 1", "PROFILE=cpu",
         f"DATA_DIR={tmp_path}", f"VENV={venv}", "NOTEBOOK_WORKERS=2"],
        capture_output=True, text=True, check=True,
    )
    (args,) = [a for a in map(json.loads, calls.read_text().splitlines()) if "audiofuse.reporting.notebooks" in a]
    assert args[args.index("--workers") + 1] == "2"
    assert [a for a in args if a.endswith(".ipynb")] == [f"notebooks/{nb.name}" for nb in NOTEBOOKS]
    parameters = yaml.safe_load(args[args.index("--parameters") + 1])
    assert parameters == {
        "PROFILE": "cpu", "DATA_DIR": str(tmp_path), "TRAIN": False, "SEEDS": [0, 1],
        "EPOCHS": None, "N_BOOT": 1000, "HEAD_SPLITS": 20,
    }


def test_the_slowest_notebook_starts_first_and_each_waits_for_what_it_needs(tmp_path, monkeypatch):
    from audiofuse.reporting import notebooks

    started = []
    monkeypatch.setattr(
        notebooks, "_execute", lambda nb, out, params: started.append(nb.name[:2]) or 1.0
    )
    notebooks.run_notebooks(NOTEBOOKS, tmp_path, {}, workers=1)
    assert started == ["01", "02", "08", "03", "04", "05", "06", "07", "10", "09"]


@pytest.mark.parametrize("text", ["{PROFILE: smoke, \\\n DATA_DIR: x}", "[1, 2]"])
def test_parameters_that_are_not_a_yaml_mapping_get_a_one_line_error(text, tmp_path, capsys):
    book = _notebook(tmp_path / "01_x.ipynb", "pass")
    with pytest.raises(SystemExit) as exit_info:
        main([str(book), "--out", str(tmp_path / "out"), "--parameters", text])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and err[-1].startswith("python -m audiofuse.reporting.notebooks: error:")
    assert "--parameters" in err[-1]


def test_a_notebook_without_its_runs_says_so_and_the_run_goes_on(tmp_path, monkeypatch):
    """`make tables` for a profile that never trained the ViT sweep (cpu): notebook 04
    finds no runs, says so in one line, writes no table, and does not fail."""
    import json

    monkeypatch.setenv("AUDIOFUSE_SYNTHETIC_DIR", str(tmp_path / "data"))
    sweep = next(nb for nb in NOTEBOOKS if nb.name.startswith("04"))
    parameters = {
        "PROFILE": "smoke",
        "DATA_DIR": None,
        "TRAIN": False,
        "SEEDS": [0],
        "RESULTS_DIR": str(tmp_path / "results"),
        "RUNS_DIR": str(tmp_path / "runs"),
    }
    run_notebooks([sweep], tmp_path / "executed", parameters, workers=1)
    results = tmp_path / "results" / "synthetic" / "smoke"
    assert not list(results.glob("vit_sweep*"))
    executed = json.loads((tmp_path / "executed" / sweep.name).read_text())
    stdout = [
        "".join(out["text"])
        for cell in executed["cells"]
        for out in cell.get("outputs", [])
        if out.get("name") == "stdout"
    ]
    assert stdout[-1].startswith("vit_sweep: no runs trained and scored for this table")
