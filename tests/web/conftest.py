"""Export folders of every family and one running `pix2mobile serve` over them, shared by the web tests.

Made once per session (about a minute on 2 cores): small lightly trained runs (tests/apply/apply_runs.py)
exported to .onnx (all) and .tflite (fast style), plus two doctored copies of the fast-style folder:
`style_onnx` (its manifest's checkpoint points nowhere, so the server runs the .onnx) and
`style_tflite` (only the .tflite: nothing can run on the server). The server is a real subprocess
on a free port, with a working directory and TMPDIR of its own, so tests can check that requests
write nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "apply"))

from apply_runs import make_run, photo  # noqa: E402

SIZES = {"fast_style": 64, "morph": 64, "bicyclegan": 128, "cyclegan": 64}
FORMATS = {"fast_style": ["onnx", "tflite"], "morph": ["onnx"], "bicyclegan": ["onnx"], "cyclegan": ["onnx"]}


@dataclass(frozen=True)
class WebModels:
    root: Path
    runs: dict[str, Path]
    exports: dict[str, Path]           # model id on the server -> export folder
    photo: Path                        # a PNG of a real photo (300 x 200)
    small: Path                        # a PNG of another size (97 x 131)


def _export(run: Path, name: str, out: Path) -> None:
    from pix2mobile.models.loading import load_generator
    from pix2mobile.pipelines.export import export_model

    directions = ("a2b", "b2a") if name == "cyclegan" else (None,)
    for d in directions:
        loaded = load_generator(run, direction=d)
        manifest = export_model(loaded.generator, loaded.spec, SIZES[name], FORMATS[name], out / d if d else out,
                                options=loaded.options, checkpoint_sha256=loaded.sha256, checkpoint=loaded.source,
                                direction=d, samples=1)
        assert manifest.ok, [(a.format, a.status, a.reason) for a in manifest.artifacts]


def _doctor(src: Path, dst: Path, keep: tuple[str, ...], checkpoint: str | None) -> Path:
    dst.mkdir()
    manifest = json.loads((src / "manifest.json").read_text())
    manifest["artifacts"] = [a for a in manifest["artifacts"] if a["format"] in keep]
    manifest["model"]["checkpoint"] = checkpoint
    for a in manifest["artifacts"]:
        shutil.copy2(src / a["file"], dst / a["file"])
    (dst / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return dst


@pytest.fixture(scope="session")
def web_models(tmp_path_factory: pytest.TempPathFactory) -> WebModels:
    """Built in a fresh temporary folder; WEB_TEST_CACHE=DIR keeps them there between sessions
    (for working on the page: the minute of training and exporting is then paid once)."""
    import torch

    cache = os.environ.get("WEB_TEST_CACHE")
    root = Path(cache) if cache else tmp_path_factory.mktemp("web")
    runs = {name: root / "runs" / name for name in SIZES}
    exports = {name: root / "exports" / name for name in [*SIZES, "style_onnx", "style_tflite"]}
    models = WebModels(root=root, runs=runs, exports=exports, photo=root / "photo.png", small=root / "small.png")
    if cache and (root / "ready").is_file():
        return models
    if cache and root.exists():
        shutil.rmtree(root)
    torch.set_num_threads(1)
    for name in SIZES:
        make_run(root / "runs", name)
        _export(runs[name], name, exports[name])
    _doctor(exports["fast_style"], exports["style_onnx"], ("onnx", "tflite"), str(root / "no-such-run"))
    _doctor(exports["fast_style"], exports["style_tflite"], ("tflite",), None)
    Image.fromarray(photo((300, 200))).save(models.photo)
    Image.fromarray(np.ascontiguousarray(photo((640, 427))[100:197, 200:331])).save(models.small)
    (root / "ready").touch()
    return models


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    cwd: Path
    tmpdir: Path
    log: list[str]


def start_server(folders: list[Path], workdir: Path, *extra: str) -> Server:
    cwd, tmpdir = workdir / "cwd", workdir / "tmp"
    cwd.mkdir(parents=True)
    tmpdir.mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
           "TMPDIR": str(tmpdir), "OMP_WAIT_POLICY": "PASSIVE"}
    proc = subprocess.Popen([sys.executable, "-m", "pix2mobile", "serve", *map(str, folders), "--port", "0", *extra],
                            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    url: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("serving ") and " on http://" in line:
                url.append(line.split(" on ", 1)[1].split()[0].rstrip("/"))
                ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + 120
    while not ready.wait(0.2):
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("pix2mobile serve did not start in 120 s:\n" + "\n".join(lines))
    if not url:
        proc.wait(5)
        raise AssertionError(f"pix2mobile serve exited ({proc.returncode}):\n" + "\n".join(lines))
    return Server(url=url[0], process=proc, cwd=cwd, tmpdir=tmpdir, log=lines)


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(5)


@pytest.fixture(scope="session")
def server(web_models: WebModels, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = start_server(list(web_models.exports.values()), tmp_path_factory.mktemp("server"))
    yield s
    stop_server(s)
