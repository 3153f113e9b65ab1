"""`manifest.Residency`: its rules, its one-line summary, its JSON, and manifests with and without it."""

from __future__ import annotations

import json

import pytest

from pix2mobile.errors import ConfigError
from pix2mobile.manifest import ArtifactEntry, Manifest, ModelInfo, Residency

PTE_TODAY = Residency(ops={"delegate:XnnpackBackend": 31, "aten::abs.out": 64}, unit="instructions",
                      delegate_segments=31, portable_calls={"aten::abs.out": 64, "aten::sub.out": 175})
PTE_CLEAN = Residency(ops={"delegate:XnnpackBackend": 1}, unit="instructions", delegate_segments=1,
                      portable_calls={})
TFLITE = Residency(ops={"CONV_2D": 16, "TRANSPOSE": 30, "ADD": 125}, unit="ops", layout_transposes=30)
MIL = Residency(ops={"conv": 28, "pad": 16}, unit="MIL ops", note="293 const ops (weights and constants) not counted")


def test_problems_and_summary_name_what_keeps_an_artifact_off_the_accelerator():
    assert PTE_TODAY.problems() == ["31 delegate segments", "239 portable calls"] and not PTE_TODAY.clean()
    assert PTE_TODAY.summary() == "31 delegate segments, 239 portable calls"
    assert PTE_CLEAN.problems() == [] and PTE_CLEAN.clean()
    assert PTE_CLEAN.summary() == "1 delegate segment, 0 portable calls"
    assert Residency(delegate_segments=0, portable_calls={"aten::cumsum.out": 1}).problems() == [
        "0 delegate segments", "1 portable call"]
    assert TFLITE.problems() == ["30 layout TRANSPOSEs"]
    assert TFLITE.summary() == "171 ops, 30 TRANSPOSE, GPU not checked"
    clean_tflite = Residency(ops={"CONV_2D": 1}, unit="ops", layout_transposes=0, gpu_compatible=True)
    assert clean_tflite.clean() and clean_tflite.summary() == "1 op, 0 TRANSPOSE, GPU ok"
    gpu_no = Residency(ops={"CUSTOM:X": 1}, unit="ops", layout_transposes=0, gpu_compatible=False,
                       note="Op#0 X: Not supported custom op X")
    assert gpu_no.problems() == ["GPU-incompatible (Op#0 X: Not supported custom op X)"]
    assert MIL.clean() and MIL.summary() == "44 MIL ops"          # Core ML and ONNX: information only
    assert Residency(note="nothing to read").summary() == "nothing to read"


@pytest.mark.parametrize("record", [PTE_TODAY, PTE_CLEAN, TFLITE, MIL, Residency()])
def test_json_round_trip(record):
    assert Residency.from_json(json.loads(json.dumps(record.to_json()))) == record


def _manifest(residency: Residency | None) -> Manifest:
    row = ArtifactEntry(format="pte", precision="fp32", status="ok", file="m_fp32.pte", residency=residency)
    return Manifest(model=ModelInfo(family="test", arch="m", size=(16, 16)), artifacts=(row,),
                    pix2mobile_version="0", created_at="2025-01-01T00:00:00+00:00")


def test_manifest_row_carries_it_and_old_manifests_still_load():
    data = json.loads(json.dumps(_manifest(PTE_TODAY).to_json()))
    assert data["artifacts"][0]["residency"]["delegate_segments"] == 31
    assert Manifest.from_json(data).artifacts[0].residency == PTE_TODAY
    assert Manifest.from_json(json.loads(json.dumps(_manifest(None).to_json()))).artifacts[0].residency is None
    del data["artifacts"][0]["residency"]             # written before the field existed
    assert Manifest.from_json(data).artifacts[0].residency is None


@pytest.mark.parametrize("bad", [
    [], {"delegate_segments": -1}, {"delegate_segments": True}, {"ops": {"conv": 1.5}}, {"ops": ["conv"]},
    {"portable_calls": {"aten::abs.out": -2}}, {"gpu_compatible": "yes"}, {"note": 3}])
def test_malformed_record_is_one_config_error(bad):
    data = _manifest(None).to_json()
    data["artifacts"][0]["residency"] = bad
    with pytest.raises(ConfigError, match="residency"):
        Manifest.from_json(data)
