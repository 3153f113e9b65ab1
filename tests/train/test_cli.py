"""`pix2mobile train ...` and `pix2mobile morph ...` through `cli.main`: exit 0 on built-in data,
exit 2 with one line for bad input."""

from __future__ import annotations

import pytest
from PIL import Image

from pix2mobile import cli
from pix2mobile.checkpoint import read_meta
from pix2mobile.commands import morph as morph_command
from pix2mobile.commands import train as train_command


@pytest.fixture(autouse=True)
def _commands(monkeypatch):
    """Register the two commands (a no-op once cli.py lists them)."""
    for name, module in (("train", train_command), ("morph", morph_command)):
        monkeypatch.setitem(cli.COMMANDS, name, cli.Command(module.HELP, module.__doc__ or "",
                                                             module.add_arguments, module.run))


def _one_line_error(capsys, match: str) -> None:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and match in err, err


FAST = ["--size", "32", "--batch-size", "1", "--arch", "lite", "--width", "8", "--n-res", "1",
        "--vgg-weights", "random", "--sample-every", "0"]


def test_fast_style_on_builtin_data(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["-q", "train", "fast-style", "--out", str(out), "--steps", "2", *FAST]) == 0
    meta = read_meta(out)
    assert meta["config"]["data"] == "builtin" and meta["config"]["style"] == "builtin" and meta["steps_done"] == 2
    # an existing run without --resume or --force: one line, exit 2
    assert cli.main(["-q", "train", "fast-style", "--out", str(out), "--steps", "2", *FAST]) == 2
    _one_line_error(capsys, "--force")


def test_resume_continues_with_more_steps(tmp_path):
    out = tmp_path / "run"
    assert cli.main(["-q", "train", "fast-style", "--out", str(out), "--steps", "1", *FAST]) == 0
    assert cli.main(["-q", "train", "fast-style", "--resume", str(out), "--steps", "2"]) == 0
    assert read_meta(out)["steps_done"] == 2


def test_empty_data_folder_is_one_line_exit_2(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    code = cli.main(["train", "fast-style", "--out", str(tmp_path / "run"), "--data", str(empty), *FAST])
    assert code == 2
    _one_line_error(capsys, "no images in")
    assert not (tmp_path / "run").exists()


def test_unreadable_image_is_one_line_exit_2(tmp_path, capsys, image_folder):
    a, b = image_folder("A", n=1), image_folder("B", n=1, seed=3)
    (b / "broken.png").write_bytes(b"not a png at all")
    code = cli.main(["train", "cyclegan", "--out", str(tmp_path / "run"), "--data-a", str(a), "--data-b", str(b),
                     "--size", "32"])
    assert code == 2
    _one_line_error(capsys, "broken.png")


def test_cyclegan_and_bicyclegan_on_builtin_data(tmp_path):
    assert cli.main(["-q", "train", "cyclegan", "--out", str(tmp_path / "cg"), "--steps", "1", "--size", "32",
                     "--generator", "resnet_6blocks", "--ngf", "4", "--ndf", "4", "--num-samples", "1"]) == 0
    assert cli.main(["-q", "train", "bicyclegan", "--out", str(tmp_path / "bg"), "--steps", "1", "--size", "128",
                     "--ngf", "4", "--nef", "4", "--ndf", "4", "--num-samples", "1", "--num-z", "1"]) == 0
    assert read_meta(tmp_path / "cg")["arch"] == "resnet_6blocks"
    assert read_meta(tmp_path / "bg")["arch"] == "unet_128"


def test_bad_size_for_bicyclegan(tmp_path, capsys):
    assert cli.main(["train", "bicyclegan", "--out", str(tmp_path / "bg"), "--size", "96"]) == 2
    _one_line_error(capsys, "128 or 256")


def test_morph_train_then_render(tmp_path, capsys):
    run = tmp_path / "morph"
    assert cli.main(["-q", "train", "morph", "--out", str(run), "--images", "builtin:0", "builtin:1", "builtin:2",
                     "--steps", "3", "--size", "8", "--hidden", "8", "--independent"]) == 0
    meta = read_meta(run)
    assert meta["options"]["num_images"] == 3 and meta["chain"] is False
    frames = tmp_path / "frames"
    assert cli.main(["-q", "morph", str(run), "--steps", "6", "--size", "10", "14", "--out", str(frames),
                     "--pair", "2", "1"]) == 0
    assert sorted(p.name for p in frames.iterdir()) == [f"frame_{i:03d}.png" for i in range(6)] + ["morph_2_1.gif"]
    assert Image.open(frames / "frame_000.png").size == (14, 10)
    assert cli.main(["morph", str(run), "--steps", "6", "--out", str(tmp_path / "x"), "--pair", "0", "3"]) == 2
    _one_line_error(capsys, "pair")
