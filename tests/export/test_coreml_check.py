"""coreml_check: the numpy evaluator of saved Core ML models, held against PyTorch.

Tiny modules cover the ops our generators produce; each is converted with coremltools 9 (ML
Program from `torch.export`, NeuralNetwork from `torch.jit.trace`), saved, and evaluated from
disk. Compressed weights are checked exactly against coremltools' own decompression.
"""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path
from typing import Any, Callable

import coremltools as ct
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from coremltools.models.neural_network import quantization_utils as qu
from torch import nn

from pix2mobile.errors import ConfigError, ExportError, VerificationError
from pix2mobile.runtimes.coreml_eval import _mil_ops, _nn_layers, evaluator as coreml_check
from pix2mobile.runtimes.coreml_eval._mil_constexpr import unpack_lsb_first
from pix2mobile.runtimes.coreml_eval._nn_params import unpack_msb_first

pytestmark = pytest.mark.slow


# ---------------------------------------------------------------- modules


class Generator(nn.Module):
    """pix2pix/CycleGAN shapes: reflect pad, IN, strided conv + BN, transposed conv with output
    padding, nearest upsample, dilated depthwise and grouped convs, replication pad, skip, tanh."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3)
        self.n1 = nn.InstanceNorm2d(8, affine=True)
        self.down = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(16)
        self.up = nn.ConvTranspose2d(16, 8, 3, stride=2, padding=1, output_padding=1)
        self.c3 = nn.Conv2d(8, 8, 3, stride=2, padding=1)
        self.dw = nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=8)
        self.grouped = nn.Conv2d(8, 4, (2, 4), groups=2)
        self.out = nn.Conv2d(4 + 3, 3, 1)
        for norm in (self.n1, self.bn):
            nn.init.uniform_(norm.weight, 0.5, 1.5)
            nn.init.uniform_(norm.bias, -0.5, 0.5)
        self.bn.running_mean.uniform_(-0.2, 0.2)
        self.bn.running_var.uniform_(0.5, 1.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.n1(self.c1(F.pad(x, (1, 1, 1, 1), mode="reflect"))))
        h = self.up(self.bn(self.down(h)))
        h = F.interpolate(h, scale_factor=2, mode="nearest")
        h = F.leaky_relu(self.c3(h), 0.2)
        h = self.grouped(F.pad(self.dw(h), (1, 2, 0, 1), mode="replicate"))
        return torch.tanh(self.out(torch.cat([h, x], 1)))


class Resampler(nn.Module):
    """Decoder ops: k4/s2/p1 transposed conv, grouped transposed conv with output padding, silu,
    gelu, pooling, 'same' conv with an even kernel, bilinear, pixel shuffle, layer norm."""

    def __init__(self) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(3, 8, 4, stride=2, padding=1)
        self.up_g = nn.ConvTranspose2d(8, 8, 3, stride=2, padding=1, output_padding=1, groups=2)
        self.same = nn.Conv2d(8, 12, 4, padding="same")
        self.ln = nn.LayerNorm(16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.gelu(self.up_g(F.silu(self.up(x))))
        h = self.same(F.avg_pool2d(h, 2) + F.max_pool2d(h, 3, 2, 1))
        h = F.interpolate(h, scale_factor=0.5, mode="bilinear", align_corners=False)
        return torch.tanh(self.ln(F.pixel_shuffle(h, 2)))


class ImageAndZ(nn.Module):
    """BicycleGAN-style: a latent z broadcast over the image (view/expand -> tile) and concatenated."""

    def __init__(self, nz: int = 4) -> None:
        super().__init__()
        self.c = nn.Conv2d(3 + nz, 8, 3, padding=1)
        self.o = nn.Conv2d(8, 3, 3, padding=1)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        zz = z.view(z.size(0), z.size(1), 1, 1).expand(z.size(0), z.size(1), x.size(2), x.size(3))
        h = torch.sigmoid(self.c(torch.cat([x, zz], 1))) * 2.0 - 1.0
        h = self.o(F.pad(h, (1, 1, 1, 1), value=0.5))[:, :, 1:-1, 1:-1]
        return h / 1.5 + x


class AlphaMLP(nn.Module):
    """A scalar alpha of shape (1,) interpolating two weight tensors; linear, matmul, sigmoid,
    mean/variance, rsqrt, sqrt, clamp."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b, self.c = nn.Linear(8, 16), nn.Linear(8, 16), nn.Linear(16, 4)

    def forward(self, v: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        w = self.a.weight * (1 - alpha) + self.b.weight * alpha
        h = torch.sigmoid(F.linear(v, w, self.a.bias))
        h = torch.matmul(h, self.c.weight.t()) + self.c.bias
        m = h.mean(dim=1, keepdim=True)
        var = ((h - m) ** 2).mean(dim=1, keepdim=True)
        return (h - m) * torch.rsqrt(var + 1e-5) + torch.sqrt(torch.clamp(h, 0.0, 1.0) + 1.0)


MODELS: dict[str, Callable[[], tuple[nn.Module, tuple[torch.Tensor, ...]]]] = {
    "generator": lambda: (Generator(), (torch.randn(1, 3, 16, 16),)),
    "resampler": lambda: (Resampler(), (torch.randn(1, 3, 8, 8),)),
    "image_z": lambda: (ImageAndZ(), (torch.randn(1, 3, 16, 16), torch.randn(1, 4))),
    "alpha_mlp": lambda: (AlphaMLP(), (torch.randn(2, 8), torch.full((1,), 0.3))),
}
TOL = {"fp32": 1e-4, "fp16": 1e-2, "fp16-ios15": 1e-2, "nn": 1e-4}


# ---------------------------------------------------------------- conversion


def _quiet() -> contextlib.AbstractContextManager[Any]:
    """coremltools' NeuralNetwork quantizer prints per layer."""
    return contextlib.redirect_stdout(io.StringIO())


def _convert(module: nn.Module, args: tuple[torch.Tensor, ...], path: Path, kind: str,
             inputs: list[Any] | None = None, outputs: list[Any] | None = None) -> Path:
    """kind: fp32 / fp16 (iOS 16 ML Program, fp16 I/O), fp16-ios15 (explicit casts), fp32-ios18, nn."""
    inputs = inputs or [ct.TensorType(name=f"in{i}", shape=a.shape) for i, a in enumerate(args)]
    if kind == "nn":
        model = ct.convert(torch.jit.trace(module, args), inputs=inputs, outputs=outputs, convert_to="neuralnetwork",
                           minimum_deployment_target=ct.target.iOS14)
    else:
        precision = ct.precision.FLOAT32 if kind.startswith("fp32") else ct.precision.FLOAT16
        target = {"fp16-ios15": ct.target.iOS15, "fp32-ios18": ct.target.iOS18}.get(kind, ct.target.iOS16)
        model = ct.convert(torch.export.export(module, args).run_decompositions({}), inputs=inputs, outputs=outputs,
                           compute_precision=precision, minimum_deployment_target=target)
    model.save(str(path))
    return path


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], tuple[nn.Module, tuple, Path]]:
    """(module, example args, saved model) per (model name, kind), converted once per module."""
    root = tmp_path_factory.mktemp("coreml_check")
    cache: dict[tuple[str, str], tuple[nn.Module, tuple, Path]] = {}

    def get(name: str, kind: str) -> tuple[nn.Module, tuple, Path]:
        if (name, kind) not in cache:
            torch.manual_seed(0)
            module, args = MODELS[name]()
            module.eval()
            suffix = ".mlmodel" if kind == "nn" else ".mlpackage"
            cache[(name, kind)] = (module, args, _convert(module, args, root / f"{name}-{kind}{suffix}", kind))
        return cache[(name, kind)]

    return get


def _feed(args: tuple[torch.Tensor, ...]) -> dict[str, np.ndarray]:
    return {f"in{i}": a.numpy() for i, a in enumerate(args)}


def _only(outputs: dict[str, np.ndarray]) -> np.ndarray:
    (value,) = outputs.values()
    return value


def _torch(module: nn.Module, args: tuple[torch.Tensor, ...]) -> np.ndarray:
    with torch.no_grad():
        return module(*args).numpy()


def _first_conv(spec: Any) -> Any:
    return next(layer.convolution for layer in spec.neuralNetwork.layers if layer.WhichOneof("layer") == "convolution")


def _mil_op_types(path: Path) -> set[str]:
    spec = ct.utils.load_spec(str(path))
    return {op.type for block in spec.mlProgram.functions["main"].block_specializations.values()
            for op in block.operations}


# ---------------------------------------------------------------- parity


@pytest.mark.parametrize("kind", ["fp32", "fp16", "nn"])
@pytest.mark.parametrize("name", list(MODELS))
def test_matches_torch(artifact, name, kind):
    module, args, path = artifact(name, kind)
    got = _only(coreml_check.run_coreml(path, _feed(args)))
    np.testing.assert_allclose(got, _torch(module, args), atol=TOL[kind], rtol=0)


class Where(nn.Module):
    """torch.where with a broadcast condition: the MIL `select` op (enumerated-shape BicycleGAN programs hold it)."""

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.where(x.mean(dim=1, keepdim=True) > 0, x * 2.0, y - 1.0)


@pytest.mark.parametrize("kind", ["fp32", "fp16"])
def test_select_matches_torch(tmp_path, kind):
    module, args = Where().eval(), (torch.randn(1, 3, 8, 8), torch.randn(1, 3, 8, 8))
    path = _convert(module, args, tmp_path / f"where-{kind}.mlpackage", kind)
    assert "select" in _mil_op_types(path)
    got = _only(coreml_check.run_coreml(path, _feed(args)))
    want = _torch(module, args)
    np.testing.assert_allclose(got, want, atol=TOL[kind], rtol=0)
    assert (want > 0).any() and (want < -1).any()    # both branches taken


@pytest.mark.parametrize("kind", ["fp16", "fp16-ios15"])
def test_fp16_program_shows_fp16_error(artifact, kind):
    """fp16 tensors are rounded through float16: the result is near torch but not fp32-exact."""
    module, args, path = artifact("generator", kind)
    if kind == "fp16-ios15":
        assert "cast" in _mil_op_types(path)  # the iOS 15 form casts fp32 I/O explicitly
    err = np.abs(_only(coreml_check.run_coreml(path, _feed(args))) - _torch(module, args)).max()
    assert 1e-5 < err < TOL[kind]


@pytest.mark.parametrize("kind", ["fp32", "fp16", "nn"])
@pytest.mark.parametrize("layout", ["RGB", "BGR"])
def test_image_io_round_trip(tmp_path, layout, kind):
    """Raw RGB pixels in; the model sees (layout order) * scale + bias; raw 0..255 tensor out."""
    torch.manual_seed(0)
    base = ImageAndZ().eval()

    class PixelsOut(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.base = base

        def forward(self, image: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
            return torch.sigmoid(self.base(image, z)) * 255.0

    module = PixelsOut().eval()
    pixels, z = torch.randint(0, 256, (1, 3, 16, 16)).float(), torch.randn(1, 4)
    scale, bias = 2 / 255, [-1.0, -0.9, -1.1]
    inputs = [ct.ImageType(name="image", shape=pixels.shape, scale=scale, bias=bias,
                           color_layout=getattr(ct.colorlayout, layout)),
              ct.TensorType(name="z", shape=z.shape)]
    outputs = [ct.ImageType(name="out", color_layout=getattr(ct.colorlayout, layout))]
    path = _convert(module, (pixels, z), tmp_path / ("m.mlmodel" if kind == "nn" else "m.mlpackage"), kind,
                    inputs, outputs)
    seen = (pixels if layout == "RGB" else pixels.flip(1)) * scale + torch.tensor(bias).view(1, 3, 1, 1)
    image = pixels[0].permute(1, 2, 0).numpy().astype(np.uint8) if kind == "nn" else pixels.numpy()  # HWC or NCHW
    got = coreml_check.run_coreml(path, {"image": image, "z": z.numpy()})["out"]
    np.testing.assert_allclose(got, _torch(module, (seen, z)), atol=TOL[kind] * 255, rtol=0)
    info = coreml_check.describe(path)
    image_in, z_in = info["inputs"]
    assert image_in["kind"] == "image" and image_in["color_layout"] == layout
    assert image_in["shape"] == [1, 3, 16, 16]
    assert image_in["scale"] == pytest.approx(scale) and image_in["bias"] == pytest.approx(bias)
    z_dtype = "float16" if kind == "fp16" else "float32"
    assert z_in == {"name": "z", "kind": "multiarray", "shape": [1, 4], "dtype": z_dtype}
    assert info["outputs"][0]["kind"] == "image" and info["outputs"][0]["color_layout"] == layout


def test_describe_multiarray(artifact):
    _, _, path = artifact("alpha_mlp", "fp32")
    info = coreml_check.describe(path)
    assert info["type"] == "mlProgram"
    assert [(i["name"], i["shape"], i["dtype"]) for i in info["inputs"]] == [("in0", [2, 8], "float32"),
                                                                             ("in1", [1], "float32")]
    assert info["outputs"][0]["kind"] == "multiarray" and info["outputs"][0]["shape"] == [2, 4]


# ---------------------------------------------------------------- compressed weights


def _compressions() -> dict[str, tuple[Any, str, Any, float | None]]:
    """name: (target, constexpr op it must produce, config, max error vs torch or None)."""
    cto = ct.optimize.coreml
    lin, pal = cto.OpLinearQuantizerConfig, cto.OpPalettizerConfig
    i16, i18 = ct.target.iOS16, ct.target.iOS18
    return {
        "int8-ios16": (i16, "constexpr_affine_dequantize", lin(mode="linear_symmetric", weight_threshold=0), 2e-2),
        "pal6-ios16": (i16, "constexpr_lut_to_dense", pal(mode="kmeans", nbits=6, weight_threshold=0), 2e-2),
        "pal4-ios16": (i16, "constexpr_lut_to_dense", pal(mode="kmeans", nbits=4, weight_threshold=0), 1e-1),
        "sparse-ios16": (i16, "constexpr_sparse_to_dense", cto.OpMagnitudePrunerConfig(target_sparsity=0.5,
                                                                                         weight_threshold=0), None),
        "uint8-ios18": (i18, "constexpr_blockwise_shift_scale", lin(mode="linear", dtype="uint8", weight_threshold=0),
                        2e-2),
        "int4-block-ios18": (i18, "constexpr_blockwise_shift_scale",
                             lin(dtype="int4", granularity="per_block", block_size=4, weight_threshold=0), 5e-2),
        "pal6-ios18": (i18, "constexpr_lut_to_dense", pal(mode="kmeans", nbits=6, weight_threshold=0), 2e-2),
        "pal2-grouped-ios18": (i18, "constexpr_lut_to_dense",
                               pal(mode="uniform", nbits=2, granularity="per_grouped_channel", group_size=4,
                                   weight_threshold=0), 0.2),
        "pal3-vector-ios18": (i18, "constexpr_lut_to_dense", pal(mode="kmeans", nbits=3, cluster_dim=2,
                                                                 weight_threshold=0), 0.1),
        "sparse-ios18": (i18, "constexpr_sparse_to_dense", cto.OpMagnitudePrunerConfig(target_sparsity=0.5,
                                                                                         weight_threshold=0), None),
    }


@pytest.mark.parametrize("name", list(_compressions()))
def test_compressed_mlpackage(artifact, tmp_path, name):
    """Our decompression equals coremltools' (`decompress_weights`), and stays near torch."""
    cto = ct.optimize.coreml
    target, op, config, max_err = _compressions()[name]
    module, args, path = artifact("generator", "fp32-ios18" if target == ct.target.iOS18 else "fp32")
    compress = {"OpLinearQuantizerConfig": cto.linear_quantize_weights, "OpPalettizerConfig": cto.palettize_weights,
                "OpMagnitudePrunerConfig": cto.prune_weights}[type(config).__name__]
    compressed = compress(ct.models.MLModel(str(path)), cto.OptimizationConfig(global_config=config))
    compressed.save(str(tmp_path / "c.mlpackage"))
    cto.decompress_weights(compressed).save(str(tmp_path / "d.mlpackage"))
    assert op in _mil_op_types(tmp_path / "c.mlpackage")
    got = _only(coreml_check.run_mlpackage(tmp_path / "c.mlpackage", _feed(args)))
    np.testing.assert_allclose(got, _only(coreml_check.run_mlpackage(tmp_path / "d.mlpackage", _feed(args))),
                               atol=1e-6, rtol=0)
    if max_err is not None:
        np.testing.assert_allclose(got, _torch(module, args), atol=max_err, rtol=0)


def _quantile_lut(nbits: int, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A 1-D LUT (what coremltools' broken kmeans path should hand over) and each weight's index."""
    lut = np.quantile(w.reshape(-1), np.linspace(0, 1, 1 << nbits)).astype(np.float32)
    return lut, np.abs(w.reshape(-1, 1) - lut[None]).argmin(1)


NN_QUANT = {  # name: (nbits, mode, kwargs, WeightParams kind, max error vs torch)
    "fp16": (16, "linear", {}, "float16Value", 1e-3),
    "int8": (8, "linear", {}, "linearQuantization", 2e-2),
    "int8-symmetric": (8, "linear_symmetric", {}, "linearQuantization", 2e-2),
    "int7": (7, "linear", {}, "linearQuantization", 3e-2),
    "lut6": (6, "custom_lut", {"lut_function": _quantile_lut}, "lookupTableQuantization", 5e-2),
    "lut4": (4, "custom_lut", {"lut_function": _quantile_lut}, "lookupTableQuantization", 0.2),
    "lut3-linear": (3, "linear_lut", {}, "lookupTableQuantization", 0.5),
    "lut1-linear": (1, "linear_lut", {}, "lookupTableQuantization", None),
}


class _SkipBatchnorm(qu.QuantizedLayerSelector):
    """coremltools' `dequantization` mode crashes on a batchnorm without mean/variance (instance
    norm: IndexError in `_dequantize_lut`), so the reference dequantization leaves them alone."""

    def do_quantize(self, layer: Any, **kwargs: Any) -> bool:
        return layer.WhichOneof("layer") != "batchnorm" and super().do_quantize(layer, **kwargs)


@pytest.mark.parametrize("name", list(NN_QUANT))
def test_quantized_mlmodel(artifact, tmp_path, name):
    """Our n-bit unpacking and dequantization equal coremltools' `dequantization` mode."""
    nbits, mode, kwargs, kind, max_err = NN_QUANT[name]
    module, args, path = artifact("generator", "nn")
    with _quiet():
        quantized = qu.quantize_weights(ct.models.MLModel(str(path)), nbits=nbits, quantization_mode=mode, **kwargs)
        quantized.save(str(tmp_path / "q.mlmodel"))
        reference = quantized if nbits == 16 else qu.quantize_weights(
            quantized, nbits=8, quantization_mode="dequantization", selector=_SkipBatchnorm())
        reference.save(str(tmp_path / "d.mlmodel"))
    weights = _first_conv(quantized.get_spec()).weights
    stored = "float16Value" if len(weights.float16Value) else weights.quantization.WhichOneof("QuantizationType")
    assert stored == kind
    got = _only(coreml_check.run_mlmodel(tmp_path / "q.mlmodel", _feed(args)))
    np.testing.assert_allclose(got, _only(coreml_check.run_mlmodel(tmp_path / "d.mlmodel", _feed(args))),
                               atol=1e-5, rtol=0)
    if max_err is not None:
        np.testing.assert_allclose(got, _torch(module, args), atol=max_err, rtol=0)


def test_coremltools_kmeans_lut_for_neuralnetwork_still_crashes(artifact):
    """coremltools 9.0: `_get_kmeans_lookup_table_and_weight` returns a (2^n, 1) LUT that
    `_quantize_wp_field` cannot `extend` into the proto. When this starts failing, coremltools
    is fixed: give NN_QUANT real kmeans rows."""
    _, _, path = artifact("generator", "nn")
    with _quiet(), pytest.raises(TypeError, match="has type ndarray"):
        qu.quantize_weights(ct.models.MLModel(str(path)), nbits=4, quantization_mode="kmeans")


@pytest.mark.parametrize("nbits", range(1, 9))
def test_bit_unpacking_matches_coremltools_packing(nbits):
    """NeuralNetwork rawValue packs MSB first; MIL iOS 16 constexpr ops pack LSB first."""
    from coremltools.models.neural_network.quantization_utils import _convert_array_to_nbit_quantized_bytes
    from coremltools.optimize._utils import pack_elements_into_bits

    values = np.random.default_rng(nbits).integers(0, 1 << nbits, 37)
    nn_packed = _convert_array_to_nbit_quantized_bytes(values.astype(np.uint8), nbits).tobytes()
    np.testing.assert_array_equal(unpack_msb_first(nn_packed, nbits, values.size), values)
    mil_packed = pack_elements_into_bits(values.astype(np.uint8), nbits)
    np.testing.assert_array_equal(unpack_lsb_first(mil_packed, nbits, values.size), values)


# ---------------------------------------------------------------- failures are caught


def test_corrupted_mlpackage_weight_is_caught(artifact, tmp_path):
    module, args, path = artifact("generator", "fp32")
    corrupt = tmp_path / "corrupt.mlpackage"
    shutil.copytree(path, corrupt)
    blob = corrupt / "Data" / "com.apple.CoreML" / "weights" / "weight.bin"
    data = bytearray(blob.read_bytes())
    weight = module.out.weight.detach().numpy().astype(np.float32)
    at = data.find(weight.tobytes())
    assert at >= 0, "the last conv's weights are stored verbatim in weight.bin"
    data[at:at + 4] = np.float32(weight.flat[0] + 2.0).tobytes()  # one weight of one conv
    blob.write_bytes(bytes(data))
    ref = _torch(module, args)
    intact = np.abs(_only(coreml_check.run_coreml(path, _feed(args))) - ref).max()
    corrupted = np.abs(_only(coreml_check.run_coreml(corrupt, _feed(args))) - ref).max()
    assert intact < TOL["fp32"] and corrupted > 0.1, (intact, corrupted)


def test_corrupted_mlmodel_weight_is_caught(artifact, tmp_path):
    module, args, path = artifact("generator", "nn")
    spec = ct.utils.load_spec(str(path))
    conv = [l.convolution for l in spec.neuralNetwork.layers if l.WhichOneof("layer") == "convolution"][-1]
    conv.weights.floatValue[0] += 2.0  # one weight of the last conv
    ct.utils.save_spec(spec, str(tmp_path / "corrupt.mlmodel"))
    err = np.abs(_only(coreml_check.run_coreml(tmp_path / "corrupt.mlmodel", _feed(args))) - _torch(module, args)).max()
    assert err > 0.1, err


def test_truncated_quantized_weights_are_caught(artifact, tmp_path):
    _, args, path = artifact("generator", "nn")
    with _quiet():
        spec = qu.quantize_weights(ct.models.MLModel(str(path)), nbits=4, quantization_mode="linear_lut").get_spec()
    conv = _first_conv(spec)
    conv.weights.rawValue = conv.weights.rawValue[:-4]
    ct.utils.save_spec(spec, str(tmp_path / "truncated.mlmodel"))
    with pytest.raises(VerificationError, match="corrupt"):
        coreml_check.run_coreml(tmp_path / "truncated.mlmodel", _feed(args))


def test_unknown_mil_op_raises(artifact, monkeypatch):
    _, args, path = artifact("generator", "fp32")
    monkeypatch.delitem(_mil_ops.OPS, "instance_norm")
    with pytest.raises(VerificationError, match="op 'instance_norm' is not supported by pix2mobile's Core ML"):
        coreml_check.run_coreml(path, _feed(args))


def test_unknown_nn_layer_raises(artifact, monkeypatch):
    _, args, path = artifact("generator", "nn")
    monkeypatch.delitem(_nn_layers.LAYERS, "padding")
    with pytest.raises(VerificationError, match="layer 'padding' is not supported by pix2mobile's Core ML"):
        coreml_check.run_coreml(path, _feed(args))


def test_bad_inputs_and_files(artifact, tmp_path):
    _, args, path = artifact("image_z", "fp32")
    feed = _feed(args)
    with pytest.raises(ConfigError, match="'in1' is missing"):
        coreml_check.run_coreml(path, {"in0": feed["in0"]})
    with pytest.raises(ConfigError, match="no input named"):
        coreml_check.run_coreml(path, {**feed, "extra": feed["in1"]})
    with pytest.raises(ConfigError, match="must have shape"):
        coreml_check.run_coreml(path, {**feed, "in1": np.zeros((1, 5), np.float32)})
    with pytest.raises(ConfigError, match="not a Core ML model"):
        coreml_check.run_coreml(tmp_path / "model.onnx", feed)
    (tmp_path / "junk.mlmodel").write_bytes(b"\xff" * 64)
    with pytest.raises(ExportError):
        coreml_check.run_coreml(tmp_path / "junk.mlmodel", feed)
    with pytest.raises(ExportError, match="no .mlpackage"):
        coreml_check.run_coreml(tmp_path / "missing.mlpackage", feed)


def test_image_values_outside_pixel_range_are_refused(tmp_path):
    module = nn.Conv2d(3, 3, 1).eval()
    x = torch.rand(1, 3, 8, 8) * 255
    path = _convert(module, (x,), tmp_path / "m.mlpackage", "fp32",
                    [ct.ImageType(name="image", shape=x.shape, scale=1 / 255)])
    with pytest.raises(ConfigError, match="outside 0..255"):
        coreml_check.run_coreml(path, {"image": x.numpy() / 255 - 0.5})
