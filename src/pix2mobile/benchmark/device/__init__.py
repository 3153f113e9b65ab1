"""On-device benchmarks over adb: scripts that push and run each format's tool, and their output parsers.

`scripts/` holds one bash script per tool (TFLite `benchmark_model`, ExecuTorch
`executor_runner`, PyTorch `speed_benchmark_torch`); `runtimes.device` reads their output;
`adb.device_rows` ties them to a manifest. `samples/` holds recorded-format outputs for the
parser tests (illustrative numbers, not measurements).
"""

from pix2mobile.benchmark.device.adb import device_rows, find_adb, list_devices, tools, unavailable_reason
from pix2mobile.runtimes.device import (DeviceRun, parse_benchmark_model, parse_executor_runner,
                                        parse_speed_benchmark_torch)

__all__ = ["tools", "DeviceRun", "device_rows", "find_adb", "list_devices", "unavailable_reason",
           "parse_benchmark_model", "parse_executor_runner", "parse_speed_benchmark_torch"]
