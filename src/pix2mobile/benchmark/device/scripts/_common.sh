# Shared by the pix2mobile on-device benchmark scripts (sourced, not run).
# Arguments of every script: SERIAL ARTIFACT DEVICE_DIR THREADS RUNS WARMUP [EXTRA...]
# Exit codes: 0 the tool ran (its output is on stdout), 2 adb or the push failed,
#             3 the tool is not on the device, anything else: the tool's own exit status.
set -uo pipefail
ADB="${ADB:-adb}"
if [ "$#" -lt 6 ]; then
  echo "usage: $(basename "$0") SERIAL ARTIFACT DEVICE_DIR THREADS RUNS WARMUP [EXTRA...]" >&2
  exit 64
fi
serial="$1"; artifact="$2"; device_dir="$3"; threads="$4"; runs="$5"; warmup="$6"
shift 6
remote="$device_dir/$(basename "$artifact")"

push_artifact() {
  "$ADB" -s "$serial" shell "mkdir -p '$device_dir'" >/dev/null || { echo "adb shell mkdir failed" >&2; exit 2; }
  "$ADB" -s "$serial" push "$artifact" "$remote" >/dev/null || { echo "adb push $artifact failed" >&2; exit 2; }
}

require_tool() {  # require_tool NAME: the binary must be executable at DEVICE_DIR/NAME
  if ! "$ADB" -s "$serial" shell "test -x '$device_dir/$1'"; then
    echo "$1 is not on the device: adb push it to $device_dir/$1 (and chmod +x)" >&2
    exit 3
  fi
}
