"""manifest.py: a sample manifest round-trips; unknown majors are refused; unmeasured is null."""

from __future__ import annotations

import json

import pytest

from pix2mobile.errors import ConfigError
from pix2mobile.manifest import ArtifactEntry, Manifest, ModelInfo, Parity, TensorInfo


def _sample() -> Manifest:
    image = TensorInfo("image", (1, 256, 256, 3), "NHWC", range=(0.0, 255.0))
    z = TensorInfo("z", (1, 8), "NC", range=(-3.0, 3.0))
    pixels = TensorInfo("stylized", (1, 3, 256, 256), "NCHW", dtype="uint8", range=(0.0, 255.0), color_layout="RGB")
    ok = ArtifactEntry(format="tflite", precision="fp32", status="ok", file="johnson_fp32.tflite", bytes=6_700_000,
                       sha256="ab" * 32, inputs=(image, z), outputs=(image,),
                       parity=Parity(psnr_db=71.2, ssim=0.9999, max_abs_err=3e-4, scale="range", threshold_db=45.0,
                                     samples=2),
                       converter={"litert-torch": "0.10.0", "torch": "2.13.0"}, notes=("NHWC",),
                       export_seconds=12.5, verify_seconds=0.4)
    failed = ArtifactEntry(format="mlmodel", precision="fp32", status="failed", reason="export failed: boom",
                           outputs=(pixels,), parity=Parity(threshold_db=45.0, samples=2))
    return Manifest(model=ModelInfo("fast_style", "johnson", {"ngf": 8, "weights": None}, (256, 256), 40_000_000,
                                    1_700_000, None),
                    artifacts=(ok, failed), pix2mobile_version="0.1.0", created_at="2026-01-01T00:00:00+00:00",
                    io={"inputs": [], "outputs": []})


def test_round_trip_through_json_text(tmp_path):
    manifest = _sample()
    path = manifest.write(tmp_path)
    assert path.name == "manifest.json"
    back = Manifest.read(tmp_path)
    assert back == manifest
    assert Manifest.from_json(json.loads(json.dumps(manifest.to_json()))) == manifest
    assert not back.ok and back.artifact("tflite").ok


def test_unmeasured_is_null_never_zero():
    data = _sample().to_json()
    failed = data["artifacts"][1]
    assert failed["file"] is None and failed["bytes"] is None and failed["sha256"] is None
    assert failed["parity"]["psnr_db"] is None and failed["parity"]["ssim"] is None
    assert failed["export_seconds"] is None
    assert data["model"]["checkpoint_sha256"] is None
    assert data["ok"] is False


def test_required_fields_present():
    data = _sample().to_json()
    assert {"schema_version", "pix2mobile_version", "created_at", "model", "artifacts"} <= set(data)
    assert {"family", "arch", "options", "macs", "params", "checkpoint_sha256"} <= set(data["model"])
    art = data["artifacts"][0]
    assert {"format", "precision", "file", "bytes", "sha256", "status", "reason", "inputs", "outputs", "parity",
            "converter", "notes"} <= set(art)
    assert set(art["inputs"][0]) == {"name", "shape", "layout", "dtype", "range"}
    assert set(art["parity"]) >= {"psnr_db", "ssim", "max_abs_err", "scale", "threshold_db"}


@pytest.mark.parametrize("version", [2, "2.0", 0])
def test_unknown_major_schema_is_refused(version):
    data = _sample().to_json()
    data["schema_version"] = version
    with pytest.raises(ConfigError, match="schema_version"):
        Manifest.from_json(data)


def test_minor_schema_bump_is_read_and_garbage_refused(tmp_path):
    data = _sample().to_json()
    data["schema_version"] = "1.3"
    assert Manifest.from_json(data).schema_version == 1
    with pytest.raises(ConfigError, match="no schema_version"):
        Manifest.from_json({"artifacts": []})
    bad = dict(data, artifacts=[dict(data["artifacts"][0], status="maybe")])
    with pytest.raises(ConfigError, match="status"):
        Manifest.from_json(bad)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        Manifest.read(tmp_path)
    with pytest.raises(ConfigError, match="no such manifest"):
        Manifest.read(tmp_path / "elsewhere")
