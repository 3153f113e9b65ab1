// The page: a photo (file or webcam), a model (from the export folders' manifests), where it runs
// (in this browser with onnxruntime-web or LiteRT.js, or on the server), the result beside the
// input, the time split into pre-process / inference / post-process, and the PSNR between the
// browser's and the server's result once both have run on the same photo and settings.
// Elements carry data-testid hooks (upload, model, runtime, run, result, timing, ...) for tests
// and for users' own automation; window.pix2mobile exposes the last run's numbers.

import * as contract from "./contract.js";
import * as runtimes from "./runtimes.js";

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
const RUNTIME_NAMES = {"onnxruntime-web": "onnxruntime-web", litert: "LiteRT.js"};

const state = {
  catalog: null,
  photo: null,           // {image, bytes (Blob sent to the server), name, id}
  photos: 0,
  seed: 0,
  results: new Map(),    // job key -> {server: run, browser: Map(runtime key -> run)}
  runs: 0,
  last: null,
  stream: null,
};
window.pix2mobile = state;
const runtimesOpened = new Set();    // artifact URLs whose engine this page has opened

// ------------------------------------------------------------------------------ helpers

function status(text, isError = false) {
  const el = $("status");
  el.textContent = text;
  el.classList.toggle("error", isError);
}

function entry() {
  return state.catalog.models.find((m) => m.id === $("model").value);
}

function variant() {
  const e = entry();
  const direction = $("direction").value;
  return e.variants.find((v) => (v.direction ?? "") === (e.directions.length ? direction : "")) ?? e.variants[0];
}

function imageSize(tensor) {
  return tensor.layout === "NHWC" ? [tensor.shape[1], tensor.shape[2]] : [tensor.shape[2], tensor.shape[3]];
}

function isImage(tensor) {
  return tensor.layout === "NCHW" || tensor.layout === "NHWC";
}

function family() {
  return entry().family;
}

function takesPhoto() {
  return variant().io.inputs.some(isImage);
}

function takesLatent() {
  return variant().io.inputs.some((t) => t.layout === "NC");
}

function drawImage(canvas, image) {
  canvas.width = image.width;
  canvas.height = image.height;
  canvas.getContext("2d").putImageData(new ImageData(contract.toRGBA(image), image.width, image.height), 0, 0);
}

async function decodeBlob(blob) {
  const bitmap = await createImageBitmap(blob, {imageOrientation: "from-image", premultiplyAlpha: "none",
                                                colorSpaceConversion: "none"});
  const canvas = document.createElement("canvas");
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const ctx = canvas.getContext("2d", {willReadFrequently: true});
  ctx.fillStyle = "#fff";                       // the contract: alpha over white
  ctx.fillRect(0, 0, bitmap.width, bitmap.height);
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  return contract.fromRGBA(ctx.getImageData(0, 0, canvas.width, canvas.height).data, canvas.width, canvas.height);
}

/** PSNR of two 8-bit images over every channel value, in dB (Infinity when equal). */
export function psnr(a, b) {
  if (a.width !== b.width || a.height !== b.height) return NaN;
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = a.data[i] - b.data[i];
    sum += d * d;
  }
  const mse = sum / a.data.length;
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}

function fmt(ms) {
  return ms === undefined || ms === null ? "–" : `${ms.toFixed(1)} ms`;
}

// ------------------------------------------------------------------------------ controls

function fillModels() {
  const select = $("model");
  select.replaceChildren(...state.catalog.models.map((m) => {
    const size = m.size ? ` ${m.size[0]}×${m.size[1]}` : "";
    return new Option(`${m.name}: ${m.family}/${m.arch}${size}`, m.id);
  }));
  onModel();
}

function onModel() {
  const e = entry();
  const directions = $("direction");
  directions.replaceChildren(...e.directions.map((d) => new Option(d === "a2b" ? "A → B (a2b)" : "B → A (b2a)", d)));
  document.querySelector("label.direction").hidden = e.directions.length < 2;
  state.seed = 0;
  fillRuntimes();
}

function fillRuntimes() {
  const v = variant();
  const previous = $("runtime").value;
  const options = [];
  for (const a of v.artifacts) {
    const info = state.catalog.runtimes[a.runtime];
    const option = new Option(`in this browser: ${RUNTIME_NAMES[a.runtime]} (WASM), .${a.format} ${a.precision}`,
                              `${a.format}:${a.precision}`);
    if (!info?.available) {
      option.disabled = true;
      option.title = info?.reason ?? "not installed";
      option.textContent += " (not installed on this server)";
    }
    options.push(option);
  }
  const server = new Option(v.server.engine ? `on the server: ${v.server.engine === "eager" ? "eager PyTorch" : "ONNX Runtime"}`
                                            : "on the server: not available", "server");
  server.disabled = !v.server.engine;
  server.title = v.server.label ?? v.server.note ?? "";
  options.push(server);
  $("runtime").replaceChildren(...options);
  const keep = options.find((o) => o.value === previous && !o.disabled) ?? options.find((o) => !o.disabled);
  if (keep) $("runtime").value = keep.value;
  const morph = !takesPhoto();
  document.querySelector("label.alpha").hidden = !morph;
  document.querySelector("label.mode").hidden = morph;
  for (const el of document.querySelectorAll(".sample")) el.hidden = !takesLatent();
  $("seed").textContent = `z from seed ${state.seed}`;
  const notes = [];
  if (v.server.note) notes.push(`Server: ${v.server.note}.`);
  for (const [name, info] of Object.entries(state.catalog.runtimes)) {
    if (!info.available) notes.push(`${RUNTIME_NAMES[name]}: ${info.reason}.`);
  }
  const versions = Object.entries(state.catalog.runtimes).filter(([, i]) => i.available)
    .map(([name, i]) => `${RUNTIME_NAMES[name]} ${i.version}`).join(", ");
  $("runtimes").textContent = `In-browser runtimes served from this server's npm packages: ${versions || "none"}. ` +
    `Pre/post-processing: docs/preprocessing.md. ${notes.join(" ")}`;
  updateRunButton();
}

function updateRunButton() {
  const option = $("runtime").selectedOptions[0];
  $("run").disabled = !option || option.disabled || (takesPhoto() && !state.photo);
}

async function setPhoto(image, bytes, name) {
  const limit = state.catalog.limits.max_pixels;
  if (image.width * image.height > limit) {
    throw new Error(`the photo has ${image.width * image.height} pixels, over this page's limit of ${limit}`);
  }
  state.photos += 1;
  state.photo = {image, bytes, name, id: state.photos};
  drawImage($("input"), image);
  $("input-caption").textContent = `Input: ${name}, ${image.width}×${image.height}`;
  updateRunButton();
}

async function onUpload() {
  const file = $("upload").files[0];
  if (!file) return;
  try {
    status(`Decoding ${file.name}…`);
    const image = await decodeBlob(file);
    await setPhoto(image, file, file.name);
    status(`${file.name}: ${image.width}×${image.height}. Choose a model and where it runs, then Run.`);
  } catch (e) {
    status(`Cannot use ${file.name}: ${e.message ?? e}`, true);
  }
}

async function onWebcam() {
  try {
    state.stream = await navigator.mediaDevices.getUserMedia({video: true, audio: false});
  } catch (e) {
    status(`No webcam: ${e.message ?? e}`, true);
    return;
  }
  const video = $("video");
  video.srcObject = state.stream;
  video.hidden = false;
  $("input").hidden = true;
  $("capture").hidden = false;
  await video.play();
  status("Webcam on: press “Take the picture”.");
}

async function onCapture() {
  const video = $("video");
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  const ctx = canvas.getContext("2d", {willReadFrequently: true});
  ctx.drawImage(video, 0, 0);
  const image = contract.fromRGBA(ctx.getImageData(0, 0, canvas.width, canvas.height).data, canvas.width, canvas.height);
  const png = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  for (const track of state.stream.getTracks()) track.stop();
  state.stream = null;
  video.hidden = true;
  $("input").hidden = false;
  $("capture").hidden = true;
  await setPhoto(image, png, "webcam.png");
  status(`Webcam picture: ${image.width}×${image.height}.`);
}

// ------------------------------------------------------------------------------ running

function job() {
  const e = entry();
  const v = variant();
  const morph = !takesPhoto();
  const alpha = Number($("alpha").value);
  const mode = morph ? "frame" : $("mode").value;
  const extra = morph ? `alpha=${alpha}` : takesLatent() ? `seed=${state.seed}` : "";
  const key = [morph ? "-" : state.photo.id, e.id, v.direction ?? "", mode, extra].join("|");
  return {entry: e, variant: v, morph, alpha, mode, seed: state.seed, key, runtime: $("runtime").value};
}

/** BicycleGAN's z for the job's seed: the server's draw (as `pix2mobile apply --seed` makes it), so the
 *  browser's and the server's results compare; where nothing runs on the server, the page's own
 *  seeded N(0, 1) draw, clipped to the latent's range. */
async function latent(j, spec) {
  if (j.variant.server.engine) {
    const url = `/api/v1/latent?model=${j.entry.id}&seed=${j.seed}` +
      (j.variant.direction ? `&direction=${j.variant.direction}` : "");
    const response = await fetch(url);
    const body = await response.json();
    if (!response.ok) throw new Error(body.error);
    return Float32Array.from(body.z);
  }
  let a = (j.seed + 0x9e3779b9) >>> 0;             // mulberry32
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (((t ^ (t >>> 14)) >>> 0) + 1) / 4294967297;
  };
  const z = new Float32Array(spec.shape[1]);
  for (let i = 0; i < z.length; i++) {
    const n = Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
    z[i] = Math.min(spec.range[1], Math.max(spec.range[0], n));
  }
  return z;
}

async function runBrowser(j) {
  const [format, precision] = j.runtime.split(":");
  const artifact = j.variant.artifacts.find((a) => a.format === format && a.precision === precision);
  const timing = {pre: 0, infer: 0, post: 0};
  const clock = (what, ms) => { timing[what] += ms; };
  const opened = !runtimesOpened.has(artifact.url);
  status(`Loading ${artifact.file} into ${RUNTIME_NAMES[artifact.runtime]}…`);
  const engine = await runtimes.open(artifact, state.catalog.runtimes);
  runtimesOpened.add(artifact.url);
  status(`Running ${artifact.file} in this browser…`);
  const out = artifact.outputs[0];
  let image;
  if (j.morph) {
    const t0 = performance.now();
    const feeds = {[artifact.inputs[0].name]: Float32Array.of(j.alpha)};
    const t1 = performance.now();
    const result = await engine.run(feeds);
    const t2 = performance.now();
    const [h, w] = imageSize(out);
    image = contract.toPixels(result[out.name], h, w, out.range, out.layout);
    Object.assign(timing, {pre: t1 - t0, infer: t2 - t1, post: performance.now() - t2});
  } else {
    const zSpec = artifact.inputs.find((t) => t.layout === "NC");
    const z = zSpec ? await latent(j, zSpec) : null;
    const imageInput = artifact.inputs.find(isImage);
    const size = imageSize(imageInput);
    const infer = async (canvas, lap) => {
      const feeds = {};
      for (const t of artifact.inputs) {
        feeds[t.name] = isImage(t) ? contract.toTensor(canvas, t.range, t.layout) : z;
      }
      lap("pre");
      const result = await engine.run(feeds);
      return {tensor: result[out.name], layout: out.layout};
    };
    const photo = state.photo.image;
    image = j.mode === "tile" ? await contract.runTile(photo, size, infer, out.range, undefined, clock)
                              : await contract.runFit(photo, size, infer, out.range, clock);
  }
  return {side: "browser", key: j.runtime, label: engine.label, image, timing,
          loadMs: opened ? engine.loadMs : null};
}

function serverTiming(header) {
  const out = {};
  for (const part of (header ?? "").split(",")) {
    const m = /^\s*([\w-]+)\s*;\s*dur=([\d.]+)/.exec(part);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

async function runServer(j) {
  const params = new URLSearchParams({model: j.entry.id});
  if (j.variant.direction) params.set("direction", j.variant.direction);
  if (j.morph) params.set("alpha", String(j.alpha));
  else params.set("mode", j.mode);
  if (takesLatent()) params.set("seed", String(j.seed));
  status("Running on the server…");
  const t0 = performance.now();
  const response = await fetch(`/api/v1/apply?${params}`, {method: "POST", body: j.morph ? null : state.photo.bytes});
  if (!response.ok) {
    const body = await response.json().catch(() => null);
    throw new Error(`the server refused: ${body?.error ?? `HTTP ${response.status}`}`);
  }
  const blob = await response.blob();
  const t1 = performance.now();
  const image = await decodeBlob(blob);
  const st = serverTiming(response.headers.get("Server-Timing"));
  const pre = (st.decode ?? 0) + (st.pre ?? 0);
  const post = (st.post ?? 0) + (st.encode ?? 0);
  const timing = {pre, infer: st.infer, post, network: Math.max(0, t1 - t0 - pre - (st.infer ?? 0) - post)};
  return {side: "server", key: "server", label: j.variant.server.label, image, timing, loadMs: null};
}

function showTiming(run) {
  const t = run.timing;
  const rows = [["pre-process", t.pre], ["inference", t.infer], ["post-process", t.post]];
  if (t.network !== undefined) rows.push(["network, queue, PNG decode", t.network]);
  if (run.loadMs) rows.push(["model load (first run only)", run.loadMs]);
  const where = run.side === "server"
    ? "on the server (pre: decode + the contract's steps before the model; post: the rest + PNG)"
    : "in this browser";
  const table = document.createElement("table");
  table.innerHTML = `<caption>${where}</caption>`;
  for (const [name, ms] of rows) {
    const tr = table.insertRow();
    tr.insertCell().textContent = name;
    const td = tr.insertCell();
    td.className = "ms";
    td.textContent = fmt(ms);
  }
  $("timing").replaceChildren(table);
}

function showPsnr(key) {
  const entryResults = state.results.get(key);
  const lines = [];
  const values = {};
  if (entryResults?.server) {
    for (const [rk, run] of entryResults.browser) {
      const db = psnr(run.image, entryResults.server.image);
      values[rk] = db;
      lines.push(`${run.label} vs the server: ${Number.isFinite(db) ? `${db.toFixed(2)} dB` : "identical (∞ dB)"}`);
    }
  }
  const el = $("psnr");
  el.replaceChildren(...lines.map((l) => Object.assign(document.createElement("div"), {textContent: `PSNR ${l}`})));
  if (!lines.length) el.textContent = "PSNR: run the same photo in the browser and on the server to compare.";
  return values;
}

async function run() {
  const result = $("result");
  if (takesPhoto() && !state.photo) {
    status("Choose a photo first.", true);
    return;
  }
  const j = job();
  result.dataset.state = "running";
  $("run").disabled = true;
  try {
    const r = j.runtime === "server" ? await runServer(j) : await runBrowser(j);
    drawImage(result, r.image);
    const png = await new Promise((resolve) => result.toBlob(resolve, "image/png"));
    const link = $("download");
    if (link.href) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(png);
    const stem = (state.photo?.name ?? "morph").replace(/\.[^.]*$/, "");
    link.download = `${stem}_${j.entry.id}${j.variant.direction ? `_${j.variant.direction}` : ""}_${r.key.replace(":", "_")}.png`;
    link.hidden = false;
    $("result-caption").textContent = `Result: ${r.label}, ${r.image.width}×${r.image.height}`;
    if (!state.results.has(j.key)) state.results.set(j.key, {server: null, browser: new Map()});
    const slot = state.results.get(j.key);
    if (r.side === "server") slot.server = r;
    else slot.browser.set(r.key, r);
    showTiming(r);
    const psnrs = showPsnr(j.key);
    state.last = {runtime: r.key, label: r.label, timing: r.timing, loadMs: r.loadMs, psnr: psnrs,
                  width: r.image.width, height: r.image.height, job: j.key};
    result.dataset.state = "done";
    status(`Done: ${r.label}.`);
  } catch (e) {
    result.dataset.state = "error";
    status(`Could not run: ${e.message ?? e}`, true);
    state.last = {runtime: j.runtime, error: String(e.message ?? e)};
  } finally {
    state.runs += 1;
    result.dataset.runs = String(state.runs);
    updateRunButton();
  }
}

// ------------------------------------------------------------------------------ start

async function start() {
  $("upload").addEventListener("change", onUpload);
  $("webcam").addEventListener("click", onWebcam);
  $("capture").addEventListener("click", onCapture);
  $("model").addEventListener("change", onModel);
  $("direction").addEventListener("change", fillRuntimes);
  $("runtime").addEventListener("change", updateRunButton);
  $("run").addEventListener("click", run);
  $("alpha").addEventListener("input", () => { $("alpha-value").textContent = Number($("alpha").value).toFixed(2); });
  $("alpha").addEventListener("change", () => { if (!$("run").disabled) run(); });
  $("sample").addEventListener("click", () => {
    state.seed += 1;
    $("seed").textContent = `z from seed ${state.seed}`;
    if (!$("run").disabled) run();
  });
  try {
    const response = await fetch("/api/v1/models");
    state.catalog = await response.json();
    if (!response.ok) throw new Error(state.catalog.error);
  } catch (e) {
    status(`Cannot load the model list: ${e.message ?? e}`, true);
    return;
  }
  if (!state.catalog.models.length) {
    status("This server has no models.", true);
    return;
  }
  fillModels();
  document.body.dataset.ready = "true";
  status(state.catalog.models.some((m) => m.variants[0].io.inputs.some(isImage))
    ? "Choose a photo (or the webcam), a model and where it runs, then Run."
    : "Choose a model and where it runs, then Run.");
}

start();
