#!/usr/bin/env bash
# The paper profile on one GPU machine: the commands behind results/real/paper.
#
#   bash scripts/gpu_paper_run.sh DATA_DIR OUT_DIR WAIT_S [audiofuse train-runs options]
#
# DATA_DIR holds physionet2016/ (and pascal/), full or packed with
# `audiofuse data pack`. The script starts `audiofuse train-runs --profile paper`
# in its own session, so it outlives this script while the machine stays up, and
# waits up to WAIT_S seconds for it. A second call waits for a training still
# running, then starts its own (finished runs are reused, unfinished ones resume).
# Finally it packs every run's scores, histories and configs, not the weights, into
# OUT_DIR/paper_runs.tar.gz, with the log, and saves the seed-0 main models' weights.
#
# Runs record the commit that trained them. Where the copy's .git is missing or
# stale (a synced folder, an upload), set AUDIOFUSE_COMMIT=<short hash> first.
#
# Back on any machine: `tar -xzf paper_runs.tar.gz -C runs`, then
# `make reproduce PROFILE=paper DATA_DIR=... TRAIN=False` builds every table from
# those scores, and `python scripts/ship_models.py --weights-dir OUT_DIR` exports the
# seed-0 models to models/. Colab: set the runtime to GPU and run the same lines in a cell.
set -euo pipefail
data=$1 out=$2 wait_s=$3
shift 3
export KERAS_BACKEND=${KERAS_BACKEND:-jax} XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
profile=${PROFILE:-paper} runs=${RUNS_SUBDIR:-real/${PROFILE:-paper}}  # other profiles: for testing
mkdir -p runs/logs "$out"
pidfile=runs/gpu_train.pid log=runs/logs/gpu_train.log
deadline=$(($(date +%s) + wait_s))

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }
wait_until_deadline() {
  while running; do
    [ "$(date +%s)" -ge "$deadline" ] && return 1
    sleep 5
  done
}

if wait_until_deadline; then
  echo "== $(date -u +%FT%TZ) train-runs --profile $profile $*" >>"$log"
  setsid nohup python3 -m audiofuse.cli train-runs --profile "$profile" --data-dir "$data" "$@" \
    >>"$log" 2>&1 &
  echo $! >"$pidfile"
  wait_until_deadline || echo "still training after ${wait_s} s; a later call collects the rest"
else
  echo "an earlier training is still running after ${wait_s} s"
fi

grep -v '^\[' "$log" | tail -n 40 || true
tar -czf "$out/${profile}_runs.tar.gz" --exclude='*.keras' -C runs "$runs" logs/gpu_train.log
# the seed-0 main models' weights alone: best.keras also holds Adam's state, three
# times their size (the fusion's is 32 MB, past a 16 MiB pipe); scripts/ship_models.py
# rebuilds each model from its run's config.json and these weights
for kind in fusion spectrogram waveform; do
  run=runs/$runs/$kind/seed0
  if [ -f "$run/best.keras" ]; then
    python3 -c 'import sys; from audiofuse.model.training import load_trained
load_trained(sys.argv[1])[0].save_weights(sys.argv[2])' "$run" "$out/${kind}_seed0.weights.h5"
  fi
done
ls -l "$out"
