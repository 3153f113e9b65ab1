// The pre/post-processing contract of docs/preprocessing.md in JavaScript: the page runs these
// steps in the browser, and tests/web/contract.test.mjs holds them to tests/golden/ under Node.
//
// Exactness: every float32 step is wrapped in Math.fround (JavaScript numbers are binary64, and
// the engine never fuses a multiply-add), every float64 step is written in the order the
// document gives, and integer divisions use `idiv` (exact for any safe integer). So tensors are
// bit-equal to Python's and pixels equal. No DOM here: the module runs in a page and in Node.
//
// An image is {height, width, data}: data a Uint8Array of height * width * 3 values, row-major,
// R, G, B per pixel (fromRGBA drops a canvas's alpha).

const f32 = Math.fround;

export const LAYOUTS = Object.freeze(["NCHW", "NHWC"]);
export const MODES = Object.freeze(["fit", "tile", "native"]);

function check(condition, message) {
  if (!condition) throw new Error(message);
}

/** Integer division of non-negative integers, rounding down; exact where a / b might round up. */
export function idiv(a, b) {
  return (a - (a % b)) / b;
}

export function makeImage(height, width, data) {
  const pixels = data ?? new Uint8Array(height * width * 3);
  check(Number.isInteger(height) && Number.isInteger(width) && height >= 1 && width >= 1,
        `image size must be two positive integers, got ${height}x${width}`);
  check(pixels.length === height * width * 3, `expected ${height * width * 3} RGB values, got ${pixels.length}`);
  return {height, width, data: pixels};
}

/** RGBA bytes (a canvas's ImageData) -> an RGB image; the alpha is dropped, not composited. */
export function fromRGBA(rgba, width, height) {
  const out = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; j < out.length; i += 4, j += 3) {
    out[j] = rgba[i];
    out[j + 1] = rgba[i + 1];
    out[j + 2] = rgba[i + 2];
  }
  return makeImage(height, width, out);
}

/** An RGB image -> RGBA bytes with alpha 255 (for ImageData). */
export function toRGBA(image) {
  const {data} = image;
  const out = new Uint8ClampedArray(image.width * image.height * 4);
  for (let i = 0, j = 0; j < data.length; i += 4, j += 3) {
    out[i] = data[j];
    out[i + 1] = data[j + 1];
    out[i + 2] = data[j + 2];
    out[i + 3] = 255;
  }
  return out;
}

// ---------------------------------------------------------------- 2. pixels to tensor

/** span = f32(hi - lo); x = f32(f32(f32(v * span) / 255) + lo), for every level v. */
export function levelTable(range) {
  const lo = f32(range[0]);
  const hi = f32(range[1]);
  const span = f32(hi - lo);
  const table = new Float32Array(256);
  for (let v = 0; v < 256; v++) table[v] = f32(f32(f32(v * span) / 255) + lo);
  return table;
}

/** An RGB image -> a Float32Array of shape (1, 3, H, W) (NCHW) or (1, H, W, 3) (NHWC) in `range`. */
export function toTensor(image, range, layout = "NCHW") {
  check(LAYOUTS.includes(layout), `image layout must be one of ${LAYOUTS.join(", ")}, got ${layout}`);
  const {height: h, width: w, data} = image;
  const table = levelTable(range);
  const out = new Float32Array(3 * h * w);
  if (layout === "NHWC") {
    for (let i = 0; i < out.length; i++) out[i] = table[data[i]];
    return out;
  }
  const plane = h * w;
  for (let p = 0, i = 0; p < plane; p++, i += 3) {
    out[p] = table[data[i]];
    out[plane + p] = table[data[i + 1]];
    out[2 * plane + p] = table[data[i + 2]];
  }
  return out;
}

// ---------------------------------------------------------------- 3. tensor to pixels

/** u = f32(f32(f32(y - lo) * 255) / f32(hi - lo)); v = floor(u + 0.5) in f64; NaN -> 0; clamp to 0..255. */
export function toLevel(y, lo, span) {
  const u = f32(f32(f32(y - lo) * 255) / span);
  const v = Math.floor(u + 0.5);
  if (Number.isNaN(v)) return 0;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** A (1, 3, H, W) or (1, H, W, 3) tensor (any array of float32 values) -> an RGB image. */
export function toPixels(tensor, height, width, range, layout = "NCHW") {
  check(LAYOUTS.includes(layout), `image layout must be one of ${LAYOUTS.join(", ")}, got ${layout}`);
  check(tensor.length === 3 * height * width,
        `expected ${3 * height * width} values for a ${height}x${width} RGB image, got ${tensor.length}`);
  const lo = f32(range[0]);
  const span = f32(f32(range[1]) - lo);
  const out = new Uint8Array(3 * height * width);
  if (layout === "NHWC") {
    for (let i = 0; i < out.length; i++) out[i] = toLevel(tensor[i], lo, span);
  } else {
    const plane = height * width;
    for (let p = 0, i = 0; p < plane; p++, i += 3) {
      out[i] = toLevel(tensor[p], lo, span);
      out[i + 1] = toLevel(tensor[plane + p], lo, span);
      out[i + 2] = toLevel(tensor[2 * plane + p], lo, span);
    }
  }
  return makeImage(height, width, out);
}

// ---------------------------------------------------------------- 4. the resampler

/** For each output index: the first input index and the normalised tap weights (all float64). */
export function axisWeights(nIn, nOut) {
  check(nIn >= 1 && nOut >= 1, `cannot resize ${nIn} pixels to ${nOut}`);
  const scale = nIn / nOut;
  const support = Math.max(scale, 1.0);
  const firsts = [];
  const weights = [];
  for (let i = 0; i < nOut; i++) {
    const centre = (i + 0.5) * scale;
    const first = Math.max(0, Math.floor(centre - support + 0.5));
    const last = Math.min(nIn, Math.floor(centre + support + 0.5));
    const w = [];
    for (let j = first; j < last; j++) {
      const t = Math.abs(((j + 0.5) - centre) / support);
      w.push(t < 1.0 ? 1.0 - t : 0.0);
    }
    let total = 0.0;
    for (const x of w) total = total + x;
    firsts.push(first);
    weights.push(w.map((x) => x / total));
  }
  return {firsts, weights};
}

function resamplePass(src, rows, cols, nOut, alongColumns) {
  const {firsts, weights} = axisWeights(alongColumns ? cols : rows, nOut);
  if (alongColumns) {                       // (rows, cols, 3) -> (rows, nOut, 3)
    const out = new Float64Array(rows * nOut * 3);
    for (let y = 0; y < rows; y++) {
      const base = y * cols * 3;
      for (let x = 0; x < nOut; x++) {
        const first = firsts[x];
        const w = weights[x];
        for (let c = 0; c < 3; c++) {
          let acc = 0.0;
          for (let k = 0; k < w.length; k++) acc = acc + w[k] * src[base + (first + k) * 3 + c];
          out[(y * nOut + x) * 3 + c] = acc;
        }
      }
    }
    return out;
  }
  const out = new Float64Array(nOut * cols * 3);  // (rows, cols, 3) -> (nOut, cols, 3)
  const stride = cols * 3;
  for (let y = 0; y < nOut; y++) {
    const first = firsts[y];
    const w = weights[y];
    for (let i = 0; i < stride; i++) {
      let acc = 0.0;
      for (let k = 0; k < w.length; k++) acc = acc + w[k] * src[(first + k) * stride + i];
      out[y * stride + i] = acc;
    }
  }
  return out;
}

/** Resize an RGB image to [h, w]: columns first, then rows, in float64, one rounding at the end. */
export function resize(image, size) {
  const [h, w] = size;
  const {height: h0, width: w0, data} = image;
  if (h === h0 && w === w0) return makeImage(h0, w0, data.slice());
  let x = Float64Array.from(data);
  let cols = w0;
  if (w !== w0) {
    x = resamplePass(x, h0, w0, w, true);
    cols = w;
  }
  if (h !== h0) x = resamplePass(x, h0, cols, h, false);
  const out = new Uint8Array(h * w * 3);
  for (let i = 0; i < out.length; i++) {
    const v = Math.floor(x[i] + 0.5);
    out[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return makeImage(h, w, out);
}

// ---------------------------------------------------------------- 5. modes

function checkSize(what, size) {
  check(size.length === 2 && Number.isInteger(size[0]) && Number.isInteger(size[1]) && Math.min(...size) >= 1,
        `${what} size must be two positive integers, got ${size}`);
}

/** fit: the photo resized to (h, w) sits at (top, left) inside the model's (H, W). */
export function fitPlan(photo, model) {
  checkSize("photo", photo);
  checkSize("model", model);
  const [h0, w0] = photo;
  const [mh, mw] = model;
  let h;
  let w;
  if (h0 * mw >= w0 * mh) {
    h = mh;
    w = Math.min(mw, Math.max(1, idiv(2 * w0 * mh + h0, 2 * h0)));
  } else {
    w = mw;
    h = Math.min(mh, Math.max(1, idiv(2 * h0 * mw + w0, 2 * w0)));
  }
  return {photo: [h0, w0], model: [mh, mw], h, w, top: idiv(mh - h, 2), left: idiv(mw - w, 2)};
}

/** canvas[y][x] = image[clamp(y - top, 0, h - 1)][clamp(x - left, 0, w - 1)] at `size`. */
export function padEdge(image, size, top = 0, left = 0) {
  const [H, W] = size;
  const {height: h, width: w, data} = image;
  const out = new Uint8Array(H * W * 3);
  for (let y = 0; y < H; y++) {
    const sy = Math.min(Math.max(y - top, 0), h - 1);
    for (let x = 0; x < W; x++) {
      const sx = Math.min(Math.max(x - left, 0), w - 1);
      const s = (sy * w + sx) * 3;
      const d = (y * W + x) * 3;
      out[d] = data[s];
      out[d + 1] = data[s + 1];
      out[d + 2] = data[s + 2];
    }
  }
  return makeImage(H, W, out);
}

/** Rows top..top+h-1, columns left..left+w-1 of an image. */
export function crop(image, top, left, h, w) {
  const out = new Uint8Array(h * w * 3);
  for (let y = 0; y < h; y++) {
    const s = ((top + y) * image.width + left) * 3;
    out.set(image.data.subarray(s, s + w * 3), y * w * 3);
  }
  return makeImage(h, w, out);
}

export function letterbox(image, plan) {
  return padEdge(resize(image, [plan.h, plan.w]), plan.model, plan.top, plan.left);
}

export function unletterbox(outPixels, plan) {
  return resize(crop(outPixels, plan.top, plan.left, plan.h, plan.w), plan.photo);
}

export function defaultOverlap(tile) {
  return idiv(tile, 4);
}

export function tileStarts(length, tile, overlap) {
  if (length <= tile) return [0];
  const step = tile - overlap;
  const n = 1 + idiv(length - tile + step - 1, step);
  const starts = [];
  for (let i = 0; i < n; i++) starts.push(idiv(2 * i * (length - tile) + (n - 1), 2 * (n - 1)));
  return starts;
}

/** w(p) = min(1, (p + 0.5) / o, (t - p - 0.5) / o); all 1 when o is 0. */
export function ramp(tile, overlap) {
  const out = [];
  for (let p = 0; p < tile; p++) {
    out.push(overlap === 0 ? 1.0 : Math.min(1.0, (p + 0.5) / overlap, (tile - p - 0.5) / overlap));
  }
  return out;
}

export function tilePlan(photo, tile, overlap) {
  checkSize("photo", photo);
  checkSize("tile", tile);
  const ov = overlap ?? [defaultOverlap(tile[0]), defaultOverlap(tile[1])];
  for (let a = 0; a < 2; a++) {
    check(ov[a] >= 0 && ov[a] < tile[a],
          `tile overlap must be between 0 and the tile side - 1 (${tile[a] - 1}), got ${ov[a]}`);
  }
  const padded = [Math.max(photo[0], tile[0]), Math.max(photo[1], tile[1])];
  return {photo: [photo[0], photo[1]], tile: [tile[0], tile[1]], overlap: [ov[0], ov[1]], padded,
          ys: tileStarts(padded[0], tile[0], ov[0]), xs: tileStarts(padded[1], tile[1], ov[1]),
          wy: ramp(tile[0], ov[0]), wx: ramp(tile[1], ov[1])};
}

/** (top, left) of every tile, rows first: the order tiles are run and summed in. */
export function tileBoxes(plan) {
  const boxes = [];
  for (const y of plan.ys) for (const x of plan.xs) boxes.push([y, x]);
  return boxes;
}

/** The running weighted sums of `blend`: add each tile's output in box order, then finish. */
export class Blender {
  constructor(plan) {
    this.plan = plan;
    const [hp, wp] = plan.padded;
    this.acc = new Float64Array(3 * hp * wp);
    this.wsum = new Float64Array(hp * wp);
  }

  /** One tile's output tensor (th * tw * 3 float32 values in `layout`) with its box's top-left. */
  add(box, tensor, layout = "NCHW") {
    const [th, tw] = this.plan.tile;
    const [hp, wp] = this.plan.padded;
    const {wy, wx} = this.plan;
    check(tensor.length === 3 * th * tw, `a tile's output must hold ${3 * th * tw} values, got ${tensor.length}`);
    const [y0, x0] = box;
    const plane = hp * wp;
    for (let p = 0; p < th; p++) {
      for (let q = 0; q < tw; q++) {
        const w = wy[p] * wx[q];
        const at = (y0 + p) * wp + (x0 + q);
        for (let c = 0; c < 3; c++) {
          const v = layout === "NHWC" ? tensor[(p * tw + q) * 3 + c] : tensor[c * th * tw + p * tw + q];
          this.acc[c * plane + at] = this.acc[c * plane + at] + w * v;
        }
        this.wsum[at] = this.wsum[at] + w;
      }
    }
  }

  /** f32(acc / wsum) per value, section 3 to pixels, the top-left photo-sized crop. */
  finish(outRange) {
    const [hp, wp] = this.plan.padded;
    const plane = hp * wp;
    const mean = new Float32Array(3 * plane);
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < plane; i++) mean[c * plane + i] = this.acc[c * plane + i] / this.wsum[i];
    }
    const pixels = toPixels(mean, hp, wp, outRange, "NCHW");
    return crop(pixels, 0, 0, this.plan.photo[0], this.plan.photo[1]);
  }
}

/** Tile outputs (NCHW tensors, in box order) -> the blended photo. */
export function blend(plan, outputs, outRange, layout = "NCHW") {
  const blender = new Blender(plan);
  const boxes = tileBoxes(plan);
  check(outputs.length === boxes.length, `expected ${boxes.length} tile outputs, got ${outputs.length}`);
  boxes.forEach((box, k) => blender.add(box, outputs[k], layout));
  return blender.finish(outRange);
}

/** native: each side rounded up to `multiple`, and at least `minimum` (itself rounded up). */
export function nativeSize(photo, multiple = 1, minimum = 1) {
  checkSize("photo", photo);
  const up = (s) => idiv(s + multiple - 1, multiple) * multiple;
  return [Math.max(up(photo[0]), up(minimum)), Math.max(up(photo[1]), up(minimum))];
}

// ---------------------------------------------------------------- running a model through a plan
// `infer(canvas)` takes the model's input pixels and resolves to {tensor, layout}: the output
// tensor as float32 values in `layout` (the caller builds the input tensor and other inputs).
// `clock` (optional) gets ("pre" | "infer" | "post", milliseconds) for each stretch of work.

function timer(clock) {
  let last = clock ? performance.now() : 0;
  return (what) => {
    if (!clock) return;
    const now = performance.now();
    clock(what, now - last);
    last = now;
  };
}

export async function runFit(image, model, infer, outRange, clock) {
  const lap = timer(clock);
  const plan = fitPlan([image.height, image.width], model);
  const canvas = letterbox(image, plan);
  lap("pre");
  const out = await infer(canvas, lap);
  lap("infer");
  const result = unletterbox(toPixels(out.tensor, model[0], model[1], outRange, out.layout), plan);
  lap("post");
  return result;
}

export async function runTile(image, tile, infer, outRange, overlap, clock) {
  const lap = timer(clock);
  const plan = tilePlan([image.height, image.width], tile, overlap);
  const canvas = padEdge(image, plan.padded);
  const blender = new Blender(plan);
  lap("pre");
  for (const [y, x] of tileBoxes(plan)) {
    const piece = crop(canvas, y, x, tile[0], tile[1]);
    lap("pre");
    const out = await infer(piece, lap);
    lap("infer");
    blender.add([y, x], out.tensor, out.layout);
    lap("post");
  }
  const result = blender.finish(outRange);
  lap("post");
  return result;
}

export async function runNative(image, multiple, minimum, infer, outRange, clock) {
  const lap = timer(clock);
  const size = nativeSize([image.height, image.width], multiple, minimum);
  const canvas = padEdge(image, size);
  lap("pre");
  const out = await infer(canvas, lap);
  lap("infer");
  const result = crop(toPixels(out.tensor, size[0], size[1], outRange, out.layout), 0, 0, image.height, image.width);
  lap("post");
  return result;
}
