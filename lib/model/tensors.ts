/**
 * Float tensors in and out of onnxruntime: float32 as is, float16 as IEEE half bits in a Uint16Array
 * (what onnxruntime-node takes and gives for "float16"; Node 20 has no Float16Array).
 */
import ort from "onnxruntime-node";

export type FloatType = "float32" | "float16";

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE 754 binary32 → binary16, round to nearest even; overflow → ±Infinity, NaN kept. */
export function float32ToFloat16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal: signed zero
    mant |= 0x800000; // make the implicit bit explicit, then shift into the subnormal range
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let bits = mant >>> shift;
    if (rest > half || (rest === half && (bits & 1) === 1)) bits += 1;
    return sign | bits;
  }
  let bits = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (bits & 1) === 1)) bits += 1; // may carry into the exponent: correct
  return sign | bits;
}

/** IEEE 754 binary16 bits → number (exact). */
export function float16BitsToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

export function toFloat16Array(data: Float32Array): Uint16Array {
  const out = new Uint16Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = float32ToFloat16Bits(data[i]!);
  return out;
}

export function fromFloat16Array(data: Uint16Array): Float32Array {
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = float16BitsToFloat32(data[i]!);
  return out;
}

export function makeTensor(data: Float32Array, dims: readonly number[], type: FloatType): ort.Tensor {
  return type === "float16"
    ? new ort.Tensor("float16", toFloat16Array(data), dims)
    : new ort.Tensor("float32", data, dims);
}

/** A float32 copy-or-view of an output tensor, whatever float type the graph produced. */
export function readFloat32(tensor: ort.Tensor): Float32Array {
  if (tensor.type === "float32") return tensor.data as Float32Array;
  if (tensor.type === "float16") {
    const data = tensor.data as unknown;
    if (data instanceof Uint16Array) return fromFloat16Array(data);
    return Float32Array.from(data as ArrayLike<number>); // a runtime with Float16Array
  }
  throw new TypeError(`expected a float tensor, got ${tensor.type}`);
}
