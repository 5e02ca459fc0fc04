"""Tests of the ``training candidates`` section of :mod:`audiofuse.benchmark`.

The candidates themselves are fresh training processes (minutes of TensorFlow
start-ups), measured by ``make bench`` only; here fabricated samples/s pin the
rows, the ratio and peak maths, the failures and the headline, and tiny
children the processes' environment and protocol.
"""

from __future__ import annotations

import dataclasses
import io
import json

import pandas as pd
import pytest

from audiofuse import benchmark
from audiofuse.benchmark import candidates, paths, sweep
from audiofuse.benchmark.candidates import CANDIDATE_SECTION, Candidate

REFERENCE, JIT, JAX = (Candidate("today"), Candidate("jit", jit_compile=True), Candidate("jax"))
FLOPS = 0.2e9  # forward FLOPs per sample: training is 0.6 GFLOP per sample
PEAK = 120.0  # GFLOP/s
MODELS = {("cpu", "fusion"): {"flops": FLOPS}, ("cpu", "waveform"): {"flops": 1.0}}


def _measure(rates: dict[str, float], seen: list | None = None):
    def measure(candidate: Candidate, steps: int) -> float:
        if seen is not None:
            seen.append((candidate.name, steps))
        rate = rates[candidate.name]
        if isinstance(rate, Exception):
            raise rate
        return rate

    return measure


def _values(rows: list[dict]) -> dict[tuple[str, str], float]:
    return {(r["name"], r["unit"]): r["value"] for r in rows}


def _markdown(rows: list[dict], quick: bool = False) -> str:
    frame = pd.DataFrame(rows).assign(machine="m", cores=2, commit="c")
    run = {"data": "real", "records": 0, "quick": quick, "seconds": 1.0, "machine": "m"}
    run |= {"load_before": (0, 0, 0), "load_after": (0, 0, 0), "cores": 2, "commit": "c"}
    return benchmark.render_markdown(frame[benchmark.CSV_COLUMNS], run)


def test_rows_give_samples_per_s_the_ratio_to_the_first_and_the_share_of_the_peak():
    seen = []
    rows = candidates.bench_candidates(
        benchmark.settings_for(False),
        MODELS,
        PEAK,
        [REFERENCE, JIT, JAX],
        measure=_measure({"today": 100.0, "jit": 250.0, "jax": 50.0}, seen),
    )
    assert seen == [("today", 40), ("jit", 40), ("jax", 40)]
    assert {r["section"] for r in rows} == {CANDIDATE_SECTION}
    assert {r["profile"] for r in rows} == {"cpu"}
    values = _values(rows)
    assert values[("jit", "samples/s")] == 250.0
    assert values[("today: vs reference", "x")] == 1.0
    assert values[("jit: vs reference", "x")] == 2.5
    assert values[("jax: vs reference", "x")] == 0.5
    # 3 x 0.2 GFLOP x 250 samples/s = 150 GFLOP/s of a 120 GFLOP/s peak
    assert values[("jit: % of matmul peak", "%")] == pytest.approx(125.0)
    assert values[("today: % of matmul peak", "%")] == pytest.approx(50.0)
    assert len(rows) == 9


def test_a_failing_candidate_gets_no_rows_and_one_log_line(capsys):
    error = RuntimeError("training worker exited (1):\nTraceback ...\nModuleNotFoundError: jax")
    rows = candidates.bench_candidates(
        benchmark.settings_for(False),
        MODELS,
        PEAK,
        [REFERENCE, JAX, JIT],
        measure=_measure({"today": 100.0, "jax": error, "jit": 150.0}),
    )
    assert {r["name"].split(":")[0] for r in rows} == {"today", "jit"}
    (line,) = [x for x in capsys.readouterr().err.splitlines() if "failed" in x]
    assert line.endswith("jax: failed, no rows: ModuleNotFoundError: jax")


def test_without_the_reference_or_the_peak_only_samples_per_s_remain():
    measure = _measure({"today": RuntimeError("boom"), "jit": 150.0})
    settings = benchmark.settings_for(False)
    rows = candidates.bench_candidates(settings, {}, None, [REFERENCE, JIT], measure=measure)
    assert _values(rows) == {("jit", "samples/s"): 150.0}


def test_quick_runs_skip_the_section():
    def measure(candidate, steps):
        raise AssertionError("measured in a quick run")

    settings = benchmark.settings_for(True)
    assert candidates.bench_candidates(settings, MODELS, PEAK, measure=measure) == []


def test_the_reference_is_the_trainers_path_and_each_candidate_times_as_many_samples():
    reference = candidates.CANDIDATES[0]
    assert reference == Candidate(reference.name)  # every default: the trainer's path
    assert reference.backend == "tensorflow" and reference.jit_compile == "auto"
    assert not reference.in_memory and reference.threads is None and reference.runs == 1
    assert reference.autotune  # Keras' own tf.data pipeline over the PyDataset
    names = [c.name for c in candidates.CANDIDATES]
    assert len(set(names)) == len(names)
    assert candidates.profile_batch_size() == 32
    steps = {c.batch_size: candidates.timed_steps(c, 40) for c in candidates.CANDIDATES}
    assert steps == {None: 40, 64: 20, 128: 10}
    for candidate in candidates.CANDIDATES:
        assert Candidate.from_json(candidate.to_json()) == candidate


def test_the_trainer_now_is_a_candidate_with_the_trainers_steps_per_call_and_input():
    from audiofuse import training

    assert candidates.STEPS_PER_CALL == training.STEPS_PER_EXECUTION
    now = candidates.TRAINER_NOW
    assert now == Candidate(
        now.name, steps_per_execution=training.STEPS_PER_EXECUTION, autotune=False, onednn=True
    )
    assert now in candidates.CANDIDATES and now != candidates.CANDIDATES[0]


def test_a_candidate_profile_changes_only_the_batch_and_the_dropout_it_names():
    from audiofuse import config

    cpu = config.get_profile("cpu")
    assert candidates.candidate_profile(REFERENCE, cpu) == cpu
    larger = candidates.candidate_profile(Candidate("b", batch_size=64), cpu)
    assert larger == cpu.replace(train=cpu.train.replace(batch_size=64))
    off = candidates.candidate_profile(Candidate("d", dropout=0.0), cpu)
    assert off.model.dropout == off.model.head_dropout == 0.0
    assert off.model.replace(dropout=0.1, head_dropout=0.3) == cpu.model
    assert (off.features, off.train) == (cpu.features, cpu.train)
    # the dropout ceiling is train-runs' own path with dropout off, nothing else
    ceiling = [c for c in candidates.CANDIDATES if c.dropout is not None]
    assert [c.dropout for c in ceiling] == [0.0]
    assert ceiling[0] == dataclasses.replace(
        candidates.TRAIN_RUNS_NOW, name=ceiling[0].name, dropout=0.0
    )


def test_candidate_env_sets_backend_and_threads_and_drops_inherited_thread_settings(
    monkeypatch,
):
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "7")
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    default = candidates.candidate_env(REFERENCE)
    assert default["KERAS_BACKEND"] == "tensorflow"
    assert not set(candidates.THREAD_VARIABLES) & set(default)  # TensorFlow's own default
    assert Candidate.from_json(default[candidates.CANDIDATE_VARIABLE]) == REFERENCE
    assert default["PYTHONPATH"] == paths.python_env()["PYTHONPATH"]

    one = candidates.candidate_env(Candidate("1 thread", threads=1, runs=2))
    assert {name: one[name] for name in candidates.THREAD_VARIABLES} == {
        "TF_NUM_INTRAOP_THREADS": "1",
        "TF_NUM_INTEROP_THREADS": "1",
        "OMP_NUM_THREADS": "1",
    }
    jax = candidates.candidate_env(Candidate("jax", backend="jax", threads=1))
    assert jax["KERAS_BACKEND"] == "jax"
    assert not set(candidates.THREAD_VARIABLES) & set(jax)  # pinned to cores in the child


def test_candidate_env_keeps_tensorflows_own_onednn_default_only_for_the_old_path(monkeypatch):
    for default in (False, True):
        monkeypatch.setattr(candidates, "onednn_env", lambda on, d=default: paths.onednn_env(
            d if on is None else on
        ))
        old = candidates.candidate_env(REFERENCE)
        assert old["TF_ENABLE_ONEDNN_OPTS"] == ("1" if default else "0")
        now = candidates.candidate_env(candidates.TRAINER_NOW)
        assert now["TF_ENABLE_ONEDNN_OPTS"] == "1"
    # what the project now trains with: every combined row has oneDNN on
    combined = candidates.CANDIDATES[candidates.CANDIDATES.index(candidates.TRAINER_NOW) :]
    assert all(c.onednn for c in combined if c.backend == "tensorflow")


def test_a_jax_run_is_pinned_to_its_own_share_of_the_cores(monkeypatch):
    pinned = []
    monkeypatch.setattr(candidates.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(candidates.os, "sched_setaffinity", lambda pid, cpus: pinned.append(cpus))
    candidates._pin_cores(1, 0)
    candidates._pin_cores(1, 1)
    candidates._pin_cores(2, 1)
    candidates._pin_cores(3, 1)
    assert pinned == [{0}, {1}, {2, 3}, {3, 0, 1}]


def test_every_training_process_learns_its_run_index():
    worker = (
        "import json, os, sys; print('READY', flush=True); sys.stdin.readline(); "
        f"i = int(os.environ['{sweep.RUN_INDEX_VARIABLE}']); "
        "print('RESULT ' + json.dumps({'start': 0.0, 'end': 2.0, 'samples': 10 ** i}))"
    )
    rate = sweep.concurrent_training(2, paths.python_env(), steps=1, worker=worker)
    assert rate == pytest.approx((1 + 10) / 2)  # runs 0 and 1


def test_time_on_go_waits_for_the_go_then_reports_the_timed_call(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr("sys.stdin", io.StringIO("go\n"))
    sweep.time_on_go(lambda: calls.append(1), 96)
    ready, result = capsys.readouterr().out.splitlines()
    assert ready == "READY" and calls == [1]
    result = json.loads(result.removeprefix("RESULT "))
    assert result["samples"] == 96 and result["end"] >= result["start"]


def test_headline_states_the_fastest_candidate_against_both_goals():
    rows = candidates.candidate_rows(
        {"today": 100.0, "jit": 320.0, "jax": 150.0}, "today", PEAK, FLOPS
    )
    headline = _markdown(rows).split("## Headline")[1].split("\n## ")[0]
    (line,) = [x for x in headline.splitlines() if "fastest candidate" in x]
    assert "(jit)" in line and "**3.2x**" in line and line.endswith("**PASS**")
    (share,) = [x for x in headline.splitlines() if "matmul peak" in x]
    # 3 x 0.2 GFLOP x 320 samples/s = 192 GFLOP/s: 160 % of 120, goal 30 %
    assert share.startswith("  - ") and "**160 %**" in share and share.endswith("**PASS**")
    slow = candidates.candidate_rows({"today": 100.0, "jit": 90.0}, "today", 1e4, FLOPS)
    headline = _markdown(slow).split("## Headline")[1].split("\n## ")[0]
    (line,) = [x for x in headline.splitlines() if "fastest candidate" in x]
    assert "(today)" in line and "**1x**" in line and line.endswith("**FAIL**")
    assert "## Training candidates" in _markdown(slow)


def test_quick_headline_says_the_candidates_were_not_measured():
    rows = [benchmark.result_row("peak", "matmul peak (best of the above)", "", 1.0, "GFLOP/s", "r")]
    headline = _markdown(rows, quick=True).split("## Headline")[1].split("\n## ")[0]
    (line,) = [x for x in headline.splitlines() if "fastest candidate" in x]
    assert line.endswith("not measured in this run")
    assert "## Training candidates" not in _markdown(rows, quick=True)


def test_matmul_peak_is_read_from_the_peak_rows():
    from audiofuse.benchmark.sections import MATMUL_PEAK, matmul_peak

    rows = [
        benchmark.result_row("peak", "matmul float32 1024^2 (numpy)", "", 80.0, "GFLOP/s", "r"),
        benchmark.result_row("peak", MATMUL_PEAK, "", 95.0, "GFLOP/s", "r"),
    ]
    assert matmul_peak(rows) == 95.0
    assert matmul_peak(rows[:1]) is None


def test_headline_states_the_projects_path_and_names_a_faster_recipe_change_apart():
    now = candidates.TRAIN_RUNS_NOW.name
    rows = candidates.candidate_rows(
        {"today": 100.0, now: 310.0, "batch 64": 330.0}, "today", PEAK, FLOPS
    )
    headline = _markdown(rows).split("## Headline")[1].split("\n## ")[0]
    (line,) = [x for x in headline.splitlines() if "the project's path" in x]
    assert f"({now})" in line and "**3.1x**" in line and line.endswith("**PASS**")
    (share,) = [x for x in headline.splitlines() if "share of the float32 matmul peak" in x]
    assert "**155 %**" in share  # 3 x 0.2 GFLOP x 310 samples/s of 120 GFLOP/s
    (fastest,) = [x for x in headline.splitlines() if "fastest candidate" in x]
    assert fastest.startswith("  - fastest candidate (batch 64): 3.3x, 165 % of the peak")
