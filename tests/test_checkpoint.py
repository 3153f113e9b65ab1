"""Run directories round-trip; foreign pickles are loaded safely; mismatches name their key."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from pix2mobile import checkpoint
from pix2mobile.errors import CheckpointError


def _net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.InstanceNorm2d(4, affine=True), nn.Conv2d(4, 3, 1))


def test_run_dir_round_trip(tmp_path) -> None:
    net = _net()
    checkpoint.save_run(tmp_path / "run", net.state_dict(),
                        {"family": "x", "arch": "y", "options": {"ngf": 4}, "training": {"steps": 3}})
    meta, state = checkpoint.load_run(tmp_path / "run")
    assert meta["family"] == "x" and meta["options"] == {"ngf": 4} and meta["schema_version"] == 1
    other = _net()
    checkpoint.load_state_dict_strict(other, state)
    x = torch.rand(1, 3, 8, 8)
    torch.testing.assert_close(other(x), net(x))
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["model.json", "model.safetensors"]


def test_metadata_must_name_the_architecture(tmp_path) -> None:
    with pytest.raises(CheckpointError, match="lacks 'arch'"):
        checkpoint.save_run(tmp_path, {}, {"family": "x", "options": {}})


def test_missing_key_is_named() -> None:
    state = _net().state_dict()
    del state["1.weight"]
    with pytest.raises(CheckpointError, match=r"missing key '1.weight' \(expected shape \(4,\)\)"):
        checkpoint.load_state_dict_strict(_net(), state)


def test_extra_key_is_named() -> None:
    state = {**_net().state_dict(), "head.bias": torch.zeros(2)}
    with pytest.raises(CheckpointError, match="unexpected key 'head.bias'"):
        checkpoint.load_state_dict_strict(_net(), state)


def test_shape_mismatch_names_key_and_both_shapes() -> None:
    state = _net().state_dict()
    state["0.weight"] = torch.zeros(8, 3, 3, 3)
    with pytest.raises(CheckpointError) as info:
        checkpoint.load_state_dict_strict(_net(), state)
    msg = str(info.value)
    assert "'0.weight'" in msg and "(8, 3, 3, 3)" in msg and "(4, 3, 3, 3)" in msg and "\n" not in msg


def test_pth_wrappers_and_dataparallel_prefix(tmp_path) -> None:
    state = _net().state_dict()
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, tmp_path / "a.pth")
    loaded = checkpoint.load_pth(tmp_path / "a.pth")
    assert set(loaded) == set(state)


def test_malicious_pickle_is_refused_without_running(tmp_path) -> None:
    import os
    import pickle

    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    (tmp_path / "evil.pth").write_bytes(pickle.dumps({"w": Payload()}))
    with pytest.raises(CheckpointError, match="refused to load"):
        checkpoint.load_pth(tmp_path / "evil.pth")
    assert not marker.exists()


def test_garbage_files_are_clear_errors(tmp_path) -> None:
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="junk.pth"):
        checkpoint.load_pth(tmp_path / "junk.pth")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "model.json").write_text(json.dumps({"family": "x", "arch": "y", "options": {}}))
    with pytest.raises(CheckpointError, match="no model.safetensors"):
        checkpoint.load_run(tmp_path / "run")
    (tmp_path / "run" / "model.safetensors").write_bytes(b"\x00" * 3)
    with pytest.raises(CheckpointError, match="unreadable safetensors"):
        checkpoint.load_run(tmp_path / "run")


def test_zero_byte_and_empty_message_errors_are_one_line(tmp_path) -> None:
    (tmp_path / "zero.pth").write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"zero.pth: not a readable PyTorch checkpoint \(the file is empty"):
        checkpoint.load_pth(tmp_path / "zero.pth")
    assert checkpoint.first_line(RuntimeError("")) == "RuntimeError"
    assert checkpoint.first_line(RuntimeError("\n  second line\nthird")) == "second line"


@pytest.mark.parametrize("meta, fragment", [
    ([1, 2], "expected a JSON object"),
    ({"arch": "lite", "options": {}}, "lacks 'family'"),
    ({"family": 3, "arch": "lite"}, "'family' must be a string"),
    ({"family": "fast_style", "arch": "lite", "options": [1]}, "'options' must be an object"),
    ({"family": "fast_style", "arch": "lite", "schema_version": "1"}, "schema_version must be an integer"),
    ({"family": "fast_style", "arch": "lite", "schema_version": 99}, "newer pix2mobile"),
])
def test_model_json_is_validated_field_by_field(tmp_path, meta, fragment) -> None:
    (tmp_path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=fragment):
        checkpoint.read_meta(tmp_path)
