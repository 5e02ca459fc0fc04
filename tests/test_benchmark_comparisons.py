"""Tests of the registered "old path vs new path" comparisons of :mod:`audiofuse.benchmark`.

The measurements themselves start fresh interpreters (TensorFlow, onnxruntime)
and run in the quick benchmark (``test_benchmark.py``); here fakes pin what is
done with their values, and the fresh-interpreter plumbing on tiny children.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest

import audiofuse
from audiofuse import benchmark
from audiofuse.benchmark import paths, sweep


def _in_process(func, *args):
    return dict(func(*args))


def _inputs(quick: bool) -> benchmark.BenchInputs:
    return benchmark.BenchInputs(benchmark.settings_for(quick), pd.DataFrame(), "real")


def _markdown(rows: list[dict], quick: bool) -> str:
    frame = pd.DataFrame(rows).assign(machine="m", cores=2, commit="c")
    run = {"data": "real", "records": 0, "quick": quick, "seconds": 1.0, "machine": "m"}
    run |= {"load_before": (0, 0, 0), "load_after": (0, 0, 0), "cores": 2, "commit": "c"}
    return benchmark.render_markdown(frame[benchmark.CSV_COLUMNS], run)


def _faked(values: dict[str, float]) -> list[benchmark.Comparison]:
    """The registered comparisons, each side replaced by a constant from ``values``."""
    from dataclasses import replace

    return [
        replace(
            c,
            old=lambda inputs, v=values[c.name][0]: v,
            new=lambda inputs, v=values[c.name][1]: v,
        )
        for c in benchmark.COMPARISONS
    ]


def test_quick_runs_skip_slow_comparisons_and_rename_smaller_ones():
    def const(v):
        return lambda inputs: v

    comparisons = [
        benchmark.Comparison("everywhere", "s", const(2.0), const(1.0), higher_is_better=False),
        benchmark.Comparison("slow", "samples/s", const(1.0), const(3.0), quick=False),
        benchmark.Comparison("2 h", "MiB", const(8.0), const(2.0), quick_name="20 min"),
    ]
    quick = benchmark.bench_comparisons(comparisons, _inputs(True), runner=_in_process)
    assert [r["name"] for r in quick] == [
        f"{name}: {side}"
        for name in ("everywhere", "20 min")
        for side in ("old path", "new path", "new vs old")
    ]
    full = benchmark.bench_comparisons(comparisons, _inputs(False), runner=_in_process)
    names = {r["name"] for r in full}
    assert {"slow: new vs old", "2 h: new vs old"} <= names and "20 min: old path" not in names
    ratios = {r["name"]: r["value"] for r in full if r["unit"] == "x"}
    assert ratios == {"everywhere: new vs old": 2.0, "slow: new vs old": 3.0, "2 h: new vs old": 0.25}


def test_headline_states_each_goal_of_the_registered_comparisons_from_their_rows():
    values = {
        paths.PREDICT_COLD_START: (9.0, 1.5),  # goal < 2 s: PASS
        paths.INDEX_COLD_START: (8.0, 2.5),  # goal < 2 s: FAIL
        paths.PREDICT_PEAK: (2000.0, 600.0),  # goal 600 MB = 572.2 MiB: FAIL
        sweep.SWEEP_TRAINING: (160.0, 330.0),  # goal 3 x 141: FAIL; 3 x 99: PASS
    }
    rows = benchmark.bench_comparisons(_faked(values), _inputs(False), runner=_in_process)
    assert len(rows) == 12
    headline = _markdown(rows, quick=False).split("## Headline")[1].split("\n## ")[0]
    lines = headline.splitlines()

    def verdict(start: str) -> str:
        (line,) = [x for x in lines if x.startswith(f"- {start}")]
        return line.rsplit("**", 2)[1]

    assert verdict("`predict` one 30 s recording") == "PASS"
    assert verdict("`data index` cold start") == "FAIL"
    assert verdict("`predict` peak memory on a 2 h recording") == "FAIL"
    assert verdict("sweep training") == "FAIL"
    assert any("bottom of that range (297 samples/s): **PASS**" in x for x in lines)
    assert any("old path in this run: 9 s; new vs old: 6x" in x for x in lines)
    assert any("old path in this run: 2,000 MiB peak RSS; new vs old: 3.33x" in x for x in lines)


def test_quick_headline_does_not_claim_the_2_h_peak_or_the_sweep():
    values = {c.name: (2.0, 1.0) for c in benchmark.COMPARISONS}
    rows = benchmark.bench_comparisons(_faked(values), _inputs(True), runner=_in_process)
    assert paths.PREDICT_PEAK_QUICK + ": new path" in {r["name"] for r in rows}
    headline = _markdown(rows, quick=True).split("## Headline")[1].split("\n## ")[0]
    for label in ("`predict` peak memory on a 2 h recording", "sweep training"):
        (line,) = [x for x in headline.splitlines() if x.startswith(f"- {label}")]
        assert line.endswith("not measured in this run")


def test_fresh_interpreters_import_this_checkout_whatever_pythonpath_says(monkeypatch, tmp_path):
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))  # an installed copy could come first
    monkeypatch.chdir(tmp_path)
    _, stdout = paths.run_python(["-c", "import audiofuse; print(audiofuse.__file__)"])
    assert Path(stdout.strip()) == Path(audiofuse.__file__).resolve()
    with pytest.raises(RuntimeError, match="boom"):
        paths.run_python(["-c", "import sys; sys.exit('boom')"])


# A stand-in for sweep.train_worker: the second to start is 0.5 s slower to get
# ready; either exits without a result if it is let go before both are ready.
_FAKE_WORKER = """
import json, os, sys, time
folder = os.environ["FAKE_DIR"]
try:
    os.close(os.open(os.path.join(folder, "claim"), os.O_CREAT | os.O_EXCL))
    me = 0
except FileExistsError:
    me = 1
if me == 1:
    time.sleep(0.5)
open(os.path.join(folder, f"ready{me}"), "w").close()
print("some other output")
print("READY", flush=True)
sys.stdin.readline()
if not os.path.exists(os.path.join(folder, f"ready{1 - me}")):
    sys.exit("let go before the other was ready")
start, end, samples = [(100.0, 102.0, 10), (101.0, 104.0, 20)][me]
print("RESULT " + json.dumps({"start": start, "end": end, "samples": samples}), flush=True)
"""


def test_concurrent_training_starts_together_and_counts_every_sample_over_the_span(tmp_path):
    env = paths.python_env({"FAKE_DIR": str(tmp_path)})
    rate = sweep.concurrent_training(2, env, steps=1, worker=_FAKE_WORKER)
    assert rate == pytest.approx(30 / 4)  # 10 + 20 samples from t=100 to t=104


def test_concurrent_training_reports_a_worker_that_dies():
    worker = "import sys; print('READY', flush=True); sys.exit('out of memory, say')"
    with pytest.raises(RuntimeError, match="out of memory, say"):
        sweep.concurrent_training(1, paths.python_env(), steps=1, worker=worker)



def test_the_main_table_row_comes_from_the_latest_record_of_the_whole_table(tmp_path):
    import json

    from audiofuse.benchmark.recorded import OLD_MAIN_TABLE_MIN, main_table_record, recorded_rows

    def record(wall_s, runs, profile="cpu", data="real"):
        return {"wall_s": wall_s, "runs": [{"run": r} for r in runs], "profile": profile,
                "data": data, "workers": 2, "commit": "abc1234", "started": "2026-11-27 16:00 UTC"}

    whole = [f"{k}/seed{s}" for s in range(3) for k in ("fusion", "spectrogram", "waveform")]
    records = [
        record(1800.0, whole),
        record(2400.0, whole),  # the latest whole table
        record(60.0, whole[:2]),  # a partial call (a resume) does not count
        record(99.0, whole, profile="smoke"),
    ]
    assert main_table_record(records)["wall_s"] == 2400.0
    assert main_table_record(records[2:]) is None
    assert recorded_rows(tmp_path) == []  # no record: no rows, no claim
    (tmp_path / "train_runs.json").write_text(json.dumps(records))
    rows = {r["name"].rsplit(": ", 1)[1]: r for r in recorded_rows(tmp_path)}
    assert rows["new path"]["value"] == 40.0 and rows["new path"]["unit"] == "min"
    assert rows["old path"]["value"] == OLD_MAIN_TABLE_MIN
    assert rows["new vs old"]["value"] == pytest.approx(OLD_MAIN_TABLE_MIN / 40.0)
    assert "abc1234" in rows["new path"]["data"]
    headline = _markdown(list(rows.values()), quick=False).split("## Headline")[1]
    (line,) = [x for x in headline.splitlines() if x.startswith("- 3-seed cpu main table")]
    assert line.endswith("**40 min** (goal < 60 min): **PASS**")


def test_the_demo_row_comes_from_the_latest_fresh_clone_record_of_the_quick_default(tmp_path):
    import json

    from audiofuse.benchmark.recorded import (
        DEMO_RECORD,
        OLD_DEMO_MIN,
        add_demo_record,
        demo_record,
        demo_rows,
    )

    record_path, clock = tmp_path / DEMO_RECORD, tmp_path / "clock"
    assert demo_rows(tmp_path) == []  # no record: no rows, no claim
    for start_ago, fresh, seeds in ((900, 1, ["0"]), (600, 1, ["0"]), (300, 0, ["0"]), (60, 1, "012")):
        clock.write_text(f"{time.time() - start_ago:.0f} {fresh}\n")
        add_demo_record(record_path, clock, seeds, head_splits=3, epochs=8 if start_ago == 600 else None)
    records = json.loads(record_path.read_text())
    assert [(r["fresh_venv"], r["seeds"]) for r in records] == [
        (True, [0]), (True, [0]), (False, [0]), (True, [0, 1, 2])
    ]  # fmt: skip
    chosen = demo_record(records)  # a warm venv or 3 seeds is not the quick fresh-clone demo
    assert chosen is records[1] and 599 <= chosen["wall_s"] <= 660
    rows = {r["name"].rsplit(": ", 1)[1]: r for r in demo_rows(tmp_path)}
    assert rows["new path"]["value"] == pytest.approx(chosen["wall_s"] / 60)
    assert "at most 8 epochs per run" in rows["new path"]["data"]
    assert rows["old path"]["value"] == OLD_DEMO_MIN
    assert rows["new vs old"]["value"] == pytest.approx(OLD_DEMO_MIN / (chosen["wall_s"] / 60))
    headline = _markdown(list(rows.values()), quick=False).split("## Headline")[1]
    (line,) = [x for x in headline.splitlines() if x.startswith("- `make demo` on a fresh clone")]
    assert line.endswith("(goal < 8 min): **FAIL**")  # 10 min


def test_make_demo_records_its_start_before_setup_and_its_wall_time_at_the_end(tmp_path):
    """Runs the recipe through the shell, with stand-ins for the venv's commands."""
    import json
    import shutil
    import subprocess
    import sys

    if shutil.which("make") is None:
        pytest.skip("no make")
    repo = Path(__file__).parents[1]
    venv, calls, clock = tmp_path / "venv", tmp_path / "calls.jsonl", tmp_path / "clock"
    (venv / "bin").mkdir(parents=True)
    for name in ("python", "audiofuse"):
        fake = venv / "bin" / name
        fake.write_text(
            f"#!{sys.executable}\nimport json, sys\n"
            f"open({str(calls)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
        )
        fake.chmod(0o755)
    (venv / ".installed").touch()  # newer than requirements.txt: no setup, a warm venv
    before = time.time()
    subprocess.run(
        ["make", "-s", "-C", str(repo), "demo", f"VENV={venv}", f"DEMO_CLOCK={clock}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    started, fresh = clock.read_text().split()
    assert before - 2 <= float(started) <= time.time() and fresh == "0"
    last = json.loads(calls.read_text().splitlines()[-1])
    assert last == [
        "-m", "audiofuse.benchmark.record_demo", "results/synthetic/smoke/demo_runs.json",
        "--clock", str(clock), "--seeds", "0", "--head-splits", "3", "--epochs", "8",
    ]  # fmt: skip
    # the full run: the seeds given, the profile's epochs
    subprocess.run(
        ["make", "-s", "-C", str(repo), "demo", f"VENV={venv}", f"DEMO_CLOCK={clock}",
         "SEEDS=0 1 2"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    made = [json.loads(line) for line in calls.read_text().splitlines()]
    last, train_runs = made[-1], [call for call in made if call[0] == "train-runs"]
    assert last[last.index("--seeds") :] == [
        "--seeds", "0", "1", "2", "--head-splits", "3", "--epochs", "null",
    ]  # fmt: skip
    quick, full = train_runs  # the quick default caps the epochs; the full run does not
    assert quick[quick.index("--epochs") + 1] == "8" and "--epochs" not in full


def test_record_demo_gives_a_one_line_error_naming_a_bad_clock(tmp_path, capsys):
    from audiofuse.benchmark import record_demo

    clock = tmp_path / "clock"
    clock.write_text("garbage")
    args = [str(tmp_path / "r.json"), "--clock", str(clock), "--seeds", "0", "--head-splits", "3"]
    for text in ("garbage", None):
        if text is None:
            clock.unlink()
        with pytest.raises(SystemExit) as exit_info:
            record_demo.main(args)
        err = capsys.readouterr().err.strip().splitlines()
        assert exit_info.value.code == 1 and len(err) == 1 and str(clock) in err[0]
    assert not (tmp_path / "r.json").exists()


def _cpu_flags() -> set[str]:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


@pytest.mark.skipif(not Path("/proc/cpuinfo").exists(), reason="reads Linux CPU flags")
def test_tensorflows_own_onednn_default_follows_the_cpus_features(monkeypatch):
    """The old path's setting: TensorFlow's default on this CPU, not the variable that
    ``import audiofuse`` set in this process (on only with these CPU features)."""
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "1")
    paths.tensorflow_onednn_default.cache_clear()
    features = {"avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16"}
    assert paths.tensorflow_onednn_default() == bool(_cpu_flags() & features)


def test_sweep_old_path_keeps_tensorflows_onednn_default_and_the_new_path_turns_it_on(
    monkeypatch,
):
    envs = []
    monkeypatch.setattr(sweep, "concurrent_training", lambda n, env, steps: envs.append(env))
    monkeypatch.setattr(paths, "tensorflow_onednn_default", lambda: False)
    inputs = benchmark.comparisons.BenchInputs(
        benchmark.harness.settings_for(True), pd.DataFrame(), "SYNTHETIC"
    )
    sweep.sweep_training_old(inputs)
    sweep.sweep_training_new(inputs)
    assert [env["TF_ENABLE_ONEDNN_OPTS"] for env in envs] == ["0", "1"]
