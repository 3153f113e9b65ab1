"""The format table: keyed by name, every row complete, nothing positional."""

from __future__ import annotations

import importlib.metadata

import pytest

from pix2mobile.convert.formats import FORMATS, ExportFormat
from pix2mobile.convert.common import ExportOptions
from pix2mobile.errors import ConfigError


def test_table_is_keyed_by_name_with_the_six_formats():
    assert {"ptl", "tflite", "mlpackage", "mlmodel", "onnx", "pte"} <= set(FORMATS)   # a new row needs no edit here
    suffixes = [f.suffix for f in FORMATS.values()]
    assert len(set(suffixes)) == len(suffixes)
    for key, fmt in FORMATS.items():
        assert isinstance(fmt, ExportFormat) and fmt.key == key
        assert fmt.suffix == f".{key}" and fmt.is_dir == (key == "mlpackage")
        assert callable(fmt.export_fn) and callable(fmt.runner_fn)
        assert fmt.precisions and fmt.default_precision == fmt.precisions[0]
        assert fmt.disabled(None) is None


def test_mlpackage_defaults_to_fp16_and_the_rest_to_fp32():
    assert FORMATS["mlpackage"].precisions[:2] == ("fp16", "fp32")
    assert all(f.default_precision == "fp32" for k, f in FORMATS.items() if k != "mlpackage")


def test_each_format_declares_its_quantized_precisions():
    """What the quantization issue asks for; pix2mobile.convert.quantize's RECIPES table builds them."""
    assert FORMATS["tflite"].precisions == ("fp32", "fp16", "w8", "int8-dynamic", "int8")
    assert FORMATS["pte"].precisions == ("fp32", "int8")
    assert FORMATS["ptl"].precisions == ("fp32", "int8")
    assert FORMATS["mlpackage"].precisions == ("fp16", "fp32", "w8", "palette6", "palette4")
    assert FORMATS["mlmodel"].precisions == ("fp32", "fp16", "w8", "palette6", "palette4")
    assert FORMATS["onnx"].precisions == ("fp32",)


def test_converters_are_installed_distributions():
    """make test installs every converter: a missing one is a failure, not a skip."""
    for fmt in FORMATS.values():
        for name in fmt.converter:
            assert importlib.metadata.version(name)


def test_export_options_validate_without_rewriting():
    assert ExportOptions().precision == "fp32"
    with pytest.raises(ConfigError, match="unknown precision 'int4'"):
        ExportOptions(precision="int4")


def test_importing_the_package_imports_no_converter():
    import subprocess
    import sys

    code = ("import sys, pix2mobile.convert, pix2mobile.runtimes, pix2mobile.pipelines; heavy = [m for m in ('litert_torch', 'coremltools', 'executorch', "
            "'onnxruntime', 'onnx', 'ai_edge_litert') if m in sys.modules]; print(heavy); sys.exit(bool(heavy))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
