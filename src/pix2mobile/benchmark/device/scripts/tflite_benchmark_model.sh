#!/usr/bin/env bash
# Push a .tflite artifact to an Android device and run TFLite's benchmark_model on it (XNNPACK).
# usage: tflite_benchmark_model.sh SERIAL ARTIFACT DEVICE_DIR THREADS RUNS WARMUP
# benchmark_model: the prebuilt android_aarch64_benchmark_model from the TFLite/LiteRT releases,
# pushed once to DEVICE_DIR/benchmark_model.
source "$(dirname "$0")/_common.sh"
require_tool benchmark_model
push_artifact
"$ADB" -s "$serial" shell "'$device_dir/benchmark_model' --graph='$remote' --num_threads=$threads \
  --use_xnnpack=true --num_runs=$runs --min_secs=0 --warmup_runs=$warmup --warmup_min_secs=0" 2>&1
