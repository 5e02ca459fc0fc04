#!/usr/bin/env bash
# Train the paper's three models on the real PhysioNet data with the cpu profile,
# one model at a time, in the background. Reruns resume/skip finished runs.
#   nohup bash scripts/train_real_cpu.sh "0" > runs/logs/train_real_cpu.log 2>&1 &
set -euo pipefail
seeds=${1:-0}
data_dir=${DATA_DIR:-../shared/data}
for seed in $seeds; do
  for model in fusion waveform spectrogram; do
    audiofuse train --profile cpu --data-dir "$data_dir" --models "$model" --seeds "$seed" \
      --table "train_log_${model}_seed${seed}" --n-boot 200 --results-dir runs/train-tables
  done
done
