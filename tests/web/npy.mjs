// A reader for the .npy files of tests/golden/ (version 1.0, little-endian, C order; |u1 or <f4).
import {readFileSync} from "node:fs";

export function readNpy(path) {
  const buf = readFileSync(path);
  const magic = buf.subarray(0, 6).toString("latin1");
  if (magic !== "\x93NUMPY") throw new Error(`${path}: not a .npy file`);
  if (buf[6] !== 1) throw new Error(`${path}: .npy version ${buf[6]}.${buf[7]}, expected 1.0`);
  const headerLength = buf.readUInt16LE(8);
  const header = buf.subarray(10, 10 + headerLength).toString("latin1");
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || fortran !== "False" || shapeText === undefined) throw new Error(`${path}: unexpected header ${header}`);
  const shape = shapeText.split(",").map((s) => s.trim()).filter((s) => s).map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const start = 10 + headerLength;
  const bytes = buf.buffer.slice(buf.byteOffset + start, buf.byteOffset + buf.length);
  if (descr === "|u1") return {dtype: "uint8", shape, data: new Uint8Array(bytes, 0, count)};
  if (descr === "<f4") return {dtype: "float32", shape, data: new Float32Array(bytes.slice(0, count * 4))};
  throw new Error(`${path}: dtype ${descr} is not one the golden files use`);
}
