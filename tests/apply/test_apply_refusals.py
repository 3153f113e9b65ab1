"""Bad input to `apply` and `bundle`: one line on stderr, exit 2, nothing written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pix2mobile import cli

ONE_LINE = re.compile(r"^pix2mobile (apply|bundle): error: ")

CASES = [
    # name, argv (placeholders: {fs} {cyc} {morph} {bic} {efs} {ecyc} {photo} {out} {txt} {empty}), fragment
    ("missing photo", "{fs} nope.jpg --out {out}", "nope.jpg: no such file or folder"),
    ("empty folder", "{fs} {empty} --out {out}", "a folder with no images"),
    ("glob matches nothing", "{fs} {empty}/*.png --out {out}", "matches no file"),
    ("not an image", "{fs} {txt} --out {out}", "notes.txt"),
    ("no photos", "{fs} --out {out}", "give photos"),
    ("export folder without format", "{efs} {photo} --out {out}", "choose an artifact with --format"),
    ("format not exported", "{ecyc} --format pte {photo} --out {out}", "no passing pte"),
    ("native on a fixed artifact", "{efs} --format onnx {photo} --mode native --out {out}", "use --mode fit"),
    ("samples without z", "{fs} {photo} --samples 2 --out {out}", "no latent input"),
    ("too many samples", "{bic} {photo} --samples 65 --out {out}", "--samples must be between"),
    ("direction on fast style", "{fs} {photo} --direction b2a --out {out}", "CycleGAN only"),
    ("family on an export folder", "{efs} --format onnx --family fast_style {photo} --out {out}", "drop --family"),
    ("format on a run", "{fs} --format onnx {photo} --out {out}", "not an export folder"),
    ("size on an artifact", "{efs} --format onnx --size 64 64 {photo} --out {out}", "--size applies to eager"),
    ("huge size", "{fs} --size 9000 64 {photo} --out {out}", "--size must be between"),
    ("overlap without tile", "{fs} --overlap 8 {photo} --out {out}", "--overlap applies to --mode tile"),
    ("overlap too wide", "{efs} --format onnx --mode tile --overlap 64 {photo} --out {out}", "--overlap must be"),
    ("morph with photos", "{morph} --frames 4 {photo} --out {out}", "takes no photos"),
    ("morph without frames", "{morph} {photo} --out {out}", "render it with --alpha"),
    ("alpha out of range", "{morph} --alpha 0,1.5 --out {out}", "alpha must be between"),
    ("frames on fast style", "{fs} --frames 4 --out {out}", "render a morph"),
    ("animation suffix", "{morph} --frames 3 --animate m.avi --out {out}", "--animate takes"),
    ("animation path", "{morph} --frames 3 --animate sub/m.gif --out {out}", "--animate takes"),
    ("two inputs, one name", "{fs} {photo} {photo2} --out {out}", "would both write"),
    ("out is a file", "{fs} {photo} --out {txt}", "not a directory"),
    ("bundle unknown app", "bundle {efs} --android {out}/nowhere", "no such app folder"),
    ("bundle core ml on android", "bundle {efs} --android {app} --formats mlpackage", "cannot run .mlpackage"),
    ("bundle tflite on ios", "bundle {efs} --ios {app} --formats tflite", "cannot run .tflite"),
    ("bundle nothing runnable", "bundle {ebic} --ios {app}", "no passing artifact the ios app can run"),
    ("bundle not an export", "bundle {fs} --android {app}", "not an export folder"),
    ("bundle name for two", "bundle {efs} {ebic} --android {app} --name x", "--name names one model"),
]


@pytest.fixture(scope="module")
def paths(runs, exports, photo_file, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("refusals")
    (root / "empty").mkdir()
    (root / "notes.txt").write_text("not an image")
    (root / "app").mkdir()
    other = root / "other"
    other.mkdir()
    (other / photo_file.name).write_bytes(photo_file.read_bytes())
    return {"fs": runs["fast_style"], "morph": runs["morph"], "bic": runs["bicyclegan"], "efs": exports["fast_style"],
            "ecyc": exports["cyclegan"], "ebic": exports["bicyclegan"], "photo": photo_file,
            "photo2": other / photo_file.name, "txt": root / "notes.txt", "empty": root / "empty", "app": root / "app"}


def listing(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


@pytest.mark.parametrize("name,argv,fragment", CASES, ids=[c[0] for c in CASES])
def test_refusal(name, argv, fragment, paths, tmp_path, capsys):
    out = tmp_path / "out"
    args = argv.format(out=out, **paths).split()
    before = listing(paths["app"])
    code = cli.main(args if args[0] == "bundle" else ["apply", *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert err and ONE_LINE.match(err[-1]) and fragment in err[-1], err
    assert "Traceback" not in "\n".join(err)
    assert not out.exists() or not any(out.iterdir())
    assert listing(paths["app"]) == before
