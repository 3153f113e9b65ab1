"""Size-flexible artifacts: `export --size` grammar, what each format declares, and the gate at every size.

Nets are lightly trained (blurred identity on real photos) so parity is judged on image-like
outputs: the registry's fast_style/lite (width 8, one residual block) for ONNX, PTL and Core ML,
the tiny stand-ins of `export_nets` for TFLite and ExecuTorch (their converters are the slow
ones). Every declared size is reopened from disk and run against eager PyTorch here too.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from export_nets import ALPHA_IO, CYCLE_IO, STYLE_IO, AlphaRenderer, CycleLike, StyleLike
from pix2mobile import cli
from pix2mobile.commands.export import parse_sizes
from pix2mobile.convert.common import Exported, SizeRange, SizeRequest
from pix2mobile.convert.formats import FORMATS, ExportFormat
from pix2mobile.errors import ConfigError
from pix2mobile.manifest import ArtifactEntry, Manifest, Parity, Shapes
from pix2mobile.models import get_variant
from pix2mobile.pipelines.export import ModelRef, export_model, parity_inputs
from pix2mobile.runtimes import parity
from pix2mobile.train.warmup import lightly_train

LITE_OPTIONS = {"width": 8, "n_res": 1}
PRIMARY, OTHER = (64, 64), (96, 128)


# ---------------------------------------------------------------- grammar

@pytest.mark.parametrize("words, primary, rest", [
    (["256", "192"], (256, 192), []),                                     # the old H W form: one size
    (["256"], (256, 256), []),
    (["256x192"], (256, 192), []),
    (["256x256", "512x384"], (256, 256), [(512, 384)]),
    (["128x128-512x512"], (128, 128), [SizeRange((128, 128), (512, 512))]),
    (["256x256", "128x128-512x512"], (256, 256), [SizeRange((128, 128), (512, 512))]),
    (["128-512", "256"], (128, 128), [(256, 256), SizeRange((128, 128), (512, 512))]),
    (["64", "96x128", "64x64"], (64, 64), [(96, 128)]),                 # duplicates of the primary dropped
])
def test_size_grammar(words, primary, rest) -> None:
    assert parse_sizes(words) == (primary, rest)


@pytest.mark.parametrize("words, message", [
    (["abc"], "cannot read 'abc'"),
    (["256x"], "cannot read"),
    (["99999"], "MAX_IMAGE_SIDE"),
    (["0x64"], "between 1 and"),
    (["512x512-128x128"], "lower corner must not exceed"),
    (["64-128", "256-512"], "one range"),
    (["600x600", "128x128-512x512"], "600x600 lies outside the range 128x128-512x512"),
])
def test_bad_sizes_are_one_line_exit_2(words, message, tmp_path, capsys) -> None:
    code = cli.main(["export", str(tmp_path / "missing.pth"), "--out", str(tmp_path / "e"), "--size", *words])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_size_request_checks_and_bounds() -> None:
    request = SizeRequest(((96, 96), (64, 128)), SizeRange((64, 64), (128, 128)), multiple=4)
    assert request.primary == (96, 96) and request.flexible
    assert request.checked == ((96, 96), (64, 128), (64, 64), (128, 128))
    assert request.bounds == ((64, 64), (128, 128))
    shapes = request.shapes()
    assert (shapes.kind, shapes.min, shapes.max, shapes.multiple) == ("range", (64, 64), (128, 128), 4)
    assert shapes.accepts((80, 112)) and not shapes.accepts((80, 114)) and not shapes.accepts((132, 64))
    assert request.shapes(enumerate_range=True).kind == "enumerated"
    assert not SizeRequest.single((64, 64)).flexible
    with pytest.raises(ConfigError, match="outside the range"):
        SizeRequest(((256, 256),), SizeRange((64, 64), (128, 128)))


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def lite() -> torch.nn.Module:
    spec = get_variant("fast_style", "lite")
    torch.manual_seed(0)
    return lightly_train(spec.create(**LITE_OPTIONS), spec.io, 32, steps=60, seed=0).eval()


@pytest.fixture(scope="module")
def lite_pth(lite, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("pth") / "lite.pth"
    torch.save(lite.state_dict(), path)
    return path


def _cli(pth: Path, out: Path, *extra: str) -> list[str]:
    return ["-q", "export", str(pth), "--family", "fast_style", "--arch", "lite", "--option", "width=8",
            "--option", "n_res=1", "--out", str(out), *extra]


@pytest.fixture(scope="module")
def lite_export(lite_pth, tmp_path_factory):
    """The CLI's `--size 64 96x128` on four formats (Core ML in fp32: this lite net's InstanceNorm
    overflows fp16 at any size, which has nothing to do with sizes)."""
    out = tmp_path_factory.mktemp("lite_sizes")
    code = cli.main(_cli(lite_pth, out, "--formats", "onnx,ptl,mlmodel,mlpackage", "--precision", "fp32",
                         "--size", "64", "96x128", "--samples", "2"))
    return code, out, Manifest.read(out)


def _psnr_at(fmt: str, path: Path, io, module: torch.nn.Module, size: tuple[int, int], seed: int = 7) -> float:
    """Reopen `path` with its format's runtime and run it at `size` on a held-out photo: PSNR vs eager."""
    inputs = parity_inputs(io, size, n=1, seed=seed)[0]
    got = FORMATS[fmt].runner_fn(path, io)(inputs)
    with torch.no_grad():
        ref = module.eval()(*inputs)
    assert got[0].shape == tuple(ref.shape), (fmt, size, got[0].shape)
    return parity.compare([ref.numpy()], got, io.outputs, 45.0).psnr_db


# ---------------------------------------------------------------- every format, two sizes

def test_cli_sizes_reach_the_manifest_and_the_table(lite_export, lite_pth, tmp_path, capsys) -> None:
    code, out, manifest = lite_export
    assert code == 0, [(a.format, a.reason) for a in manifest.artifacts]
    assert manifest.model.size == PRIMARY and manifest.model.size_multiple == 4
    raw = json.loads((out / "manifest.json").read_text())
    for row in raw["artifacts"]:
        assert row["shapes"]["kind"] == "enumerated" and row["shapes"]["sizes"] == [[64, 64], [96, 128]], row
        assert set(row["parity"]["psnr_db_by_size"]) == {"64x64", "96x128"}
    # the same table a person reads, with each row's sizes
    assert cli.main(_cli(lite_pth, tmp_path / "again", "--formats", "ptl", "--size", "64", "96x128",
                         "--samples", "1")) == 0
    table = capsys.readouterr().out
    assert "sizes" in table and "only 64x64, 96x128" in table and "96x128 " in table


@pytest.mark.parametrize("fmt", ["onnx", "ptl", "mlmodel", "mlpackage"])
def test_each_format_runs_at_both_sizes_like_eager(lite_export, lite, fmt) -> None:
    _, out, manifest = lite_export
    row = manifest.artifact(fmt)
    assert row.ok and row.shapes.kind == "enumerated" and row.shapes.sizes == (PRIMARY, OTHER), row
    assert row.shapes.accepts(OTHER) and not row.shapes.accepts((128, 128))
    by_size = row.parity.psnr_db_by_size
    assert min(by_size.values()) >= row.parity.threshold_db == 45.0, by_size
    assert by_size["64x64"] == row.parity.psnr_db          # the primary's figure is the row's
    io = get_variant("fast_style", "lite").io
    for size in (PRIMARY, OTHER):
        assert _psnr_at(fmt, out / row.file, io, lite, size) >= 45.0, (fmt, size)


def test_core_ml_refuses_a_size_it_does_not_declare(lite_export) -> None:
    from pix2mobile.runtimes.coreml_eval.evaluator import CoreMLModel

    _, out, manifest = lite_export
    for fmt in ("mlpackage", "mlmodel"):
        model = CoreMLModel(out / manifest.artifact(fmt).file)
        assert sorted(model.describe()["inputs"][0]["sizes"]) == [[64, 64], [96, 128]]
        pixels = np.zeros((1, 3, 128, 128), np.float32)
        with pytest.raises(ConfigError, match=r"must be one of (64 x 64, 96 x 128|96 x 128, 64 x 64), got 128 x 128"):
            model.predict({"image": pixels})


def test_a_variant_refuses_sizes_it_cannot_take(lite_pth, tmp_path, capsys) -> None:
    for words in (["64", "66x64"], ["64x64-130x130"], ["64", "16"]):
        code = cli.main(_cli(lite_pth, tmp_path / "e", "--formats", "onnx", "--size", *words))
        err = capsys.readouterr().err
        assert code == 2 and "needs H and W >= 32 and multiples of 4" in err, (words, err)
        assert not (tmp_path / "e" / "manifest.json").exists()


def test_a_range_is_dynamic_in_onnx_and_enumerated_in_core_ml(lite, tmp_path) -> None:
    spec = get_variant("fast_style", "lite")
    manifest = export_model(copy.deepcopy(lite), spec, 64, ["onnx", "mlmodel"], tmp_path, options=LITE_OPTIONS,
                            sizes=[SizeRange((64, 64), (128, 128))], samples=2)
    assert manifest.ok, [(a.format, a.reason) for a in manifest.artifacts]
    onnx_row = manifest.artifact("onnx")
    assert (onnx_row.shapes.kind, onnx_row.shapes.min, onnx_row.shapes.max, onnx_row.shapes.multiple) == \
        ("range", (64, 64), (128, 128), 4)
    assert set(onnx_row.parity.psnr_db_by_size) == {"64x64", "128x128"}          # min (= primary) and max
    assert min(onnx_row.parity.psnr_db_by_size.values()) >= 45.0
    assert onnx_row.shapes.accepts((80, 112))
    assert _psnr_at("onnx", tmp_path / onnx_row.file, spec.io, lite, (80, 112)) >= 45.0    # inside, unverified
    ml = manifest.artifact("mlmodel")
    assert ml.shapes.kind == "enumerated" and ml.shapes.sizes == ((64, 64), (128, 128))
    assert "RangeDim" in (ml.shapes.note or "") and min(ml.parity.psnr_db_by_size.values()) >= 45.0


# ---------------------------------------------------------------- TFLite and ExecuTorch, tiny nets

@pytest.fixture(scope="module")
def tiny_nets() -> dict[str, tuple[torch.nn.Module, ModelRef]]:
    out = {}
    for name, cls, io in (("style", StyleLike, STYLE_IO), ("cycle", CycleLike, CYCLE_IO)):
        torch.manual_seed(0)
        module = lightly_train(cls(), io, 32, steps=60, seed=0).eval()
        out[name] = (module, ModelRef(family="test", arch=name, io=io, size_multiple=4, min_size=16))
    return out


def test_tflite_resizes_a_graph_that_allows_it_and_stays_fixed_where_it_bakes_shapes(tiny_nets, tmp_path) -> None:
    module, ref = tiny_nets["style"]
    manifest = export_model(copy.deepcopy(module), ref, 32, ["tflite", "pte"], tmp_path / "style",
                            sizes=[(48, 64)], samples=2)
    assert manifest.ok, [(a.format, a.reason) for a in manifest.artifacts]
    tfl = manifest.artifact("tflite")
    assert tfl.shapes.kind == "enumerated" and tfl.shapes.sizes == ((32, 32), (48, 64))
    assert "resize_tensor_input" in (tfl.shapes.note or "")
    pte = manifest.artifact("pte")
    assert pte.shapes.kind == "enumerated" and pte.shapes.sizes == ((32, 32), (48, 64))
    for row in (tfl, pte):
        assert min(row.parity.psnr_db_by_size.values()) >= 45.0, row.parity
        for size in ((32, 32), (48, 64)):
            assert _psnr_at(row.format, tmp_path / "style" / row.file, ref.io, module, size) >= 45.0

    # CycleLike's nearest upsample and the output_padding rewrite's slices keep the export size
    module, ref = tiny_nets["cycle"]
    manifest = export_model(copy.deepcopy(module), ref, 32, ["tflite"], tmp_path / "cycle", sizes=[(48, 64)],
                            samples=2)
    row = manifest.artifact("tflite")
    assert row.ok and row.shapes.kind == "fixed" and row.shapes.sizes == ((32, 32),), row
    note = row.shapes.note or ""
    assert note.startswith("tflite: resizing the converted graph at load time (resize_tensor_input) fails at "
                           "48x64: output 'translated' came out (1, 3, 32, 32)"), note
    assert "dynamic_shapes conversion" in note
    assert row.parity.psnr_db >= 45.0 and not row.parity.psnr_db_by_size
    assert _psnr_at("tflite", tmp_path / "cycle" / row.file, ref.io, module, (32, 32)) >= 45.0


# ---------------------------------------------------------------- the gate and the manifest

def test_a_model_without_an_image_input_stays_fixed_with_a_note(tmp_path) -> None:
    torch.manual_seed(0)
    ref = ModelRef(family="test", arch="alpha", io=ALPHA_IO)
    manifest = export_model(AlphaRenderer(), ref, 32, ["ptl"], tmp_path, sizes=[(48, 48)], samples=1)
    row = manifest.artifact("ptl")
    assert row.ok and row.shapes.kind == "fixed" and row.shapes.sizes == ((32, 32),)
    assert "has no image input" in (row.shapes.note or "")


@pytest.fixture
def claiming(monkeypatch, lite_export):
    """A format whose exporter copies the lite export's ONNX file and claims every size asked, and
    whose runner spoils outputs at any size but the primary: the gate must catch the claim."""
    _, out, manifest = lite_export
    source = out / manifest.artifact("onnx").file

    def export_fn(module, example_inputs, io, out_path, opts):
        shutil.copyfile(source, out_path)
        shapes = opts.sizes.shapes() if opts.sizes is not None else None
        onnx_row = manifest.artifact("onnx")
        return Exported(Path(out_path), onnx_row.inputs, onnx_row.outputs, (), shapes)

    def runner_fn(path, io):
        run = FORMATS["onnx"].runner_fn(path, io)

        def spoiled(inputs):
            outs = run(inputs)
            return [y + 8.0 if tuple(inputs[0].shape[-2:]) != PRIMARY else y for y in outs]
        return spoiled

    row = ExportFormat(key="claims", suffix=".claims", is_dir=False, native=("fp32",), converter=("torch",),
                       runtime="onnxruntime", export_fn=export_fn, runner_fn=runner_fn)
    monkeypatch.setitem(FORMATS, "claims", row)


def test_a_claimed_size_that_fails_fails_the_row_naming_size_and_psnr(claiming, lite, tmp_path) -> None:
    spec = get_variant("fast_style", "lite")
    manifest = export_model(copy.deepcopy(lite), spec, 64, ["claims"], tmp_path / "flex", options=LITE_OPTIONS,
                            sizes=[OTHER], samples=2)
    row = manifest.artifact("claims")
    assert row.status == "failed" and row.file == "lite_fp32.failed.claims"
    assert row.reason.startswith("at 96x128: parity gate: worst image PSNR "), row.reason
    psnr = row.parity.psnr_db_by_size["96x128"]
    assert f"{psnr:.2f} dB" in row.reason and psnr < 45.0 <= row.parity.psnr_db_by_size["64x64"]

    single = export_model(copy.deepcopy(lite), spec, 64, ["claims"], tmp_path / "one", options=LITE_OPTIONS,
                          samples=1)
    one = single.artifact("claims")
    assert one.ok and one.shapes == Shapes(kind="fixed", sizes=((64, 64),)) and not one.parity.psnr_db_by_size


def test_manifests_without_sizes_still_read_and_new_ones_round_trip() -> None:
    old = {"format": "onnx", "precision": "fp32", "status": "ok", "file": "a.onnx",
           "parity": {"psnr_db": 50.0, "threshold_db": 45.0}}
    row = ArtifactEntry.from_json(old)
    assert row.shapes == Shapes() and row.parity.psnr_db_by_size == {}
    assert row.shapes.accepts((64, 64), export_size=(64, 64)) and not row.shapes.accepts((96, 128), (64, 64))
    new = ArtifactEntry(format="onnx", precision="fp32", status="ok", file="a.onnx",
                        parity=Parity(psnr_db=50.0, psnr_db_by_size={"64x64": 50.0, "96x128": 48.5}),
                        shapes=Shapes(kind="enumerated", sizes=((64, 64), (96, 128))))
    again = ArtifactEntry.from_json(json.loads(json.dumps(new.to_json())))
    assert again == new
    with pytest.raises(ConfigError, match="psnr_db_by_size"):
        Parity.from_json({"psnr_db_by_size": [1, 2]})


@pytest.mark.slow
def test_bicyclegan_fp16_ml_program_runs_at_both_enumerated_sizes(tmp_path) -> None:
    """BicycleGAN's z map under enumerated shapes is shape arithmetic (gathered dims concatenated, a
    `select`): the evaluator runs it at both sizes, and both match eager (lightly trained, fp16)."""
    from pix2mobile.convert.common import ExportOptions
    from pix2mobile.convert.coreml import export_mlpackage
    from pix2mobile.runtimes.coreml_eval.evaluator import CoreMLModel

    spec = get_variant("bicyclegan", "unet_128")
    torch.manual_seed(0)
    module = lightly_train(spec.exportable(spec.create(ngf=8).eval(), (128, 128)), spec.io, 128, steps=4).eval()
    path = tmp_path / "bicycle.mlpackage"
    exported = export_mlpackage(module, parity_inputs(spec.io, (128, 128), n=1)[0], spec.io, path,
                                ExportOptions(precision="fp16", sizes=SizeRequest(sizes=((128, 128), (256, 256)))))
    assert any("enumerated" in n and "256x256" in n for n in exported.notes), exported.notes
    ops = {op.type for block in CoreMLModel(path).spec.mlProgram.functions["main"].block_specializations.values()
           for op in block.operations}
    assert {"concat", "gather"} <= ops, ops
    for size in ((128, 128), (256, 256)):
        assert _psnr_at("mlpackage", path, spec.io, module, size) >= 35.0, size
