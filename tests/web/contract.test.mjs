// The page's contract module (src/pix2mobile/web/static/contract.js) against tests/golden/:
// tensors bit-equal (their float32 bits), pixels equal, plans equal. Run: node --test tests/web/
import assert from "node:assert/strict";
import {readFileSync} from "node:fs";
import {dirname, join} from "node:path";
import {test} from "node:test";
import {fileURLToPath} from "node:url";

import * as contract from "../../src/pix2mobile/web/static/contract.js";
import {readNpy} from "./npy.mjs";

const GOLDEN = join(dirname(fileURLToPath(import.meta.url)), "..", "golden");
const load = (...parts) => readNpy(join(GOLDEN, ...parts));
const json = (...parts) => JSON.parse(readFileSync(join(GOLDEN, ...parts), "utf8"));
const caseOf = (name) => json(name, "case.json");
const INDEX = json("index.json");

function image(npy) {
  assert.equal(npy.dtype, "uint8");
  assert.equal(npy.shape.length, 3);
  assert.equal(npy.shape[2], 3);
  return contract.makeImage(npy.shape[0], npy.shape[1], npy.data);
}

function pixelsEqual(got, want, what) {
  assert.deepEqual([got.height, got.width], [want.shape[0], want.shape[1]], `${what}: size`);
  let differ = 0;
  for (let i = 0; i < got.data.length; i++) if (got.data[i] !== want.data[i]) differ++;
  assert.equal(differ, 0, `${what}: ${differ} of ${got.data.length} values differ`);
}

function bitsEqual(got, want, what) {
  assert.equal(want.dtype, "float32");
  assert.ok(got instanceof Float32Array, `${what}: not a Float32Array`);
  assert.equal(got.length, want.data.length, `${what}: length`);
  const a = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const b = new Uint32Array(want.data.buffer, want.data.byteOffset, want.data.length);
  let differ = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) differ++;
  assert.equal(differ, 0, `${what}: ${differ} of ${a.length} values differ in their bits`);
}

test("the index lists the families and cases these tests cover", () => {
  assert.deepEqual(INDEX.families, ["fast_style", "cyclegan", "bicyclegan", "morph"]);
  assert.deepEqual(INDEX.cases, ["native", "tile", "resize", "pixels"]);
  assert.equal(INDEX.contract, "docs/preprocessing.md");
});

for (const family of INDEX.families.filter((f) => f !== "morph")) {
  test(`fit case: ${family}`, () => {
    const c = caseOf(family);
    const photo = image(load("photo.npy"));
    const plan = contract.fitPlan([photo.height, photo.width], c.model);
    assert.deepEqual(plan, c.plan);
    const canvas = contract.letterbox(photo, plan);
    pixelsEqual(canvas, load(family, "canvas.npy"), "canvas");
    const inRange = c.io.inputs[0].range;
    bitsEqual(contract.toTensor(canvas, inRange, "NCHW"), load(family, "input_nchw.npy"), "input NCHW");
    bitsEqual(contract.toTensor(canvas, inRange, "NHWC"), load(family, "input_nhwc.npy"), "input NHWC");
    const outRange = c.io.outputs[0].range;
    const [h, w] = c.model;
    const pixels = contract.toPixels(load(family, "output_nchw.npy").data, h, w, outRange, "NCHW");
    pixelsEqual(pixels, load(family, "output_pixels.npy"), "output pixels (NCHW)");
    pixelsEqual(contract.toPixels(load(family, "output_nhwc.npy").data, h, w, outRange, "NHWC"),
                load(family, "output_pixels.npy"), "output pixels (NHWC)");
    pixelsEqual(contract.unletterbox(pixels, plan), load(family, "result.npy"), "result");
  });

  test(`runFit drives the same steps: ${family}`, async () => {
    const c = caseOf(family);
    const photo = image(load("photo.npy"));
    const output = load(family, "output_nhwc.npy").data;
    let fed = null;
    const laps = [];
    const result = await contract.runFit(photo, c.model, async (canvas, lap) => {
      fed = contract.toTensor(canvas, c.io.inputs[0].range, "NHWC");
      lap("pre");
      return {tensor: output, layout: "NHWC"};
    }, c.io.outputs[0].range, (what, ms) => laps.push([what, ms]));
    bitsEqual(fed, load(family, "input_nhwc.npy"), "fed input");
    pixelsEqual(result, load(family, "result.npy"), "result");
    assert.deepEqual([...new Set(laps.map(([what]) => what))], ["pre", "infer", "post"]);
    assert.ok(laps.every(([, ms]) => ms >= 0));
  });
}

test("morph case: output to pixels", () => {
  const c = caseOf("morph");
  assert.deepEqual(Array.from(load("morph", "alpha.npy").data), [Math.fround(c.alpha)]);
  const out = load("morph", "output_nchw.npy");
  const [h, w] = [out.shape[2], out.shape[3]];
  const pixels = contract.toPixels(out.data, h, w, c.io.outputs[0].range, "NCHW");
  pixelsEqual(pixels, load("morph", "output_pixels.npy"), "output pixels");
  pixelsEqual(pixels, load("morph", "result.npy"), "result");
  pixelsEqual(contract.toPixels(load("morph", "output_nhwc.npy").data, h, w, c.io.outputs[0].range, "NHWC"),
              load("morph", "result.npy"), "result from NHWC");
});

test("native case: pad to the size multiple, run, crop", async () => {
  const c = caseOf("native");
  const photo = image(load("native", "photo.npy"));
  const size = contract.nativeSize([photo.height, photo.width], c.multiple, c.minimum);
  assert.deepEqual(size, c.padded);
  assert.notDeepEqual(size, [photo.height, photo.width]);
  const canvas = contract.padEdge(photo, size);
  pixelsEqual(canvas, load("native", "canvas.npy"), "canvas");
  bitsEqual(contract.toTensor(canvas, c.io.inputs[0].range), load("native", "input_nchw.npy"), "input");
  const output = load("native", "output_nchw.npy").data;
  const result = await contract.runNative(photo, c.multiple, c.minimum,
                                          async () => ({tensor: output, layout: "NCHW"}), c.io.outputs[0].range);
  pixelsEqual(result, load("native", "result.npy"), "result");
});

test("tile case: plan, tiles, blend", async () => {
  const c = caseOf("tile");
  const photo = image(load("tile", "photo.npy"));
  const p = c.plan;
  const plan = contract.tilePlan([photo.height, photo.width], p.tile, p.overlap);
  assert.deepEqual(plan, p);                 // weights too: the same float64 operations give the same values
  const boxes = contract.tileBoxes(plan);
  assert.equal(boxes.length, 6);
  const canvas = contract.padEdge(photo, plan.padded);
  const tiles = load("tile", "tile_pixels.npy");
  const [th, tw] = p.tile;
  boxes.forEach(([y, x], k) => {
    const piece = contract.crop(canvas, y, x, th, tw);
    const want = tiles.data.subarray(k * th * tw * 3, (k + 1) * th * tw * 3);
    assert.deepEqual(Buffer.from(piece.data), Buffer.from(want), `tile ${k}`);
  });
  const outputs = load("tile", "tile_outputs_nchw.npy");
  const n = th * tw * 3;
  const list = boxes.map((_, k) => outputs.data.subarray(k * n, (k + 1) * n));
  const range = c.io.outputs[0].range;
  pixelsEqual(contract.blend(plan, list, range), load("tile", "result.npy"), "blend");
  let k = 0;
  const result = await contract.runTile(photo, p.tile, async () => ({tensor: list[k++], layout: "NCHW"}),
                                        range, p.overlap);
  pixelsEqual(result, load("tile", "result.npy"), "runTile");
});

test("tile case: the same blend from NHWC tile outputs", () => {
  const c = caseOf("tile");
  const plan = c.plan;
  const [th, tw] = plan.tile;
  const outputs = load("tile", "tile_outputs_nchw.npy");
  const n = th * tw * 3;
  const list = contract.tileBoxes(plan).map((_, k) => {
    const nchw = outputs.data.subarray(k * n, (k + 1) * n);
    const nhwc = new Float32Array(n);
    for (let ch = 0; ch < 3; ch++) for (let i = 0; i < th * tw; i++) nhwc[i * 3 + ch] = nchw[ch * th * tw + i];
    return nhwc;
  });
  pixelsEqual(contract.blend(plan, list, c.io.outputs[0].range, "NHWC"), load("tile", "result.npy"), "blend NHWC");
});

test("large tile plan", () => {
  const big = json("tile", "plan_large.json");
  const plan = contract.tilePlan(big.photo, big.tile);
  assert.deepEqual(plan, big.plan);
  assert.equal(plan.ys.at(-1), 3024 - 256);
  assert.equal(plan.xs.at(-1), 4032 - 256);
});

test("resize cases: weights and pixels", () => {
  const c = caseOf("resize");
  c.cases.forEach((rc, k) => {
    const input = image(load("resize", `case${k}_in.npy`));
    assert.deepEqual([input.height, input.width], rc.in);
    pixelsEqual(contract.resize(input, rc.out), load("resize", `case${k}_out.npy`), `case ${k}`);
    const {firsts, weights} = contract.axisWeights(rc.in[1], rc.out[1]);
    assert.deepEqual(firsts, rc.x_first);
    assert.deepEqual(weights, rc.x_weights);
  });
});

test("pixel cases: every level into each range, edge values back", () => {
  const c = caseOf("pixels");
  const levels = load("pixels", c.levels);
  const img = contract.makeImage(levels.shape[0], levels.shape[1], levels.data);
  for (const rc of c.cases) {
    const tensor = contract.toTensor(img, rc.range);
    bitsEqual(tensor, load("pixels", rc.tensor), `range ${rc.range}: tensor`);
    const values = load("pixels", rc.values);
    const n = values.shape[3];
    const got = contract.toPixels(values.data, 1, n, rc.range, "NCHW");
    pixelsEqual(got, load("pixels", rc.pixels), `range ${rc.range}: pixels`);
    pixelsEqual(contract.toPixels(tensor, 1, 256, rc.range, "NCHW"), levels, `range ${rc.range}: round trip`);
  }
});

test("fromRGBA drops the alpha; toRGBA puts an opaque one back", () => {
  const rgba = new Uint8ClampedArray([1, 2, 3, 0, 250, 251, 252, 128]);
  const img = contract.fromRGBA(rgba, 2, 1);
  assert.deepEqual(Array.from(img.data), [1, 2, 3, 250, 251, 252]);
  assert.deepEqual(Array.from(contract.toRGBA(img)), [1, 2, 3, 255, 250, 251, 252, 255]);
});

test("refusals: bad sizes, layouts and overlaps throw", () => {
  assert.throws(() => contract.fitPlan([0, 4], [8, 8]), /photo size/);
  assert.throws(() => contract.tilePlan([10, 10], [8, 8], [8, 0]), /overlap/);
  assert.throws(() => contract.toTensor(contract.makeImage(1, 1), [0, 1], "CHW"), /layout/);
  assert.throws(() => contract.toPixels(new Float32Array(5), 1, 2, [0, 1]), /expected 6 values/);
  assert.equal(contract.idiv(2 ** 52 + 1, 3), Math.floor((2 ** 52 + 1) / 3));
});
