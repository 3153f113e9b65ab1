"""The ASGI application: one page, its files, and a small JSON API (Starlette; `serve` runs it on uvicorn).

Routes:
  GET  /                     the page (static/index.html)
  GET  /static/...           the page's own scripts and styles
  GET  /vendor/<name>/...    the npm dist folders the page imports (assets.VENDOR), nothing else
  GET  /healthz              {"status": "ok", "models": N}
  GET  /api/v1/models        the models, their browser artifacts and server engines (from the manifests)
  GET  /api/v1/artifact      ?model=&direction=&format=&precision=: one artifact file, by manifest key
  GET  /api/v1/latent        ?model=&direction=&seed=: BicycleGAN's z for a seed, as `apply --seed` draws it
  POST /api/v1/apply         ?model=&mode=fit|tile&direction=&seed= (photo bytes in, PNG out);
                             the morph: ?model=&alpha= with an empty body

Refusals are JSON {"error": "<one line>"}: 413 for a body over the limit (checked on Content-Length
and again while the body streams in, before it is all read), 415 for bytes that are no image, 400
for a corrupt photo, a photo over the pixel limit (checked on its header, before decoding) and bad
parameters, 404 for an unknown model or route, 409 for a model with no server-side engine. Nothing
is written to disk: the body is read into memory, decoded and encoded there.

Every response carries Cross-Origin-Opener-Policy/Embedder-Policy, so the page is cross-origin
isolated and both WebAssembly runtimes may use threads (SharedArrayBuffer).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import AsyncIterator, Sequence

import anyio
import numpy as np
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pix2mobile.errors import Pix2MobileError
from pix2mobile.pipelines.apply import Model, apply_photo, latents, morph_frames
from pix2mobile.web import assets
from pix2mobile.web.catalog import Catalog, Entry, Variant
from pix2mobile.web.photos import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS, ApiError, decode, encode_png

log = logging.getLogger(__name__)

API_MODES = ("fit", "tile")
MAX_SEED = 2**31 - 1
SECURITY_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@dataclasses.dataclass(frozen=True)
class Settings:
    max_bytes: int = DEFAULT_MAX_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS
    workers: int = 2                   # photos decoded and run at once (each in a worker thread)
    node_modules: Path = assets.NODE_MODULES


class _Headers:
    """Adds SECURITY_HEADERS to every HTTP response (pure ASGI: streaming bodies stay streamed)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for key, value in SECURITY_HEADERS.items():
                    headers.setdefault(key, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers={"Cache-Control": "no-store"})


def create_app(catalog: Catalog, settings: Settings | None = None) -> Starlette:
    """The application serving `catalog` (already opened: engines loaded, artifacts resolved)."""
    import mimetypes

    s = settings or Settings()
    if s.max_bytes < 1 or s.max_pixels < 1 or s.workers < 1:
        raise ValueError(f"max_bytes, max_pixels and workers must be positive, got {s}")
    # the page imports .mjs modules and streams .wasm: browsers insist on these types
    mimetypes.add_type("text/javascript", ".mjs")
    mimetypes.add_type("application/wasm", ".wasm")
    api = _Api(catalog, s)

    routes: list[BaseRoute] = [
        Route("/", api.page),
        Route("/healthz", api.healthz),
        Route("/api/v1/models", api.models),
        Route("/api/v1/artifact", api.artifact),
        Route("/api/v1/latent", api.latent),
        Route("/api/v1/apply", api.apply, methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=assets.STATIC)),
    ]
    routes += [Mount(f"/vendor/{name}", app=StaticFiles(directory=folder))
               for name, folder in assets.vendor_dirs(s.node_modules).items()]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        api.limiter = anyio.CapacityLimiter(s.workers)
        yield

    async def http_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, HTTPException):
            message = {404: f"no such route: {request.method} {request.url.path}",
                       405: f"{request.method} is not allowed on {request.url.path}"}.get(exc.status_code, exc.detail)
            return error(exc.status_code, message)
        return error(500, "internal error")

    async def crash(request: Request, exc: Exception) -> Response:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return error(500, f"internal error ({type(exc).__name__}); the server log has the details")

    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={HTTPException: http_error, Exception: crash})
    app.add_middleware(_Headers)
    return app


class _Api:
    def __init__(self, catalog: Catalog, settings: Settings) -> None:
        self.catalog = catalog
        self.settings = settings
        self.limiter: anyio.CapacityLimiter | None = None
        self.runtimes = assets.runtimes(settings.node_modules)

    # --------------------------------------------------------------------------- pages and lists

    async def page(self, request: Request) -> Response:
        return FileResponse(assets.STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok", "models": len(self.catalog.entries)},
                            headers={"Cache-Control": "no-store"})

    async def models(self, request: Request) -> Response:
        s = self.settings
        return JSONResponse({"models": self.catalog.to_json(),
                             "runtimes": {k: r.to_json() for k, r in self.runtimes.items()},
                             "limits": {"max_bytes": s.max_bytes, "max_pixels": s.max_pixels},
                             "modes": list(API_MODES)},
                            headers={"Cache-Control": "no-store"})

    async def artifact(self, request: Request) -> Response:
        try:
            entry, variant = self._variant(request)
            q = request.query_params
            fmt, precision = q.get("format", ""), q.get("precision", "")
            found = variant.artifact(fmt, precision)
            if found is None:
                have = ", ".join(f"{a.format} {a.precision}" for a in variant.artifacts) or "none"
                raise ApiError(404, f"model '{entry.id}' has no browser artifact {fmt} {precision} (it has: {have})")
            if not found.path.is_file():
                raise ApiError(404, f"{found.path.name} listed in {variant.folder}'s manifest is gone from the folder")
        except ApiError as exc:
            return error(exc.status, exc.message)
        except Pix2MobileError as exc:
            return error(400, str(exc))
        return FileResponse(found.path, media_type="application/octet-stream",
                            headers={"Cache-Control": "no-cache", "X-Pix2mobile-Sha256": found.entry.sha256 or ""})

    async def latent(self, request: Request) -> Response:
        try:
            entry, variant = self._variant(request)
            model = self._server(entry, variant)
            spec = next((t for t in model.io.inputs if t.kind == "latent"), None)
            if spec is None:
                raise ApiError(400, f"model '{entry.id}' ({model.family}) takes no latent z")
            seed = _seed(request)
            z = latents(model, 1, seed)[0]
        except ApiError as exc:
            return error(exc.status, exc.message)
        except Pix2MobileError as exc:
            return error(400, str(exc))
        return JSONResponse({"name": spec.name, "seed": seed, "shape": list(z.shape), "z": z.ravel().tolist()},
                            headers={"Cache-Control": "no-store"})

    # --------------------------------------------------------------------------- running

    async def apply(self, request: Request) -> Response:
        try:
            entry, variant = self._variant(request)
            model = self._server(entry, variant)
            q = request.query_params
            mode = q.get("mode") or "fit"
            if mode not in API_MODES:
                raise ApiError(400, f"mode must be one of {', '.join(API_MODES)}, got '{mode}'")
            morph = model.family == "morph"
            alpha = _alpha(q.get("alpha")) if morph else None
            if not morph and q.get("alpha") is not None:
                raise ApiError(400, f"alpha drives the morph; '{entry.id}' is {model.family}")
            bicycle = any(t.kind == "latent" for t in model.io.inputs)
            if q.get("seed") is not None and not bicycle:
                raise ApiError(400, f"seed draws BicycleGAN's z; '{entry.id}' ({model.family}) takes none")
            seed = _seed(request) if bicycle else None
            body = await _read_body(request, self.settings.max_bytes)
            if morph and body:
                raise ApiError(400, "the morph takes no photo: send an empty body with ?alpha=")
            if self.limiter is None:
                self.limiter = anyio.CapacityLimiter(self.settings.workers)
            work = partial(_run, model, body, mode, alpha, seed, self.settings.max_pixels)
            png, timing = await anyio.to_thread.run_sync(work, limiter=self.limiter)
        except ApiError as exc:
            return error(exc.status, exc.message)
        except Pix2MobileError as exc:
            return error(400, str(exc))
        server_timing = ", ".join(f"{k};dur={v:.2f}" for k, v in timing.items())
        return Response(png, media_type="image/png",
                        headers={"Cache-Control": "no-store", "Server-Timing": server_timing,
                                 "X-Pix2mobile-Engine": variant.engine or ""})

    def _variant(self, request: Request) -> tuple[Entry, Variant]:
        q = request.query_params
        model_id = q.get("model")
        try:
            entry = self.catalog.get(model_id)
        except KeyError:
            raise ApiError(404, f"unknown model '{model_id}' (this server has: "
                                f"{', '.join(self.catalog.entries)})") from None
        return entry, entry.variant(q.get("direction"))

    @staticmethod
    def _server(entry: Entry, variant: Variant) -> Model:
        if variant.server is None:
            raise ApiError(409, f"model '{entry.id}' cannot run on this server ({variant.note}); "
                                "run it in the browser")
        return variant.server


async def _read_body(request: Request, limit: int) -> bytes:
    """The whole body, refused with 413 as soon as it is known to pass `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, f"Content-Length must be a number of bytes, got '{declared}'")
        if int(declared) > limit:
            raise ApiError(413, f"the photo is {int(declared)} bytes, over this server's limit of {limit}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(413, f"the photo is over this server's limit of {limit} bytes")
    return bytes(body)


def _seed(request: Request) -> int:
    text = request.query_params.get("seed") or "0"
    if not text.isdigit() or int(text) > MAX_SEED:
        raise ApiError(400, f"seed must be an integer from 0 to {MAX_SEED}, got '{text}'")
    return int(text)


def _alpha(text: str | None) -> float:
    if text is None:
        raise ApiError(400, "the morph renders one frame per alpha: pass ?alpha= (a number in its range)")
    try:
        value = float(text)
    except ValueError:
        raise ApiError(400, f"alpha must be a number, got '{text}'") from None
    if not math.isfinite(value):
        raise ApiError(400, f"alpha must be a finite number, got '{text}'")
    return value


def _run(model: Model, body: bytes, mode: str, alpha: float | None, seed: int | None,
         max_pixels: int) -> tuple[bytes, dict[str, float]]:
    """Decode, run and encode one request (in a worker thread): PNG bytes and the Server-Timing
    stretches in ms: decode, pre (the contract's steps before the first inference), infer (every
    inference), post (the rest: tile blending, output to pixels, resizing back), encode (PNG)."""
    runs: list[tuple[float, float]] = []
    inner = model.run

    def timed_run(inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        t0 = time.perf_counter()
        try:
            return inner(inputs)
        finally:
            runs.append((t0, time.perf_counter()))

    timed = dataclasses.replace(model, run=timed_run)
    t0 = time.perf_counter()
    pixels = decode(body, max_pixels) if alpha is None else None
    t1 = time.perf_counter()
    if alpha is not None:
        out = morph_frames(timed, [alpha])[0]
    else:
        z = latents(model, 1, seed)[0] if seed is not None else None
        out = apply_photo(timed, pixels, mode, z=z)        # type: ignore[arg-type]
    t2 = time.perf_counter()
    png = encode_png(out)
    t3 = time.perf_counter()
    infer = sum(b - a for a, b in runs)
    pre = (runs[0][0] - t1) if runs else 0.0
    ms = {"decode": t1 - t0, "pre": pre, "infer": infer, "post": max(0.0, (t2 - t1) - pre - infer), "encode": t3 - t2}
    return png, {k: v * 1000.0 for k, v in ms.items()}
