"""The export folder invariant, checked on disk (export/folder.py): shared by export and quantize tests."""

from __future__ import annotations

import json
from pathlib import Path


def assert_folder_honest(folder: Path) -> dict:
    """Every final-named file in `folder` is an ok row of the manifest on disk; no staging or temp file.
    Returns the manifest JSON."""
    manifest = json.loads((folder / "manifest.json").read_text())
    ok = {a["file"] for a in manifest["artifacts"] if a["status"] == "ok"}
    for p in folder.iterdir():
        assert not p.name.startswith("."), f"staging/temp file left: {p.name}"
        if p.name == "manifest.json" or ".failed." in p.name:
            continue
        assert p.name in ok, f"{p.name} is on disk under a final name but not an ok row of the manifest"
    return manifest
