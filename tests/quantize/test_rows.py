"""Every quantized (format, precision) row, through `export_model` on a tiny trained net: the file is
reopened and run by its own runtime on fresh real-image inputs, its PSNR against eager fp32 clears
its threshold, it is smaller than the fp32 row, and the manifest carries PSNR, SSIM and size."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pix2mobile.convert.formats import FORMATS
from pix2mobile.pipelines.export import export_model
from pix2mobile.runtimes import parity
from pix2mobile.pipelines.export import parity_inputs
from pix2mobile.convert.quantize.recipes import RECIPES
from quant_nets import SIZE

ROWS = sorted(RECIPES)
BY_FORMAT = {f: ["fp32", *[p for (g, p) in ROWS if g == f]] for f in dict.fromkeys(f for f, _ in ROWS)}


@pytest.fixture(scope="module")
def exported(_trained_cycle, calib, tmp_path_factory):
    """One export per format with all its quantized precisions (and fp32 for the size comparison)."""
    from pix2mobile.convert.common import ExportOptions
    from pix2mobile.pipelines.export import ModelRef
    from quant_nets import CYCLE_IO

    torch.set_num_threads(1)
    out = {}
    for fmt, precisions in BY_FORMAT.items():
        folder = tmp_path_factory.mktemp(fmt)
        manifest = export_model(_trained_cycle, ModelRef("test", "cycle", CYCLE_IO), SIZE, [fmt], folder,
                                precisions={fmt: precisions}, export_options=ExportOptions(calibration=calib))
        out[fmt] = (folder, manifest)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("fmt,precision", ROWS, ids=[f"{f}-{p}" for f, p in ROWS])
def test_quantized_row_passes_its_gate_and_is_smaller(exported, _trained_cycle, fmt, precision):
    from quant_nets import CYCLE_IO

    folder, manifest = exported[fmt]
    row = manifest.artifact(fmt, precision)
    assert row.status == "ok", row.reason
    threshold = parity.DEFAULT_THRESHOLDS_DB[precision]
    assert row.parity.threshold_db == threshold
    assert row.parity.psnr_db >= threshold and row.parity.ssim is not None and row.parity.ssim > 0.9
    assert row.bytes < manifest.artifact(fmt, "fp32").bytes
    assert row.file == f"cycle_{precision}{FORMATS[fmt].suffix}"
    assert any(RECIPES[(fmt, precision)].tool in n for n in row.notes)
    # reopened from disk by its own runtime, on inputs the gate did not use
    inputs = parity_inputs(CYCLE_IO, (SIZE, SIZE), n=2, seed=123)
    run = FORMATS[fmt].runner_fn(folder / row.file, CYCLE_IO)
    got = np.concatenate([run(s)[0] for s in inputs])
    with torch.no_grad():
        ref = np.concatenate([_trained_cycle.eval()(*s).numpy() for s in inputs])
    result = parity.compare([ref], [got], CYCLE_IO.outputs, threshold)
    assert result.passed, result.describe()
    # the recipe's packages are recorded with their versions
    for package in RECIPES[(fmt, precision)].packages:
        assert row.converter.get(package), (package, row.converter)
