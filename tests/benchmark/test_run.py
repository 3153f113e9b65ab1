"""run_bench end to end on tiny exports: every field present and sane, report files, plots, references."""

from __future__ import annotations

import json
import math

import pytest
from PIL import Image

from pix2mobile.benchmark.eager import NO_CHECKPOINT, recipe_for
from pix2mobile.benchmark.report import Row
from pix2mobile.errors import ConfigError

from bench_formats import FAST_STYLE_FORMATS, MORPH_FORMATS

ROW_FIELDS = set(Row.__dataclass_fields__)
PNG = b"\x89PNG\r\n\x1a\n"


def _host(report):
    return [r for r in report.rows if r.device == "host"]


def _check_timed(row, runs):
    assert row.latency_ms_min > 0, row
    assert row.latency_ms_min <= row.latency_ms_median <= row.latency_ms_p90
    assert row.latency_ms_mean > 0 and row.latency_ms_std >= 0
    assert row.runs == runs and row.warmup == 1 and row.threads == 1
    assert row.gflops > 0 and 0 < row.peak_fraction and row.speedup_vs_eager > 0
    assert row.runtime


@pytest.mark.parametrize("bench, formats", [("fast_style_bench", FAST_STYLE_FORMATS), ("morph_bench", MORPH_FORMATS)])
def test_every_host_row_is_present_and_sane(request, bench, formats):
    b = request.getfixturevalue(bench)
    rows = _host(b.report)
    assert [r.format for r in rows] == ["pytorch", *formats]
    eager, artifacts = rows[0], rows[1:]
    assert eager.status == "ok" and eager.reason is None
    _check_timed(eager, b.cfg.runs)
    assert eager.speedup_vs_eager == 1.0 and eager.psnr_db is None and eager.size_mb is None
    for r in artifacts:
        assert r.status == "ok", (r.format, r.reason)
        _check_timed(r, b.cfg.runs)
        assert r.size_mb > 0 and r.bytes > 0 and r.params > 0 and r.macs > 0
        assert r.parity_source == "bench" and r.parity_samples == b.cfg.samples
        assert math.isfinite(r.psnr_db) and r.psnr_db >= r.threshold_db     # capped at 100 dB when exact
        assert 0.99 < r.ssim <= 1.0 + 1e-9 and 0 <= r.max_abs_err < 0.05
        assert r.threshold_db == 45.0


def test_peak_memory_is_measured_per_runtime_in_a_fresh_child(fast_style_bench):
    rows = {r.format: r for r in _host(fast_style_bench.report)}
    for r in rows.values():
        assert r.peak_mem_mb > 0 and r.peak_mem_delta_mb >= 0, (r.format, r.notes)
    # onnxruntime alone is far smaller than a process holding torch (and than this pytest process,
    # whose footprint ru_maxrss would have leaked into the child)
    assert rows["onnx"].peak_mem_mb < 250 < rows["ptl"].peak_mem_mb + 100
    assert rows["onnx"].peak_mem_mb < rows["pytorch"].peak_mem_mb


def test_morph_without_memory_leaves_memory_null(morph_bench):
    for r in _host(morph_bench.report):
        assert r.peak_mem_mb is None and r.peak_mem_delta_mb is None


def test_report_json_holds_every_number(fast_style_bench):
    data = json.loads((fast_style_bench.out / "report.json").read_text())
    assert data == json.loads(json.dumps(fast_style_bench.report.to_json()))
    assert data["schema_version"] == 1 and data["model"]["family"] == "fast_style"
    for row in data["rows"]:
        assert set(row) == ROW_FIELDS
        assert row["status"] in ("ok", "verify_failed", "export_failed", "skipped")
    host = data["host"]
    assert host["peak_gflops"] > 0 and host["threads"] == 1 and "128x128" in host["peak_method"]
    s = data["settings"]
    assert s["environment"]["OMP_WAIT_POLICY"] == "PASSIVE" and s["runs"] == 5 and s["warmup"] == 1
    assert data["gate"] is None
    assert not list(fast_style_bench.out.glob(".*")), "temporary files left behind"


@pytest.mark.parametrize("bench", ["fast_style_bench", "morph_bench"])
def test_report_md_has_the_table(request, bench):
    b = request.getfixturevalue(bench)
    md = (b.out / "report.md").read_text()
    assert "| model | format | precision | status | MB | PSNR dB | SSIM | median ms | p90 ms | × vs eager |" in md
    table = [line for line in md.splitlines() if line.startswith("| ")]
    assert len(table) == 1 + len(b.report.rows)          # header + one line per row
    assert "1.00×" in md


@pytest.mark.parametrize("bench, names", [
    ("fast_style_bench", {"latency_vs_size", "psnr_per_precision", "nst_vs_fast_style"}),
    ("morph_bench", {"latency_vs_size", "psnr_per_precision", "morph_strip"})])
def test_plots_are_valid_pngs(request, bench, names):
    b = request.getfixturevalue(bench)
    assert set(b.report.plots) == names
    for file in b.report.plots.values():
        path = b.out / file
        assert path.read_bytes()[:8] == PNG
        with Image.open(path) as img:
            img.verify()
        with Image.open(path) as img:
            assert img.size[0] > 100 and img.size[1] > 100


def test_fast_style_against_gatys_nst(fast_style_bench):
    nst = fast_style_bench.report.references["nst"]
    assert nst["status"] == "ok" and nst["style"] == "builtin"      # from the checkpoint's model.json
    assert nst["nst"]["steps"] == 2 and nst["nst"]["seconds"] > 0
    assert nst["layers"]["content"] == ["relu4_2"] and len(nst["layers"]["style"]) == 5
    # L-BFGS from the content image lowers the style loss below the content image's own
    assert nst["nst"]["style_loss"] < nst["content_image"]["style_loss"]
    assert nst["content_image"]["content_loss"] == 0.0
    keys = [a["key"] for a in nst["artifacts"]]
    assert keys == ["pytorch fp32"] + [f"{f} fp32" for f in FAST_STYLE_FORMATS]
    eager = nst["artifacts"][0]
    for a in nst["artifacts"]:
        assert a["content_loss"] > 0 and a["style_loss"] > 0 and a["nst_time_in_artifact_runs"] > 0
        assert a["style_loss"] == pytest.approx(eager["style_loss"], rel=1e-3)   # the artifacts match eager


def test_morph_against_the_desktop_morph(morph_bench):
    morph = morph_bench.report.references["morph"]
    assert morph["status"] == "ok" and morph["alphas"] == [0.0, 0.5, 1.0]
    assert [a["key"] for a in morph["artifacts"]] == [f"{f} fp32" for f in MORPH_FORMATS]
    for a in morph["artifacts"]:
        assert len(a["psnr_db_per_frame"]) == 3 and a["min_psnr_db"] > 45
    ends = morph["desktop_vs_mlp_renders_psnr_db"]
    assert ends["alpha_0"] > 60 and ends["alpha_1"] > 60     # alpha 0/1 are the MLPs themselves


def test_adb_without_adb_says_so_plainly(morph_bench):
    device = [r for r in morph_bench.report.rows if r.device == "android:emulator-5554"]
    assert [r.format for r in device] == MORPH_FORMATS
    for r in device:
        assert r.status == "skipped" and "adb was not found" in r.reason
        assert r.latency_ms_median is None and r.psnr_db is None
    md = (morph_bench.out / "report.md").read_text()
    assert "no device rows: adb was not found" in md


def test_wrong_checkpoint_is_refused(fast_style_export, morph_export):
    with pytest.raises(ConfigError, match="not the checkpoint these artifacts were exported from"):
        recipe_for(fast_style_export.manifest.model, morph_export.run)
    recipe, why = recipe_for(fast_style_export.manifest.model, None)
    assert recipe is None and why == NO_CHECKPOINT


def test_a_checkpoint_recorded_in_the_manifest_is_used_without_the_flag(fast_style_export):
    from types import SimpleNamespace

    model = fast_style_export.manifest.model
    relative = SimpleNamespace(**{**{k: getattr(model, k) for k in model.__dataclass_fields__}, "checkpoint": "../run"})
    recipe, why = recipe_for(relative, None, fast_style_export.export)
    assert why is None and recipe.checkpoint == str(fast_style_export.run.resolve())
    gone = SimpleNamespace(**vars(relative) | {"checkpoint": "/nowhere/run"})
    recipe, why = recipe_for(gone, None, fast_style_export.export)
    assert recipe is None and "not on this machine" in why
