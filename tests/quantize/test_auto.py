"""--auto: plain int8 misses the target on a model with outlier weights; the float fallback of the
first and last convs rescues it, measured on the real artifact; the export records the search."""

from __future__ import annotations

import json

import pytest

from pix2mobile.errors import ConfigError
from pix2mobile.manifest import Manifest
from pix2mobile.pipelines.auto import choose_precision, export_auto
from pix2mobile.pipelines.auto import fallback_ladder, float_limit, layer_harm
from pix2mobile.convert.quantize.layers import fallback_candidates
from quant_nets import CYCLE_IO, SIZE


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["tflite", "pte"])
def test_fallback_rescues_int8_that_misses_the_target(dead_channel, calib, fmt):
    module, ref = dead_channel
    result = choose_precision(module, ref, SIZE, fmt, target_psnr=30, calibration=calib)
    plain, rescued = result.trials[0], result.trials[1]
    assert plain.precision == "int8" and plain.keep_float == () and plain.psnr_db < 20 and not plain.passed
    assert rescued.precision == "int8" and rescued.keep_float == ("body.1", "head.1") and rescued.passed
    assert rescued.psnr_db >= 30 and result.precision == "int8" and result.keep_float == ("body.1", "head.1")
    assert len(result.trials) == 2 and rescued.bytes is not None
    assert "int8 with body.1, head.1 in float" in result.describe()
    json.dumps(result.to_json())


@pytest.mark.slow
def test_export_auto_writes_the_choice_through_the_gate(dead_channel, calib, tmp_path):
    module, ref = dead_channel
    manifest, result = export_auto(module, ref, SIZE, "tflite", tmp_path, target_psnr=30, calibration=calib)
    row = manifest.artifact("tflite")
    assert row.ok and row.precision == "int8" and row.file == "dead_int8.tflite"
    assert any("kept float: body.1, head.1" in n for n in row.notes)
    assert row.notes[-1] == result.describe()
    assert Manifest.read(tmp_path) == manifest


@pytest.mark.slow
def test_precisions_are_tried_smallest_first_until_one_clears(cycle, calib):
    module, ref = cycle
    result = choose_precision(module, ref, SIZE, "mlpackage", target_psnr=70, calibration=calib,
                              max_fallback_steps=1)
    tried = [t.precision for t in result.trials]
    assert tried[0] == "palette4" and result.precision in ("w8", "fp16", "fp32")
    assert tried.index("palette6") > tried.index("palette4")
    assert all(not t.passed for t in result.trials[:-1]) and result.trials[-1].passed
    assert set(result.layer_psnr) <= {"palette4", "palette6", "w8", "fp16"}


def test_candidates_ladder_and_harm(cycle, calib):
    module, _ = cycle
    ends, neighbours, n_weighted = fallback_candidates(module, calib.samples[0])
    assert ends == ["net.1", "net.11"] and neighbours == ["net.4", "net.7"] and n_weighted == 4
    assert fallback_ladder(ends, ["net.7", "net.4"], 3, 4) == [("net.1", "net.11"), ("net.1", "net.11", "net.7", "net.4")]
    assert fallback_ladder(ends, ["net.7", "net.4"], 3, 2) == [("net.1", "net.11")]   # at most half float
    assert fallback_ladder([], list("abcde"), 2, 10) == [("a", "b"), ("a", "b", "c", "d")]
    assert float_limit(4, 2) == 2 and float_limit(3, 2) == 2 and float_limit(2, 2) == 1 and float_limit(24, 2) == 12
    harm = layer_harm(module, CYCLE_IO, neighbours, calib.samples[:2], "int8")
    assert set(harm) == {"net.4", "net.7"} and all(20 < v <= 100 for v in harm.values())


def test_bad_requests(cycle, calib):
    module, ref = cycle
    with pytest.raises(ConfigError, match="target PSNR"):
        choose_precision(module, ref, SIZE, "tflite", target_psnr=0, calibration=calib)
    with pytest.raises(ConfigError, match="exports fp32, int8, not w8"):
        choose_precision(module, ref, SIZE, "pte", precisions=["w8"], calibration=calib)
    with pytest.raises(ConfigError, match="unknown format"):
        choose_precision(module, ref, SIZE, "tfl", calibration=calib)
