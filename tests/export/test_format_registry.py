"""A format is one row: a throwaway "toy" format registered in FORMATS (and nowhere else) is
exported, gated, benchmarked, listed by `pix2mobile info` and in the docs table.

The toy's artifact is an ONNX file under a `.toy` name, written by the onnx exporter, run by
the onnx runner and timed with onnxruntime's opener; it has a plot colour and no device tool.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from pix2mobile import cli
from pix2mobile.convert import onnx as onnx_convert
from pix2mobile.convert.formats import FORMATS, ExportFormat, format_table, formats_markdown
from pix2mobile.runtimes import onnx as onnx_runtime
from pix2mobile.runtimes import timing

DOCS = Path(__file__).resolve().parents[2] / "docs" / "formats.md"
SIZE = 32


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> ExportFormat:
    row = ExportFormat(
        key="toy", suffix=".toy", is_dir=False, native=("fp32",), converter=("torch", "onnx"),
        runtime="onnxruntime", export_fn=onnx_convert.export, runner_fn=onnx_runtime.load_runner,
        description="a throwaway format: ONNX under another name",
        timing=timing.Runtime("onnxruntime (toy)", "onnxruntime", "onnxruntime", "as onnx",
                              open=timing.open_onnx),
        device=None, colour="tab:pink")
    monkeypatch.setitem(FORMATS, "toy", row)
    return row


@pytest.fixture(scope="module")
def morph() -> tuple[torch.nn.Module, object]:
    from pix2mobile.models import get_variant

    torch.manual_seed(0)
    spec = get_variant("morph", "mlp")
    return spec.create(num_images=2, fourier=0).eval(), spec


def test_the_docs_table_is_up_to_date() -> None:
    assert DOCS.read_text() == formats_markdown(), \
        "docs/formats.md is stale: python -m pix2mobile.convert.formats > docs/formats.md"


def test_the_docs_table_and_info_list_every_format(capsys: pytest.CaptureFixture[str]) -> None:
    markdown = formats_markdown()
    assert all(f"| {key} | {fmt.suffix}" in markdown for key, fmt in FORMATS.items())
    assert [r["key"] for r in format_table()] == list(FORMATS)


def test_a_registered_format_is_exported_benchmarked_and_listed(toy: ExportFormat, morph, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    from pix2mobile.benchmark import run_bench
    from pix2mobile.benchmark.config import BenchConfig
    from pix2mobile.pipelines.export import export_model

    module, spec = morph
    manifest = export_model(copy.deepcopy(module), spec, SIZE, ["toy"], tmp_path / "export",
                            options={"num_images": 2, "fourier": 0})
    row = manifest.artifact("toy", "fp32")
    assert row.ok and row.file is not None and row.file.endswith("_fp32.toy"), row
    assert (tmp_path / "export" / row.file).is_file()

    cfg = BenchConfig(memory=False, plots=True, runs=3, warmup=1, min_seconds=0.0, samples=2, threads=1,
                      peak_size=128, morph_frames=3)
    report = run_bench(tmp_path / "export", tmp_path / "bench", cfg)
    bench = next(r for r in report.rows if r.format == "toy")
    assert bench.status == "ok" and bench.latency_ms_median is not None and bench.latency_ms_median > 0, bench
    assert bench.runtime.startswith("onnxruntime (toy)")

    assert cli.main(["info", "--size", "64", "64"]) == 0
    out = capsys.readouterr().out
    assert "toy" in out and ".toy" in out

    assert "| toy | .toy | fp32 |" in formats_markdown()
