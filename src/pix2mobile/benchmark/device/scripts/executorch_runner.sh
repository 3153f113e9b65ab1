#!/usr/bin/env bash
# Push a .pte artifact to an Android device and run ExecuTorch's executor_runner on it.
# usage: executorch_runner.sh SERIAL ARTIFACT DEVICE_DIR THREADS RUNS WARMUP
# executor_runner: built from ExecuTorch with the XNNPACK backend linked in (the artifacts are
# XNNPACK-delegated), pushed once to DEVICE_DIR/executor_runner. It runs WARMUP untimed passes
# only if it supports them; RUNS passes are timed together (--num_executions).
source "$(dirname "$0")/_common.sh"
require_tool executor_runner
push_artifact
"$ADB" -s "$serial" shell "'$device_dir/executor_runner' --model_path='$remote' --num_executions=$runs \
  --cpu_threads=$threads" 2>&1
