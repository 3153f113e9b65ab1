"""Hostile and edge inputs across the subcommands, one table row each (issue 11, items 6 and 8).

Every row runs `cli.main(argv)` in this process (a subprocess per row would cost ~8 s of start-up
each on a 2-core machine) and asserts: the exit code (2 for a refusal, 0 where the input must
work), that stderr's last line is our one-line `pix2mobile CMD: error: ...` with the fragment in
it, no traceback, and that no file appeared anywhere in the fixture folder beyond what the row
expects (temp files included). The malicious pickle would create MARKER if it ever ran.

The output-path rows use a tiny tmpfs filled to the brim (ENOSPC) and a read-only bind mount
(EROFS): chmod does not stop root, so a mode bit would test nothing. Both are mounted by the
module fixture and unmounted in its teardown, also when a row fails. Where mounting is not
permitted (no CAP_SYS_ADMIN), both fall back to sysfs, which refuses new files even to root,
so the rows still run and still assert a one-line refusal.

Signal rows (SIGINT / SIGKILL mid-training, then --resume) need a real process: they run
`python -m pix2mobile` with this interpreter and are marked slow.

A new case is one line of CASES: argv is a string whose {placeholders} name fixture paths.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pix2mobile import cli
from pix2mobile.checkpoint import save_run
from pix2mobile.models import get_variant
from pix2mobile.train.loop import export_meta

ONE_LINE = re.compile(r"^pix2mobile [a-z][a-z -]*: error: ")
TINY = "--size 32 --steps 2 --vgg-weights random --device cpu"
CYC = "train cyclegan --out {out}/run --size 32 --steps 1 --ngf 4 --ndf 4 --device cpu"
FAST = "train fast-style --out {out}/run --size 32 --steps 1 --vgg-weights random --device cpu"
MORPH = "train morph --images builtin --size 16 --hidden 8 --steps 3 --device cpu"


@dataclass(frozen=True)
class Case:
    name: str
    argv: str
    code: int
    fragment: str
    creates: tuple[str, ...] = ()     # paths (relative to the fixture root) the row may add


CASES: list[Case] = [
    # --- unusable output paths: nst, train, morph, export (issue 6; refused before the work) ---
    Case("nst-out-full-disk", f"nst --content builtin --style builtin --out {{full}}/o.png {TINY}", 2, "No space left"),
    Case("nst-out-read-only", f"nst --content builtin --style builtin --out {{ro}}/o.png {TINY}", 2, "cannot write"),
    Case("nst-out-parent-is-file", f"nst --content builtin --style builtin --out {{file}}/o.png {TINY}", 2, "is a file"),
    Case("nst-out-in-proc", f"nst --content builtin --style builtin --out /proc/x/o.png {TINY}", 2, "cannot write"),
    Case("nst-out-is-dir", f"nst --content builtin --style builtin --out {{out}}/d.png {TINY}", 2, "is a directory"),
    Case("train-out-full-disk", f"{MORPH} --out {{full}}/run", 2, "No space left"),
    Case("train-out-read-only", f"{MORPH} --out {{ro}}/run", 2, "cannot write"),
    Case("train-out-parent-is-file", f"{MORPH} --out {{file}}/run", 2, "is a file"),
    Case("train-out-in-proc", f"{MORPH} --out /proc/x/run", 2, "cannot write"),
    Case("morph-out-full-disk", "morph {morph} --steps 2 --size 8 8 --out {full}/frames", 2, "No space left"),
    Case("morph-out-read-only", "morph {morph} --steps 2 --size 8 8 --out {ro}/frames", 2, "cannot write"),
    Case("morph-out-is-file", "morph {morph} --steps 2 --size 8 8 --out {file}", 2, "is a file"),
    Case("morph-out-in-proc", "morph {morph} --steps 2 --size 8 8 --out /proc/x/frames", 2, "cannot write"),
    Case("export-out-read-only", "export {run} --out {ro}/e --formats onnx --size 32 32", 2, "{ro}"),
    Case("export-size-huge", "export {run} --out {out}/e --formats onnx --size 99999 32", 2, "MAX_IMAGE_SIDE"),
    Case("export-threshold-unknown-precision", "export {run} --out {out}/e --formats onnx --size 32 32 "
         "--threshold bogus=10", 2, "threshold names precision 'bogus'"),
    Case("export-threshold-nan", "export {run} --out {out}/e --formats onnx --size 32 32 --threshold fp32=nan", 2,
         "a positive number of dB"),
    Case("export-samples-huge", "export {run} --out {out}/e --formats onnx --size 32 32 --samples 100000", 2,
         "--samples must be between"),
    Case("export-out-parent-is-file", "export {run} --out {file}/e --formats onnx --size 32 32", 2, "{file}"),
    # --- wide or tall photos, sizes without limit ---
    Case("nst-panorama", f"nst --content {{img}}/wide.png --style builtin --out {{out}}/o.png {TINY} --size 384", 2,
         "VGG19 needs"),
    Case("nst-strip", f"nst --content {{img}}/strip.png --style builtin --out {{out}}/o.png {TINY}", 2, "VGG19 needs"),
    Case("nst-style-strip", f"nst --content builtin --style {{img}}/strip.png --out {{out}}/o.png {TINY}", 2,
         "style image is 3x4000"),
    Case("nst-size-huge", f"nst --content builtin --style builtin --out {{out}}/o.png {TINY} --size 99999", 2,
         "MAX_IMAGE_SIDE"),
    Case("train-size-huge", f"{MORPH} --out {{out}}/run --size 99999", 2, "MAX_IMAGE_SIDE"),
    Case("morph-size-huge", "morph {morph} --steps 2 --size 99999 8 --out {out}/f", 2, "MAX_IMAGE_SIDE"),
    Case("info-size-huge", "info --size 99999 99999", 2, "MAX_IMAGE_SIDE"),
    Case("fast-style-style-strip", "train fast-style --out {out}/run --arch lite --size 32 --steps 1 --style "
         "{img}/strip.png --vgg-weights random --device cpu", 2, "style image is 3x4000"),
    # --- numbers that must be refused before a run folder exists ---
    Case("train-lr-nan", f"{MORPH} --out {{out}}/run --lr nan", 2, "--lr must be a finite"),
    Case("train-lr-negative", f"{MORPH} --out {{out}}/run --lr -1", 2, "--lr must be positive"),
    Case("cyclegan-beta1-2", f"{CYC} --beta1 2", 2, "--beta1"),
    Case("cyclegan-init-gain-negative", f"{CYC} --init-gain -1", 2, "--init-gain"),
    Case("cyclegan-n-layers-d-10", f"{CYC} --n-layers-d 10", 2, "--n-layers-d"),
    Case("cyclegan-ngf-huge", f"{CYC} --ngf 100000", 2, "'ngf' must be between"),
    Case("cyclegan-lambda-inf", f"{CYC} --lambda-a inf", 2, "--lambda-a"),
    Case("fast-style-style-weight-inf", f"{FAST} --style-weight inf", 2, "--style-weight"),
    Case("fast-style-width-huge", f"{FAST} --arch lite --width 100000", 2, "'width'"),
    Case("morph-builtin-count-huge", f"{MORPH} --out {{out}}/run --builtin-count 100000", 2, "--builtin-count"),
    Case("nst-style-weight-inf", f"nst --content builtin --style builtin --out {{out}}/o.png {TINY} --style-weight inf",
         2, "--style-weight must be a finite"),
    Case("nst-lr-nan", f"nst --content builtin --style builtin --out {{out}}/o.png {TINY} --lr nan", 2, "--lr"),
    Case("nst-lr-negative", f"nst --content builtin --style builtin --out {{out}}/o.png {TINY} --lr -1", 2, "--lr"),
    Case("morph-pair-same", "morph {morph} --steps 2 --size 8 8 --pair 1 1 --out {out}/f", 2, "--pair"),
    Case("morph-pair-out-of-range", "morph {morph} --steps 2 --size 8 8 --pair 0 7 --out {out}/f", 2, "pair"),
    Case("morph-duration-negative", "morph {morph} --steps 2 --size 8 8 --duration -1 --out {out}/f", 2, "--duration"),
    Case("morph-duration-zero", "morph {morph} --steps 2 --size 8 8 --duration 0 --out {out}/f", 2, "--duration"),
    Case("morph-frames-huge", "morph {morph} --steps 100000 --size 8 8 --out {out}/f", 2, "--steps"),
    Case("nst-losses-json-exists", f"nst --content builtin --style builtin --out {{out}}/old.png {TINY}", 2,
         "old.losses.json exists"),
    # --- images: broken ones refused, unusual modes work ---
    Case("nst-zero-byte-image", f"nst --content {{img}}/empty.png --style builtin --out {{out}}/o.png {TINY}", 2, "empty"),
    Case("nst-corrupt-image", f"nst --content {{img}}/corrupt.jpg --style builtin --out {{out}}/o.png {TINY}", 2,
         "not an image"),
    Case("nst-truncated-image", f"nst --content {{img}}/truncated.png --style builtin --out {{out}}/o.png {TINY}", 2,
         "truncated"),
    Case("nst-huge-declared-image", f"nst --content {{img}}/bomb.png --style builtin --out {{out}}/o.png {TINY}", 2,
         "decompression"),
    Case("nst-symlink-loop", f"nst --content {{img}}/loop.png --style builtin --out {{out}}/o.png {TINY}", 2, "loop.png"),
    Case("nst-directory-as-image", f"nst --content {{img}} --style builtin --out {{out}}/o.png {TINY}", 2, "directory"),
    Case("nst-cmyk-works", f"nst --content {{img}}/cmyk.jpg --style {{img}}/palette.png --out {{out}}/c.png {TINY}", 0,
         "", ("out/c.png", "out/c.losses.json")),
    Case("nst-16bit-and-animated-work", f"nst --content {{img}}/grey16.png --style {{img}}/anim.gif --out {{out}}/g.png "
         f"{TINY}", 0, "", ("out/g.png", "out/g.losses.json")),
    Case("train-data-folder-corrupt", "train fast-style --out {out}/run --arch lite --size 32 --steps 1 --data {bad_data} "
         "--vgg-weights random --device cpu", 2, "cannot be used"),
    Case("train-data-symlink-dir-loop", "train fast-style --out {out}/run --arch lite --size 32 --steps 1 --data "
         "{loop_data} --vgg-weights random --device cpu", 2, "no images"),
    # --- checkpoints: malicious, wrong, damaged ---
    Case("export-malicious-pickle", "export {ck}/evil.pth --family fast_style --arch lite --out {out}/e --formats onnx",
         2, "refused to load"),
    Case("resume-malicious-train-state", "train morph --resume {evil_run} --device cpu", 2, "unreadable training state"),
    Case("nst-malicious-vgg-weights", "nst --content builtin --style builtin --out {out}/o.png --size 32 --steps 2 "
         "--vgg-weights {ck}/evil.pth", 2, "evil.pth"),
    Case("export-zero-byte-pth", "export {ck}/zero.pth --family fast_style --arch lite --out {out}/e --formats onnx", 2,
         "empty"),
    Case("export-truncated-pth", "export {ck}/truncated.pth --family fast_style --arch lite --out {out}/e --formats onnx",
         2, "not a readable"),
    Case("export-wrong-architecture", "export {ck}/johnson.pth --family fast_style --arch lite --out {out}/e "
         "--formats onnx", 2, "key"),
    Case("export-corrupt-safetensors", "export {bad}/corrupt_weights --out {out}/e --formats onnx", 2, "safetensors"),
    Case("export-model-json-list", "export {bad}/list --out {out}/e --formats onnx", 2, "JSON object"),
    Case("export-model-json-no-family", "export {bad}/no_family --out {out}/e --formats onnx", 2, "lacks 'family'"),
    Case("export-model-json-options-string", "export {bad}/options_str --out {out}/e --formats onnx", 2, "'options'"),
    Case("export-model-json-width-type", "export {bad}/width_str --out {out}/e --formats onnx", 2, "an integer"),
    Case("export-model-json-width-negative", "export {bad}/width_neg --out {out}/e --formats onnx", 2, "between"),
    Case("export-model-json-width-huge", "export {bad}/width_huge --out {out}/e --formats onnx", 2, "between"),
    Case("export-model-json-unknown-option", "export {bad}/unknown_opt --out {out}/e --formats onnx", 2, "no option"),
    Case("export-model-json-not-json", "export {bad}/not_json --out {out}/e --formats onnx", 2, "not valid JSON"),
    Case("export-option-width-abc", "export {run} --out {out}/e --formats onnx --option width=abc", 2, "an integer"),
    Case("export-option-bogus", "export {run} --out {out}/e --formats onnx --option bogus=1", 2, "no option 'bogus'"),
    Case("morph-render-non-morph-run", "morph {run} --steps 2 --size 8 8 --out {out}/f", 2, "not a morph run"),
    Case("resume-missing-run", "train morph --resume {out}/nothing --device cpu", 2, "no such run"),
]
"""Each row is one refusal (or success) the issue found broken or untested; 50 of the 71 failed before
the fixes of this change (tracebacks, wrong exit codes, runs that trained on NaN/inf options)."""


# fixtures ----------------------------------------------------------------------------------
def _mount(kind: str, target: Path) -> bool:
    """A 64 KiB tmpfs ('full') or a read-only bind mount ('ro'); False where mounting is not allowed."""
    target.mkdir()
    if kind == "full":
        cmds = [["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(target)]]
    else:
        cmds = [["mount", "--bind", str(target), str(target)],
                ["mount", "-o", "remount,ro,bind", str(target)]]
    for i, cmd in enumerate(cmds):
        if subprocess.run(cmd, capture_output=True, check=False).returncode != 0:
            if i:
                subprocess.run(["umount", str(target)], capture_output=True, check=False)
            return False
    return True


def _fill(target: Path) -> None:
    """Write until the tmpfs is full: every later write there meets ENOSPC."""
    fd = os.open(target / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, bytes(4096)):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)


def _png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height and whose data is absent (a bomb's header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + \
        chunk(b"IEND", b"")


class _Evil:
    """Unpickling this creates MARKER: the proof that a loader ran code from a pickle."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.touch, (self.marker,))


def _write_run(run: Path, options: dict, meta_override: object | None = None) -> None:
    spec = get_variant("fast_style", "lite")
    save_run(run, spec.create(**options).state_dict(), export_meta(spec, options, 32))
    if meta_override is not None:
        (run / "model.json").write_text(meta_override if isinstance(meta_override, str) else json.dumps(meta_override))


@pytest.fixture(scope="module")
def area(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    root = tmp_path_factory.mktemp("hostile")
    mounted: list[Path] = []
    try:
        paths = {"root": root, "img": root / "img", "ck": root / "ck", "out": root / "out", "bad": root / "bad",
                 "file": root / "a_file", "marker": root / "MARKER"}
        for d in ("img", "ck", "out", "bad"):
            paths[d].mkdir()
        paths["file"].write_text("a regular file where a folder should be\n")
        for kind in ("full", "ro"):
            if _mount(kind, root / kind):
                mounted.append(root / kind)          # registered first: unmounted whatever fails next
                paths[kind] = root / kind
                if kind == "full":
                    _fill(root / kind)
            else:                                     # no CAP_SYS_ADMIN: sysfs refuses new files even to root
                paths[kind] = Path("/sys/kernel")
        img = paths["img"]
        rng = np.random.default_rng(0)
        photo = Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
        photo.resize((4000, 100)).save(img / "wide.png")
        photo.resize((3, 4000)).save(img / "strip.png")
        (img / "empty.png").write_bytes(b"")
        (img / "corrupt.jpg").write_bytes(b"this is no jpeg at all")
        photo.save(img / "full.png")
        data = (img / "full.png").read_bytes()
        (img / "truncated.png").write_bytes(data[: len(data) // 2])
        (img / "full.png").unlink()
        (img / "bomb.png").write_bytes(_png_declaring(100_000, 100_000))
        (img / "loop.png").symlink_to(img / "loop.png")
        photo.convert("CMYK").save(img / "cmyk.jpg")
        photo.convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(img / "palette.png")
        Image.fromarray((rng.integers(0, 65535, (48, 64))).astype(np.uint16)).save(img / "grey16.png")
        photo.save(img / "anim.gif", save_all=True, append_images=[photo.rotate(90)], duration=50, loop=0)
        bad_data = root / "bad_data"
        bad_data.mkdir()
        photo.save(bad_data / "good.png")
        (bad_data / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
        loop_data = root / "loop_data"
        loop_data.mkdir()
        (loop_data / "self").symlink_to(loop_data)
        paths.update(bad_data=bad_data, loop_data=loop_data)
        # checkpoints
        ck = paths["ck"]
        torch.save({"state_dict": _Evil(paths["marker"])}, ck / "evil.pth")
        (ck / "zero.pth").write_bytes(b"")
        torch.save(get_variant("fast_style", "lite").create().state_dict(), ck / "full.pth")
        blob = (ck / "full.pth").read_bytes()
        (ck / "truncated.pth").write_bytes(blob[: len(blob) // 3])
        (ck / "full.pth").unlink()
        torch.save(get_variant("fast_style", "johnson").create().state_dict(), ck / "johnson.pth")
        # run directories
        options = {"width": 4, "n_res": 0}
        paths["run"] = root / "run"
        _write_run(paths["run"], options)
        good = json.loads((paths["run"] / "model.json").read_text())
        bad = paths["bad"]
        for name, meta in {"list": [1, 2], "no_family": {k: v for k, v in good.items() if k != "family"},
                           "options_str": {**good, "options": "width=4"},
                           "width_str": {**good, "options": {"width": "abc", "n_res": 0}},
                           "width_neg": {**good, "options": {"width": -4, "n_res": 0}},
                           "width_huge": {**good, "options": {"width": 10 ** 9, "n_res": 0}},
                           "unknown_opt": {**good, "options": {**options, "bogus": 1}},
                           "not_json": "{not json"}.items():
            _write_run(bad / name, options, meta)
        _write_run(bad / "corrupt_weights", options)
        (bad / "corrupt_weights" / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{\"a\":1}")
        morph = get_variant("morph", "mlp")
        paths["morph"] = root / "morph"
        save_run(paths["morph"], morph.create(num_images=2, hidden=8).state_dict(),
                 export_meta(morph, {"num_images": 2, "fourier": 0, "hidden": 8}, 16))
        paths["evil_run"] = root / "evil_run"
        paths["evil_run"].mkdir()
        torch.save({"format": 1, "x": _Evil(paths["marker"])}, paths["evil_run"] / "train_state.pt")
        (paths["out"] / "d.png").mkdir()                           # a directory where the file goes
        (paths["out"] / "old.losses.json").write_text("{}\n")     # nst-losses-json-exists: only the history
        yield paths
    finally:
        for m in mounted:                        # lazily if a file there is still open
            if subprocess.run(["umount", str(m)], capture_output=True, check=False).returncode != 0:
                subprocess.run(["umount", "-l", str(m)], capture_output=True, check=False)


def _tree(root: Path, extra: list[Path]) -> set[Path]:
    found = {p for p in root.rglob("*") if "loop_data" not in p.parts}
    for e in extra:
        if e.is_dir() and not e.is_relative_to(root):
            found |= set(e.iterdir())
    return found


def _argv(case: Case, area: dict[str, Path]) -> list[str]:
    return [tok.format(**area) for tok in case.argv.split()]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_input(case: Case, area: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    outside = [area["full"], area["ro"]]
    before = _tree(area["root"], outside)
    added: set[Path] = set()
    try:
        try:
            code = cli.main(["-q", *_argv(case, area)])
        except SystemExit as exc:              # argparse's own refusals
            code = int(exc.code or 0)
        err = capsys.readouterr().err
        added = _tree(area["root"], outside) - before
        assert "Traceback" not in err
        assert code == case.code, err
        if case.code == 2:
            last = err.strip().splitlines()[-1]
            assert ONE_LINE.match(last), err
            assert case.fragment.format(**area) in last, last
        expected = {area["root"] / c for c in case.creates}
        assert added == expected, f"stray files: {sorted(map(str, added - expected))}"
        assert not area["marker"].exists(), "a pickle ran code"
    finally:                                   # leave the shared area as it was, pass or fail
        added = added or (_tree(area["root"], outside) - before)
        for p in sorted(added, key=lambda q: len(q.parts), reverse=True):
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)


def test_table_is_large_and_names_are_unique() -> None:
    assert len(CASES) >= 40 and len({c.name for c in CASES}) == len(CASES)


# signals mid-training, then --resume: real processes ---------------------------------------
def _pix2mobile(*argv: str) -> subprocess.Popen[str]:
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "pix2mobile", "-q", *argv], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_signal_mid_training_then_resume(sig: signal.Signals, tmp_path: Path) -> None:
    run = tmp_path / "run"
    proc = _pix2mobile("train", "morph", "--images", "builtin", "--size", "16", "--hidden", "8", "--steps", "4000",
                       "--save-every", "20", "--log-every", "20", "--sample-every", "0", "--device", "cpu",
                       "--out", str(run))
    deadline = time.monotonic() + 120
    while not (run / "train_state.pt").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1]
        time.sleep(0.2)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert "Traceback" not in err
    assert proc.returncode == (130 if sig == signal.SIGINT else -signal.SIGKILL), err
    if sig == signal.SIGINT:          # SIGKILL may land mid-write: a temp file, never a half final file
        assert not list(run.rglob(".*")), "temp files left behind"
    state_step = json.loads((run / "model.json").read_text())["steps_done"]
    assert 0 < state_step < 8000
    resumed = _pix2mobile("train", "morph", "--resume", str(run), "--steps", str(state_step // 2 + 30),
                          "--device", "cpu")
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0 and "Traceback" not in err, err
    assert json.loads((run / "model.json").read_text())["steps_done"] == 2 * (state_step // 2 + 30)
