"""`pix2mobile serve`: the style-transfer page and its JSON API.

The page (`static/`) runs an export folder's `.onnx` in the visitor's browser with onnxruntime-web
and its `.tflite` with LiteRT.js, both WebAssembly, through the same pre/post-processing contract
as every other consumer (`static/contract.js`, held to `tests/golden/`). The server runs the same
model as the reference: eager PyTorch when the manifest's checkpoint is on this machine (and its
sha256 still matches), else the folder's `.onnx`, through `pipelines.apply`, so its result for a
photo is `pix2mobile apply`'s.

- `catalog`: the export folders given on the command line -> models, their browser artifacts and
  their server-side engine; nothing outside those folders is ever served.
- `photos`: request bytes -> pixels (size and pixel guards first, decoded in memory) and PNG out.
- `assets`: the page's files and the npm packages it loads (installed by `npm ci`, never a CDN).
- `app`: the ASGI application (Starlette on uvicorn) with its routes and refusals.

A consumer layer: nothing below `pix2mobile.commands` imports this package.
"""
