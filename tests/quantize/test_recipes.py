"""The precision table: every precision a format lists is native or has a recipe, and has a gate."""

from __future__ import annotations

import pytest

from pix2mobile.errors import ConfigError
from pix2mobile.convert.formats import FORMATS
from pix2mobile.convert.common import ExportOptions
from pix2mobile.convert.common import PRECISIONS
from pix2mobile.runtimes.parity import DEFAULT_THRESHOLDS_DB
from pix2mobile.convert.quantize.recipes import AUTO_ORDER, NATIVE, RECIPES, recipe_for


def test_formats_and_recipes_agree():
    for key, fmt in FORMATS.items():
        for p in fmt.precisions:
            assert p in PRECISIONS and p in DEFAULT_THRESHOLDS_DB
            assert (p in NATIVE[key]) != ((key, p) in RECIPES), (key, p)
        assert set(AUTO_ORDER[key]) == set(fmt.precisions), key
    for (key, p), recipe in RECIPES.items():
        assert p in FORMATS[key].precisions and recipe.base_precision in NATIVE[key]


def test_thresholds_follow_the_issue():
    assert DEFAULT_THRESHOLDS_DB["int8"] == DEFAULT_THRESHOLDS_DB["w8"] == DEFAULT_THRESHOLDS_DB["int8-dynamic"] == 30
    assert DEFAULT_THRESHOLDS_DB["palette4"] == 25 and DEFAULT_THRESHOLDS_DB["palette6"] == 30
    assert DEFAULT_THRESHOLDS_DB["fp16"] == 35


def test_lookups_and_options_validate():
    assert recipe_for("tflite", "fp32") is None and recipe_for("mlpackage", "fp16") is None
    assert recipe_for("pte", "int8").stage == "module" and recipe_for("tflite", "int8").calibrated
    with pytest.raises(ConfigError, match="onnx has no int8 recipe"):
        recipe_for("onnx", "int8")
    with pytest.raises(ConfigError, match="keep_float takes a tuple"):
        ExportOptions(keep_float="net.1")
    with pytest.raises(ConfigError, match="unknown precision"):
        ExportOptions(precision="int4")


def test_export_model_rejects_what_a_format_does_not_make(cycle, tmp_path):
    from pix2mobile.pipelines.export import export_model

    module, ref = cycle
    with pytest.raises(ConfigError, match="exports fp32, int8, not w8"):
        export_model(module, ref, 32, ["pte"], tmp_path, precisions={"pte": ["w8"]})
    with pytest.raises(ConfigError, match="no module net.99"):
        export_model(module, ref, 32, ["tflite"], tmp_path, precisions={"tflite": ["int8"]},
                     export_options=ExportOptions(keep_float=("net.99",)))
