#!/usr/bin/env bash
# Push a .ptl artifact to an Android device and run PyTorch's speed_benchmark_torch on it.
# usage: speed_benchmark_torch.sh SERIAL ARTIFACT DEVICE_DIR THREADS RUNS WARMUP INPUT_DIMS INPUT_TYPES
#   INPUT_DIMS like "1,3,256,256" (several inputs separated by ';'), INPUT_TYPES like "float".
# speed_benchmark_torch: built with BUILD_LITE_INTERPRETER=1 (scripts/build_android.sh
# -DBUILD_BINARY=ON), pushed once to DEVICE_DIR/speed_benchmark_torch. Threads: the binary's
# default (it has no thread flag); THREADS is accepted for a uniform interface.
source "$(dirname "$0")/_common.sh"
dims="${1:?INPUT_DIMS missing}"; types="${2:?INPUT_TYPES missing}"
require_tool speed_benchmark_torch
push_artifact
"$ADB" -s "$serial" shell "'$device_dir/speed_benchmark_torch' --model='$remote' --input_dims='$dims' \
  --input_type='$types' --warmup=$warmup --iter=$runs --report_pep=true" 2>&1
