"""Core ML weight compression: ML Program constexpr ops the numpy evaluator decodes, and the two
coremltools 9.0 NeuralNetwork workarounds (flat k-means tables; no batchnorm layers)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from pix2mobile.errors import ConfigError
from pix2mobile.convert import coreml
from pix2mobile.runtimes.coreml_eval import evaluator as coreml_check
from pix2mobile.convert.common import ExportOptions
from pix2mobile.pipelines.export import parity_inputs
from pix2mobile.runtimes.parity import compare
from pix2mobile.convert.quantize.coreml import kmeans_lut, quantize_mlmodel, quantize_mlpackage, weight_layer_selector
from quant_nets import CYCLE_IO, SIZE
from pix2mobile.runtimes import coreml as coreml_runtime


@pytest.fixture(scope="module")
def float_models(_trained_cycle, tmp_path_factory):
    folder = tmp_path_factory.mktemp("coreml")
    example = parity_inputs(CYCLE_IO, (SIZE, SIZE), n=1)[0]
    coreml.export_mlpackage(copy.deepcopy(_trained_cycle), example, CYCLE_IO, folder / "c_fp16.mlpackage",
                            ExportOptions(precision="fp16"))
    coreml.export_mlmodel(copy.deepcopy(_trained_cycle), example, CYCLE_IO, folder / "c_fp32.mlmodel", ExportOptions())
    return folder


def _op_types(path):
    from coremltools.converters.mil.frontend.milproto.load import load
    import coremltools as ct

    model = ct.models.MLModel(str(path), skip_model_load=True)
    spec = model.get_spec()
    func = load(spec, spec.specificationVersion, file_weights_dir=model.weights_dir).functions["main"]
    return [op.op_type for op in func.operations]


def _psnr(path, module):
    import torch

    inputs = parity_inputs(CYCLE_IO, (SIZE, SIZE), n=2, seed=5)
    run = coreml_runtime.load_runner(path, CYCLE_IO)
    got = np.concatenate([run(s)[0] for s in inputs])
    with torch.no_grad():
        ref = np.concatenate([module(*s).numpy() for s in inputs])
    return compare([ref], [got], CYCLE_IO.outputs, 0).psnr_db


@pytest.mark.slow
@pytest.mark.parametrize("precision,op,floor", [("w8", "constexpr_affine_dequantize", 30),
                                                ("palette6", "constexpr_lut_to_dense", 30),
                                                ("palette4", "constexpr_lut_to_dense", 25)])
def test_mlpackage_compression_verifies_in_the_numpy_evaluator(float_models, _trained_cycle, tmp_path,
                                                                precision, op, floor):
    out = tmp_path / f"c_{precision}.mlpackage"
    quantize_mlpackage(float_models / "c_fp16.mlpackage", out, precision)
    ops = _op_types(out)
    assert ops.count(op) == 4, ops                   # the four conv weights, nothing else
    assert _psnr(out, _trained_cycle) >= floor
    meta = coreml_check.describe(out)
    assert [f["name"] for f in meta["inputs"]] == ["image"] and meta["inputs"][0]["kind"] == "image"


@pytest.mark.slow
def test_mlpackage_keep_float_leaves_that_weight_dense(float_models, tmp_path):
    out = tmp_path / "kf.mlpackage"
    quantize_mlpackage(float_models / "c_fp16.mlpackage", out, "palette6", keep_float=("net.11",))
    assert _op_types(out).count("constexpr_lut_to_dense") == 3
    with pytest.raises(ConfigError, match="names no weight constant"):
        quantize_mlpackage(float_models / "c_fp16.mlpackage", tmp_path / "x.mlpackage", "w8", keep_float=("net.2",))


def test_kmeans_lut_flattens_coremltools_own_table():
    from coremltools.models.neural_network.quantization_utils import _get_kmeans_lookup_table_and_weight

    w = np.random.default_rng(0).normal(size=(16, 8, 3, 3)).astype(np.float32)
    theirs, their_idx = _get_kmeans_lookup_table_and_weight(4, w)
    assert np.asarray(theirs).shape == (16, 1)                       # what the proto cannot store
    lut, idx = kmeans_lut(4, w)
    assert lut.shape == (16,) and lut.dtype == np.float32
    assert idx.shape == (w.size,) and idx.dtype == np.uint8 and idx.max() < 16
    np.testing.assert_allclose(lut[idx], np.asarray(theirs).ravel()[np.asarray(their_idx).ravel()], atol=1e-6)
    assert float(np.mean((lut[idx] - w.ravel()) ** 2)) < 0.02


def test_coremltools_kmeans_mode_still_crashes_so_the_workaround_stays(float_models):
    """Canary: when this stops raising, coremltools fixed its (2^n, 1) table and custom_lut can go."""
    import coremltools as ct
    from coremltools.models.neural_network import quantization_utils as qu

    model = ct.models.MLModel(str(float_models / "c_fp32.mlmodel"), skip_model_load=True)
    with pytest.raises(TypeError, match="has type ndarray, but expected one of: float"):
        qu.quantize_weights(model, nbits=6, quantization_mode="kmeans")


@pytest.mark.slow
def test_mlmodel_palettes_through_custom_lut_verify(float_models, _trained_cycle, tmp_path):
    for precision, floor in (("palette6", 30), ("palette4", 25)):
        out = tmp_path / f"c_{precision}.mlmodel"
        notes = quantize_mlmodel(float_models / "c_fp32.mlmodel", out, precision)
        assert any("custom_lut" in n for n in notes)
        spec = coreml_check._parse(out)
        luts = [layer.convolution.weights.quantization for layer in spec.neuralNetwork.layers
                if layer.WhichOneof("layer") == "convolution"]
        bits = 6 if precision == "palette6" else 4
        assert len(luts) == 4 and all(q.numberOfBits == bits and len(q.lookupTableQuantization.floatValue) == 1 << bits
                                      for q in luts)
        assert _psnr(out, _trained_cycle) >= floor


def _conv_weight_layout(conv):
    """(weight shape, output-channel axis) of a NeuralNetwork convolution layer, as Core ML stores it."""
    kernel = tuple(int(k) for k in conv.kernelSize)
    if conv.isDeconvolution:
        groups = int(conv.nGroups) or 1
        return (int(conv.kernelChannels), int(conv.outputChannels) // groups, *kernel), 1
    return (int(conv.outputChannels), int(conv.kernelChannels), *kernel), 0


@pytest.mark.slow
def test_dequantization_mode_needs_the_selector(float_models, tmp_path):
    """Instance norm converts to batchnorm layers with empty mean/variance; dequantization mode
    crashes on them unless the selector skips them. With it, the float weights it restores are
    the ones our evaluator decodes from the w8 file, and the two files compute the same image.

    The images are real photo crops: a constant image makes the first InstanceNorm divide
    float round-off by sqrt(eps), so its output depends on the BLAS kernel (0.28 max abs apart
    under OPENBLAS_CORETYPE=Prescott, 4e-5 under SkylakeX) and says nothing about the weights.
    """
    import coremltools as ct
    from coremltools.models.neural_network import quantization_utils as qu

    from pix2mobile.runtimes.coreml_eval import _nn_params

    w8 = tmp_path / "c_w8.mlmodel"
    quantize_mlmodel(float_models / "c_fp32.mlmodel", w8, "w8")
    model = ct.models.MLModel(str(w8), skip_model_load=True)
    with pytest.raises(IndexError):
        qu.quantize_weights(model, nbits=8, quantization_mode="dequantization")
    restored = qu.quantize_weights(model, nbits=8, quantization_mode="dequantization", selector=weight_layer_selector())
    back = tmp_path / "back.mlmodel"
    restored.save(str(back))

    convs = {layer.name: layer.convolution for layer in coreml_check._parse(w8).neuralNetwork.layers
             if layer.WhichOneof("layer") == "convolution"}
    restored_convs = {layer.name: layer.convolution for layer in coreml_check._parse(back).neuralNetwork.layers
                      if layer.WhichOneof("layer") == "convolution"}
    assert len(convs) == 4 and restored_convs.keys() == convs.keys()
    for name, conv in convs.items():
        assert conv.weights.quantization.numberOfBits == 8, name
        dense = np.asarray(restored_convs[name].weights.floatValue, np.float32)
        shape, axis = _conv_weight_layout(conv)
        decoded = _nn_params.decode(conv.weights, shape, axis, what=name).ravel()
        np.testing.assert_allclose(dense, decoded, rtol=1e-6, atol=1e-7 * np.abs(decoded).max(), err_msg=name)

    photos = parity_inputs(CYCLE_IO, (SIZE, SIZE), n=2, seed=5)
    run_back, run_w8 = coreml_runtime.load_runner(back, CYCLE_IO), coreml_runtime.load_runner(w8, CYCLE_IO)
    a = np.concatenate([run_back(s)[0] for s in photos])
    b = np.concatenate([run_w8(s)[0] for s in photos])
    assert compare([b], [a], CYCLE_IO.outputs, 0).psnr_db >= 60


@pytest.mark.slow
def test_mlmodel_keep_float_matches_layers_by_weights(float_models, _trained_cycle, tmp_path):
    out = tmp_path / "kf.mlmodel"
    quantize_mlmodel(float_models / "c_fp32.mlmodel", out, "w8", keep_float=("net.11",), module=_trained_cycle)
    spec = coreml_check._parse(out)
    dense = [layer.name for layer in spec.neuralNetwork.layers if layer.WhichOneof("layer") == "convolution"
             and len(layer.convolution.weights.floatValue)]
    assert len(dense) == 1
    with pytest.raises(ConfigError, match="needs the PyTorch module"):
        quantize_mlmodel(float_models / "c_fp32.mlmodel", tmp_path / "x.mlmodel", "w8", keep_float=("net.11",))
