#!/usr/bin/env bash
# Prove the CUDA training paths of issue 18 (bf16 autocast, fp16 + GradScaler, channels_last,
# --compile, bit-identical fp32 resume, DDP over NCCL, train_throughput vs the pytorch/examples
# loop) on this machine's GPU(s), in under 10 minutes.
#
#   scripts/cuda_ddp_proof.sh [OUT_DIR]          # default: proof-YYYYmmdd-HHMMSS
#
# Paste the printed lines (also in OUT_DIR.log) and OUT_DIR/proof.json into the issue note.
# Written and rehearsed (--rehearse-on-cpu) on a machine without a GPU: it has NOT been run on
# CUDA yet. See docs/scale-out.md.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-proof-$(date +%Y%m%d-%H%M%S)}"
py="${PYTHON:-$here/.venv/bin/python}"
[ -x "$py" ] || py="$(command -v python3)"
export PYTHONPATH="$here/src${PYTHONPATH:+:$PYTHONPATH}"
export OMP_WAIT_POLICY=PASSIVE
mkdir -p "$out"
{ nvidia-smi -L || echo "nvidia-smi: not found"; } 2>&1 | tee "$out.log"
timeout 600 "$py" -m pix2mobile.benchmark.cuda_proof --out "$out" "${@:2}" 2>&1 | tee -a "$out.log"
