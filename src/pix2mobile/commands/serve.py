"""Serve the style-transfer page: pick a photo and a model, run it in the browser or on the server.

Examples:
  pix2mobile serve runs/demo/export_style runs/demo/export_morph     (then open http://127.0.0.1:8000/)
  pix2mobile serve exports/h2z --port 8080                           (CycleGAN: a2b/ and b2a/ inside)

Each EXPORT_DIR is a folder `pix2mobile export` wrote (a CycleGAN export holding a2b/ and b2a/
counts as one model with two directions). The page runs the folder's .onnx in the browser with
onnxruntime-web and its .tflite with LiteRT.js (both WebAssembly; their npm packages are served
from this installation, never from a CDN: `make web-deps`, or `npm ci` in pix2mobile/web/), and on
the server as the reference: eager PyTorch when the manifest's checkpoint is on this machine with
the same sha256, else the .onnx. The server's result for a photo is `pix2mobile apply`'s.

The JSON API (GET /api/v1/models, POST /api/v1/apply?model=ID&mode=fit|tile with the photo's bytes
as the body, PNG back; GET /healthz) is documented in docs/web.md. The server binds to 127.0.0.1
unless --host says otherwise; it has no authentication, so think before exposing it. Nothing is
written to disk per request. Ctrl-C stops it.
"""

from __future__ import annotations

import argparse
import logging
import socket
from pathlib import Path

from pix2mobile.errors import ConfigError

HELP = "serve the web page: models run in the browser (onnxruntime-web, LiteRT.js) and on the server"
log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    from pix2mobile.web.assets import NODE_MODULES
    from pix2mobile.web.photos import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS

    p.add_argument("folders", nargs="+", type=Path, metavar="EXPORT_DIR", help="export folders to serve")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000; 0 picks a free one)")
    p.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BYTES,
                   help=f"largest photo upload in bytes (default: {DEFAULT_MAX_BYTES}, 20 MB)")
    p.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS,
                   help=f"largest photo in pixels, checked before decoding (default: {DEFAULT_MAX_PIXELS})")
    p.add_argument("--workers", type=int, default=2, help="photos processed at once (default: 2)")
    p.add_argument("--node-modules", type=Path, default=NODE_MODULES,
                   help="where `npm ci` installed the page's packages (default: the one inside pix2mobile/web/)")


def run(args: argparse.Namespace) -> int:
    from pix2mobile.runtimes.common import require

    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port must be between 0 and 65535, got {args.port}")
    for flag, value in (("--max-bytes", args.max_bytes), ("--max-pixels", args.max_pixels),
                        ("--workers", args.workers)):
        if value < 1:
            raise ConfigError(f"{flag} must be at least 1, got {value}")
    uvicorn = require("uvicorn", "uvicorn", "pix2mobile serve")
    require("starlette", "starlette", "pix2mobile serve")
    from pix2mobile.web.app import Settings, create_app
    from pix2mobile.web.assets import runtimes
    from pix2mobile.web.catalog import Catalog

    catalog = Catalog.open(args.folders)
    settings = Settings(max_bytes=args.max_bytes, max_pixels=args.max_pixels, workers=args.workers,
                        node_modules=args.node_modules)
    app = create_app(catalog, settings)
    sock = _bind(args.host, args.port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    for entry in catalog.entries.values():
        for variant in entry.variants.values():
            m = variant.manifest.model
            which = f" {variant.direction}" if variant.direction else ""
            browser = ", ".join(f".{a.format} {a.precision}" for a in variant.artifacts) or "none"
            server = variant.server.label if variant.server is not None else variant.note
            at = f" at {m.size[0]}x{m.size[1]}" if m.size else ""
            print(f"  {entry.id}{which}: {m.family}/{m.arch}{at}; in the browser: {browser}; on the server: {server}")
    for runtime in runtimes(args.node_modules).values():
        if runtime.reason is not None:
            log.warning("the page cannot offer %s: %s", runtime.package, runtime.reason)
    if not _loopback(host):
        log.warning("serving on %s: reachable from the network, with no authentication", host)
    print(f"serving {len(catalog.entries)} model(s) on http://{shown}:{port}/ (Ctrl-C stops)", flush=True)
    config = uvicorn.Config(app, log_config=None, access_log=False, timeout_graceful_shutdown=5)
    uvicorn.Server(config).run(sockets=[sock])
    return 0


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket (bound here, so --port 0 can print the port it got)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"--host {host}: not an address of this machine ({exc.strerror})") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}"
                          + ("; another server holds the port: pick another with --port" if exc.errno == 98 else "")
                          ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _loopback(host: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
