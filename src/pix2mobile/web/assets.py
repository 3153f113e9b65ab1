"""Where the page's files are: `static/` in this package, and the npm packages it loads.

The in-browser runtimes come from npm at install time (`package.json` and `package-lock.json` beside
this file; `make web-deps`, or `npm ci` in this folder for a pip-installed pix2mobile) and the
server hands out their dist files itself: nothing is fetched from a CDN, at install or at run time.
Only the folders the page needs are exposed (`VENDOR`), not the whole of node_modules.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
NODE_MODULES = HERE / "node_modules"

VENDOR: dict[str, tuple[str, str]] = {
    "onnxruntime-web": ("onnxruntime-web", "dist"),
    "litert": ("@litertjs/core", "dist"),
    "litert-wasm": ("@litertjs/core", "wasm"),
    "litert-wasm-utils": ("@litertjs/wasm-utils", "dist"),
}
"""URL folder under /vendor/ -> (npm package, its folder served there)."""

RUNTIME_PACKAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "onnxruntime-web": ("onnxruntime-web", ("onnxruntime-web",)),
    "litert": ("@litertjs/core", ("litert", "litert-wasm", "litert-wasm-utils")),
}
"""In-browser runtime (as `catalog.BROWSER_RUNTIMES` names it) -> its npm package and the /vendor/
folders it loads."""


@dataclass(frozen=True)
class Runtime:
    name: str
    package: str
    version: str | None
    reason: str | None               # why it is not available (None: it is)

    def to_json(self) -> dict[str, object]:
        return {"package": self.package, "version": self.version, "available": self.reason is None,
                "reason": self.reason}


def install_hint(node_modules: Path) -> str:
    if node_modules == NODE_MODULES:
        return f"run `make web-deps` in a checkout, or `npm ci --prefix {HERE}` for an installed pix2mobile"
    return f"run `npm ci` where {node_modules} should be (with pix2mobile's web/package-lock.json)"


def vendor_dirs(node_modules: Path) -> dict[str, Path]:
    """The /vendor/ folders that exist."""
    out = {}
    for url, (package, sub) in VENDOR.items():
        d = node_modules / package / sub
        if d.is_dir():
            out[url] = d
    return out


def runtimes(node_modules: Path) -> dict[str, Runtime]:
    """Each in-browser runtime with its installed version, or why the page cannot offer it."""
    out = {}
    for name, (package, urls) in RUNTIME_PACKAGES.items():
        meta = node_modules / package / "package.json"
        try:
            version = str(json.loads(meta.read_text()).get("version"))
        except (OSError, ValueError):
            out[name] = Runtime(name, package, None, f"the npm package {package} is not installed in "
                                                     f"{node_modules}: {install_hint(node_modules)}")
            continue
        missing = ["/".join(VENDOR[u]) for u in urls if not node_modules.joinpath(*VENDOR[u]).is_dir()]
        out[name] = Runtime(name, package, version,
                            f"{', '.join(missing)} missing: {install_hint(node_modules)}" if missing else None)
    return out
