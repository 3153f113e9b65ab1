"""`pix2mobile export` on foreign .pth files and run directories: exit codes, manifest, table."""

from __future__ import annotations

import json

import pytest
import torch

from pix2mobile import checkpoint, cli
from pix2mobile.train.warmup import lightly_train
from pix2mobile.models import get_variant


@pytest.fixture(scope="module")
def lite_run(tmp_path_factory):
    spec = get_variant("fast_style", "lite")
    gen = spec.create()
    lightly_train(gen, spec.io, (32, 32), steps=60)
    run = tmp_path_factory.mktemp("run")
    checkpoint.save_run(run, gen.state_dict(), {"family": "fast_style", "arch": "lite", "options": {},
                                                "training": {"size_hw": [32, 32]}})
    return run


def test_run_dir_exports_and_prints_table(lite_run, tmp_path, capsys) -> None:
    out = tmp_path / "exp"
    code = cli.main(["-q", "export", str(lite_run), "--out", str(out), "--formats", "onnx,ptl"])
    assert code == 0
    table = capsys.readouterr().out
    assert "fast_style/lite at 32x32" in table and "onnx" in table and "ptl" in table
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"]["family"] == "fast_style" and manifest["model"]["size"] == [32, 32]
    for art in manifest["artifacts"]:
        assert art["status"] == "ok" and (out / art["file"]).is_file()
        assert art["parity"]["psnr_db"] >= 45


def test_foreign_pth_with_family_and_arch(tmp_path, capsys) -> None:
    spec = get_variant("fast_style", "johnson")
    state = spec.create().state_dict()
    state["in1.running_mean"] = torch.zeros(32)      # old pytorch/examples files carry these
    torch.save(state, tmp_path / "candy.pth")
    code = cli.main(["-q", "export", str(tmp_path / "candy.pth"), "--family", "fast_style", "--arch", "johnson",
                     "--out", str(tmp_path / "exp"), "--formats", "onnx", "--size", "32", "32"])
    assert code == 0
    assert (tmp_path / "exp" / "johnson_fp32.onnx").is_file()


def test_pth_without_family_is_exit_2(tmp_path, capsys) -> None:
    torch.save({"w": torch.zeros(1)}, tmp_path / "x.pth")
    assert cli.main(["export", str(tmp_path / "x.pth"), "--out", str(tmp_path / "o")]) == 2
    assert "--family and --arch" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_unknown_format_is_exit_2(lite_run, tmp_path, capsys) -> None:
    assert cli.main(["export", str(lite_run), "--out", str(tmp_path / "o"), "--formats", "onnx,tf"]) == 2
    assert "unknown format(s) tf" in capsys.readouterr().err


def test_failed_gate_exits_1_and_keeps_no_final_name(lite_run, tmp_path, capsys) -> None:
    out = tmp_path / "exp"
    code = cli.main(["-q", "export", str(lite_run), "--out", str(out), "--formats", "ptl",
                     "--threshold", "fp32=150"])
    assert code == 1
    assert "ptl fp32 failed: parity gate" in capsys.readouterr().err
    assert not (out / "lite_fp32.ptl").exists() and (out / "lite_fp32.failed.ptl").exists()
    assert json.loads((out / "manifest.json").read_text())["artifacts"][0]["status"] == "failed"


def test_precision_flag_exports_each_supported_precision(lite_run, tmp_path, capsys) -> None:
    out = tmp_path / "exp"
    code = cli.main(["-q", "export", str(lite_run), "--out", str(out), "--formats", "tflite,onnx",
                     "--precision", "fp32,int8-dynamic"])
    assert code == 0, capsys.readouterr()
    rows = {(a["format"], a["precision"]): a for a in json.loads((out / "manifest.json").read_text())["artifacts"]}
    assert set(rows) == {("tflite", "fp32"), ("tflite", "int8-dynamic"), ("onnx", "fp32")}
    q = rows[("tflite", "int8-dynamic")]
    assert q["status"] == "ok" and q["parity"]["psnr_db"] >= q["parity"]["threshold_db"] == 30
    assert q["bytes"] < rows[("tflite", "fp32")]["bytes"]


def test_precision_no_format_supports_is_exit_2(lite_run, tmp_path, capsys) -> None:
    assert cli.main(["export", str(lite_run), "--out", str(tmp_path / "o"), "--formats", "onnx",
                     "--precision", "int8"]) == 2
    assert "no selected format exports int8" in capsys.readouterr().err
    assert cli.main(["export", str(lite_run), "--out", str(tmp_path / "o"), "--formats", "onnx,pte",
                     "--precision", "int8"]) == 2
    assert "onnx export(s) none of int8" in capsys.readouterr().err


@pytest.mark.slow
def test_sigint_mid_export_leaves_an_honest_folder(lite_run, tmp_path) -> None:
    """A real Ctrl-C once the first artifact exists: the manifest on disk lists it, the rest as not made,
    and no staging file or unlisted final name is left (it used to leave artifacts with no manifest)."""
    from folder_invariant import assert_folder_honest
    from sigint import interrupt_when

    out = tmp_path / "exp"
    code, err = interrupt_when(["export", str(lite_run), "--out", str(out), "--formats", "ptl,onnx,tflite,pte"],
                               out / "lite_fp32.ptl")
    assert code == 130, err
    data = assert_folder_honest(out)
    assert data["ok"] is False and data["artifacts"][0]["status"] == "ok"
    assert any(a["reason"] and a["reason"].startswith("not made") for a in data["artifacts"])


def test_plain_graph_flag_converts_the_model_as_it_is(lite_run, tmp_path, capsys) -> None:
    rows = {}
    for flag in ([], ["--plain-graph"]):
        out = tmp_path / ("plain" if flag else "mobile")
        assert cli.main(["-q", "export", str(lite_run), "--out", str(out), "--formats", "pte", *flag]) == 0
        (rows[bool(flag)],) = json.loads((out / "manifest.json").read_text())["artifacts"]
    assert rows[False]["residency"]["delegate_segments"] == 1 and rows[False]["residency"]["portable_calls"] == {}
    assert rows[True]["residency"]["delegate_segments"] > 1 and rows[True]["residency"]["portable_calls"]
    assert any("rewrite:" in n for n in rows[False]["notes"]) and not any("rewrite:" in n for n in rows[True]["notes"])
    assert rows[True]["parity"]["psnr_db"] >= 45 and rows[False]["parity"]["psnr_db"] >= 45
