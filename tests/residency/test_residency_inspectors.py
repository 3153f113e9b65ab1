"""Each format's inspector on files whose content is known: hand-built ones, and what the exports wrote,
cross-checked with another reader of the same file (the TFLite interpreter, the Core ML evaluator's
MIL loader, ExecuTorch's own lowering)."""

from __future__ import annotations

import re
from collections import Counter

import pytest
import torch

from pix2mobile.convert.formats import FORMATS
from pix2mobile.manifest import artifact_path
from pix2mobile.runtimes import pte as pte_runtime
from pix2mobile.runtimes import tflite as tflite_runtime
from residency_nets import CUSTOM_OP, Portable, hand_tflite, lower_pte


def partitions_and_portable(notes) -> tuple[int, Counter]:
    """(XNNPACK partitions, portable op -> count) from `convert.pte._delegation_notes`."""
    text = " | ".join(notes)
    partitions = int(re.search(r"XNNPACK delegate: (\d+) partition", text).group(1))
    portable = Counter()
    found = re.search(r"ops left on portable kernels: ([^|]*)", text)
    for item in (found.group(1).split(", ") if found else []):
        name, count = item.strip().rsplit(" x", 1)
        portable[name] += int(count)
    return partitions, portable


def test_plain_pte_record_agrees_with_the_lowering(tmp_path):
    """The graph as ExecuTorch lowers it without `convert.mobile_graph`: split, with portable kernels;
    the record read from the file counts what the lowering reported."""
    from pix2mobile.convert.mobile_graph import plain_graphs
    from pix2mobile.models import MODELS
    from pix2mobile.pipelines.export import export_model

    spec = MODELS["fast_style/lite"]
    torch.manual_seed(0)
    with plain_graphs():
        manifest = export_model(spec.create(width=8, n_res=1).eval(), spec, 32, ["pte"], tmp_path,
                                options={"width": 8, "n_res": 1}, samples=1)
    row = manifest.artifact("pte", "fp32")
    partitions, notes_portable = partitions_and_portable(row.notes)
    assert row.residency.delegate_segments == partitions > 1
    assert Counter({short(k): v for k, v in row.residency.portable_calls.items()}) == notes_portable
    assert {"abs", "index", "_native_batch_norm_legit", "upsample_nearest2d"} <= set(notes_portable)
    assert not row.residency.clean()


def short(op: str) -> str:
    """"aten::_native_batch_norm_legit.no_stats_out" -> "_native_batch_norm_legit", as the notes name it."""
    return op.split("::", 1)[-1].split(".", 1)[0]


def test_hand_built_tflite_op_mix(tmp_path):
    record = tflite_runtime.residency(hand_tflite(tmp_path / "mix.tflite", custom=True))
    assert record.ops == {"TRANSPOSE": 2, "ADD": 1, f"CUSTOM:{CUSTOM_OP}": 1} and record.unit == "ops"
    assert record.layout_transposes == 2 and record.delegate_segments is None and record.portable_calls is None
    assert "2 layout TRANSPOSEs" in record.problems()
    assert record.gpu_compatible is False and CUSTOM_OP in record.note
    if not tflite_runtime.analyzer_checks_gpu():  # ai-edge-litert 2.x: the transcribed rules decide
        assert record.note == (f"GPU rules (gpu_compatibility.cc transcription): Op#3 CUSTOM:{CUSTOM_OP}: "
                               f"Not supported custom op {CUSTOM_OP}")
    plain = tflite_runtime.residency(hand_tflite(tmp_path / "plain.tflite"))
    assert plain.ops == {"TRANSPOSE": 2, "ADD": 1}
    assert plain.gpu_compatible is True          # TRANSPOSE is a GPU op; the 2 are a layout problem only
    assert plain.problems() == ["2 layout TRANSPOSEs"]


def test_gpu_report_parsing():
    """The analyzer's report as LiteRT's model_analyzer.cc writes it, with and without its GPU check's warnings."""
    bad = ("Subgraph#0(T#0) -> [T#2]\n  Op#0 CONV_2D(T#0, T#1) -> [T#2]\n  Op#1 MyOp(T#2) -> [T#3]\n"
           "GPU COMPATIBILITY WARNING: Not supported custom op MyOp\n\n"
           "GPU COMPATIBILITY WARNING: Subgraph#0 has GPU delegate compatibility issues at nodes 1 on TFLite "
           "runtime version 2.19.0\n")
    assert tflite_runtime.parse_gpu_report(bad) == (False, "Op#1 MyOp: Not supported custom op MyOp")
    ok = "\nYour model looks compatible with GPU delegate on TFLite runtime version 2.22.0.\n"
    assert tflite_runtime.parse_gpu_report(ok) == (True, None)
    assert tflite_runtime.parse_gpu_report("Failed to mmap model x")[0] is None


def test_hand_lowered_pte_op_mix(tmp_path):
    """Lowered with ExecuTorch directly: XNNPACK has no cumsum, so two segments around one portable call."""
    path = tmp_path / "portable.pte"
    partitions, notes_portable = partitions_and_portable(lower_pte(Portable(), path))
    record = pte_runtime.residency(path)
    assert (record.delegate_segments, record.portable_calls) == (2, {"aten::cumsum.out": 1}) == (
        partitions, {f"aten::{k}.out": v for k, v in notes_portable.items()})
    assert record.ops == {"delegate:XnnpackBackend": 2, "aten::cumsum.out": 1} and record.unit == "instructions"
    assert record.problems() == ["2 delegate segments", "1 portable call"]


def test_exported_ptes_agree_with_the_converters_notes(clean_export, portable_export):
    for export, segments in ((clean_export, 1), (portable_export, 2)):
        row = export.manifest.artifact("pte")
        partitions, notes_portable = partitions_and_portable(row.notes)
        assert row.residency.delegate_segments == partitions == segments
        assert Counter({short(k): v for k, v in row.residency.portable_calls.items()}) == notes_portable
        assert row.residency.clean() == (segments == 1)


def test_style_pte_agrees_with_the_lowering_notes(style_export):
    row = style_export.manifest.artifact("pte", "fp32")
    record = row.residency
    partitions, notes_portable = partitions_and_portable(row.notes)
    assert record.delegate_segments == partitions
    assert Counter({short(k): v for k, v in record.portable_calls.items()}) == notes_portable
    assert record.ops["delegate:XnnpackBackend"] == record.delegate_segments
    # convert.mobile_graph rewrites reflection pads, instance norms and nearest upsampling into ops
    # XNNPACK takes: one delegate segment, no portable kernel (as lowered plainly: 31 and 239 at 256x256).
    assert record.clean() and record.problems() == [], record.summary()
    assert record.delegate_segments == 1 and record.portable_calls == {}, record.summary()


def test_style_tflite_ops_are_what_the_interpreter_builds(style_export):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    for precision in ("fp32", "fp16"):
        row = style_export.manifest.artifact("tflite", precision)
        path = artifact_path(style_export.out, row.file)
        interpreter = Interpreter(model_path=str(path),
                                  experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        assert row.residency.ops == Counter(d["op_name"] for d in interpreter._get_ops_details())
        assert row.residency.layout_transposes == row.residency.ops.get("TRANSPOSE", 0)
        assert (row.residency.layout_transposes > 0) == ("layout TRANSPOSE" in " ".join(row.residency.problems()))


def test_style_mlpackage_ops_are_what_the_evaluator_loads(style_export):
    from pix2mobile.runtimes.coreml_eval import CoreMLModel

    row = style_export.manifest.artifact("mlpackage", "fp16")
    model = CoreMLModel(artifact_path(style_export.out, row.file))
    seen = Counter(op.op_type for op in model._func.operations if op.op_type != "const")
    assert row.residency.ops == seen and row.residency.unit == "MIL ops" and row.residency.clean()


def test_style_onnx_nodes(style_export):
    import onnx

    row = style_export.manifest.artifact("onnx")
    graph = onnx.load(str(artifact_path(style_export.out, row.file)), load_external_data=False).graph
    assert row.residency.ops == Counter(n.op_type for n in graph.node) and row.residency.unit == "ONNX nodes"
    assert row.residency.ops["Conv"] > 0 and row.residency.clean()


@pytest.mark.parametrize("key", sorted(FORMATS))
def test_every_format_says_what_it_records(key):
    fmt = FORMATS[key]
    assert fmt.residency and (fmt.residency_fn is not None or fmt.residency.startswith("none:"))
