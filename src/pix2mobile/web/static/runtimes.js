// The two in-browser runtimes behind one interface: open(artifact) -> an engine whose
// run({name: Float32Array}) resolves to {name: Float32Array}, tensors in the artifact's own layout
// (the manifest row says NCHW or NHWC for each). Both are WebAssembly on the CPU, loaded from this
// server's /vendor/ (the npm packages installed next to pix2mobile), never from a CDN.
//
// - .onnx: onnxruntime-web, its WASM execution provider.
// - .tflite: LiteRT.js (@litertjs/core), accelerator "wasm" (XNNPACK).
// Threads: the server sends COOP/COEP headers, so the page is cross-origin isolated and both may
// use SharedArrayBuffer threads; one per core, at most 4.

export const THREADS = globalThis.crossOriginIsolated ? Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1)) : 1;

const engines = new Map();
let litertLoaded = null;

async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) {
    const body = await response.json().catch(() => null);
    throw new Error(body?.error ?? `${url}: HTTP ${response.status}`);
  }
  return new Uint8Array(await response.arrayBuffer());
}

function count(shape) {
  return shape.reduce((a, b) => a * b, 1);
}

/** The engine of one artifact (opened once per page, then reused). */
export function open(artifact, versions) {
  if (!engines.has(artifact.url)) {
    const opener = artifact.runtime === "onnxruntime-web" ? openOnnx : openLiteRt;
    const promise = opener(artifact, versions[artifact.runtime] ?? {});
    promise.catch(() => engines.delete(artifact.url));
    engines.set(artifact.url, promise);
  }
  return engines.get(artifact.url);
}

async function openOnnx(artifact, info) {
  const t0 = performance.now();
  let ort;
  try {
    ort = await import("/vendor/onnxruntime-web/ort.wasm.min.mjs");
  } catch (e) {
    throw new Error(`onnxruntime-web is not installed on this server (${e.message})`);
  }
  ort.env.wasm.wasmPaths = "/vendor/onnxruntime-web/";
  ort.env.wasm.numThreads = THREADS;
  const bytes = await fetchBytes(artifact.url);
  let session;
  try {
    session = await ort.InferenceSession.create(bytes, {executionProviders: ["wasm"], graphOptimizationLevel: "all"});
  } catch (e) {
    throw new Error(`onnxruntime-web cannot load ${artifact.file}: ${e.message ?? e}`);
  }
  const names = artifact.inputs.map((t) => t.name);
  const missing = names.filter((n) => !session.inputNames.includes(n));
  if (missing.length) throw new Error(`${artifact.file} has inputs ${session.inputNames}, the manifest says ${names}`);
  return {
    label: `onnxruntime-web ${info.version ?? ""} (WASM, ${THREADS} thread${THREADS > 1 ? "s" : ""}), .onnx ${artifact.precision}`,
    loadMs: performance.now() - t0,
    async run(feeds) {
      const inputs = {};
      for (const t of artifact.inputs) inputs[t.name] = new ort.Tensor("float32", feeds[t.name], t.shape);
      const out = await session.run(inputs);
      const result = {};
      for (const t of artifact.outputs) {
        const data = out[t.name].data;
        if (!(data instanceof Float32Array) || data.length !== count(t.shape)) {
          throw new Error(`${artifact.file}: output ${t.name} is not ${count(t.shape)} float32 values`);
        }
        result[t.name] = data;
      }
      return result;
    },
  };
}

async function openLiteRt(artifact, info) {
  const t0 = performance.now();
  let litert;
  try {
    litert = await import("/vendor/litert/index.js");
  } catch (e) {
    throw new Error(`LiteRT.js (@litertjs/core) is not installed on this server (${e.message})`);
  }
  if (!litertLoaded) {
    litertLoaded = litert.loadLiteRt("/vendor/litert-wasm/", {threads: THREADS > 1});
    litertLoaded.catch(() => { litertLoaded = null; });
  }
  await litertLoaded;
  const bytes = await fetchBytes(artifact.url);
  let model;
  try {
    model = await litert.loadAndCompile(bytes, {accelerator: "wasm", cpuOptions: {numThreads: THREADS}});
  } catch (e) {
    throw new Error(`LiteRT.js cannot load ${artifact.file}: ${e.message ?? e}`);
  }
  const have = model.getInputDetails().map((d) => d.name);
  const names = artifact.inputs.map((t) => t.name);
  const missing = names.filter((n) => !have.includes(n));
  if (missing.length) throw new Error(`${artifact.file} has inputs ${have}, the manifest says ${names}`);
  return {
    label: `LiteRT.js ${info.version ?? ""} (WASM, XNNPACK, ${THREADS} thread${THREADS > 1 ? "s" : ""}), .tflite ${artifact.precision}`,
    loadMs: performance.now() - t0,
    async run(feeds) {
      const inputs = {};
      for (const t of artifact.inputs) inputs[t.name] = new litert.Tensor(feeds[t.name], t.shape);
      let out = null;
      try {
        out = await model.run(inputs);
        const result = {};
        for (const t of artifact.outputs) {
          const tensor = out[t.name];
          if (!tensor) throw new Error(`${artifact.file} returned ${Object.keys(out)}, not ${t.name}`);
          const data = tensor.toTypedArray();
          if (!(data instanceof Float32Array) || data.length !== count(t.shape)) {
            throw new Error(`${artifact.file}: output ${t.name} is not ${count(t.shape)} float32 values`);
          }
          result[t.name] = new Float32Array(data);          // a copy: the tensor's memory is freed below
        }
        return result;
      } finally {
        for (const tensor of Object.values(inputs)) tensor.delete();
        for (const tensor of Object.values(out ?? {})) tensor.delete();
      }
    },
  };
}
