/**
 * The 8×8 DCT of JPEG (orthonormal: F(u,v) = ¼ C(u) C(v) Σ f(x,y) cos((2x+1)uπ/16) cos((2y+1)vπ/16)),
 * as Arai, Agui and Nakajima's factored 8-point transform (5 multiplications and 29 additions a pass), in
 * place on a block of a Float32Array plane: 8 row passes then 8 column passes, no allocation.
 *
 * The factored transform leaves each output scaled: `forwardDct` gives F(u,v) · FORWARD_SCALE[8u+v], and
 * `inverseDct` wants F(u,v) · INVERSE_SCALE[8u+v]. Callers fold those scales into their own per-coefficient
 * tables (quantization steps, bounds), so no pass spends a multiplication on them.
 */

const C4 = Math.SQRT1_2; // cos(π/4)
const C6 = Math.cos((6 * Math.PI) / 16); // 0.3826834
const C2_MINUS_C6 = Math.cos((2 * Math.PI) / 16) - C6; // 0.5411961
const C2_PLUS_C6 = Math.cos((2 * Math.PI) / 16) + C6; // 1.3065630
const TWO_C2 = 2 * Math.cos((2 * Math.PI) / 16); // 1.8477591
const TWO_C2_MINUS_C6 = 2 * (Math.cos((2 * Math.PI) / 16) - C6); // 1.0823922
const TWO_C2_PLUS_C6 = 2 * (Math.cos((2 * Math.PI) / 16) + C6); // 2.6131259
const SQRT2 = Math.SQRT2;

/**
 * The 8×8 block the transforms work on, row-major: a module constant, whose address V8 builds into the
 * code of the passes (a plane passed in is checked and reloaded at each of their 256 reads and writes).
 * Callers copy a block in ({@link loadBlock}), transform it, and copy it out ({@link storeBlock}); the
 * values are rounded to 32 bits between the passes, as in a Float32Array plane. Not exported as such:
 * V8 reads an exported binding from its cell at every use, here too.
 */
const WORK = new Float32Array(64);

/** {@link WORK}, for the callers that read and write the transformed block in place. */
export const BLOCK: Float32Array = WORK;

/** Copies the 8×8 block at `offset` of a plane `stride` values wide into the work block. */
export function loadBlock(plane: Float32Array, offset: number, stride: number): void {
  const block = WORK;
  // A row written out: the plane is checked once a row, not once a value.
  for (let r = 0, o = offset; r < 64; r += 8, o += stride) {
    block[r] = plane[o]!;
    block[r + 1] = plane[o + 1]!;
    block[r + 2] = plane[o + 2]!;
    block[r + 3] = plane[o + 3]!;
    block[r + 4] = plane[o + 4]!;
    block[r + 5] = plane[o + 5]!;
    block[r + 6] = plane[o + 6]!;
    block[r + 7] = plane[o + 7]!;
  }
}

/** Copies the work block into the 8×8 block at `offset` of a plane `stride` values wide. */
export function storeBlock(plane: Float32Array, offset: number, stride: number): void {
  const block = WORK;
  for (let r = 0, o = offset; r < 64; r += 8, o += stride) {
    plane[o] = block[r]!;
    plane[o + 1] = block[r + 1]!;
    plane[o + 2] = block[r + 2]!;
    plane[o + 3] = block[r + 3]!;
    plane[o + 4] = block[r + 4]!;
    plane[o + 5] = block[r + 5]!;
    plane[o + 6] = block[r + 6]!;
    plane[o + 7] = block[r + 7]!;
  }
}

/**
 * The work block becomes its scaled DCT (row-major u·8+v): 16 passes of the 8-point transform, the rows then
 * the columns, in one loop with the pass written out in it (a function per pass, which V8 does not always
 * inline, took a third of the time).
 */
export function forwardBlock(): void {
  const d = WORK;
  for (let pass = 0; pass < 16; pass++) {
    const row = pass < 8;
    const o = row ? pass * 8 : pass - 8;
    const s = row ? 1 : 8;
    const x0 = d[o]!;
    const x1 = d[o + s]!;
    const x2 = d[o + 2 * s]!;
    const x3 = d[o + 3 * s]!;
    const x4 = d[o + 4 * s]!;
    const x5 = d[o + 5 * s]!;
    const x6 = d[o + 6 * s]!;
    const x7 = d[o + 7 * s]!;
    const s07 = x0 + x7;
    const d07 = x0 - x7;
    const s16 = x1 + x6;
    const d16 = x1 - x6;
    const s25 = x2 + x5;
    const d25 = x2 - x5;
    const s34 = x3 + x4;
    const d34 = x3 - x4;
    // Even part.
    const e0 = s07 + s34;
    const e3 = s07 - s34;
    const e1 = s16 + s25;
    const e2 = s16 - s25;
    d[o] = e0 + e1;
    d[o + 4 * s] = e0 - e1;
    const z1 = (e2 + e3) * C4;
    d[o + 2 * s] = e3 + z1;
    d[o + 6 * s] = e3 - z1;
    // Odd part.
    const o10 = d34 + d25;
    const o11 = d25 + d16;
    const o12 = d16 + d07;
    const z5 = (o10 - o12) * C6;
    const z2 = C2_MINUS_C6 * o10 + z5;
    const z4 = C2_PLUS_C6 * o12 + z5;
    const z3 = o11 * C4;
    const z11 = d07 + z3;
    const z13 = d07 - z3;
    d[o + 5 * s] = z13 + z2;
    d[o + 3 * s] = z13 - z2;
    d[o + s] = z11 + z4;
    d[o + 7 * s] = z11 - z4;
  }
}

/** The work block's prescaled coefficients become samples again (times 8 per pass pair, in the scales). */
export function inverseBlock(): void {
  const d = WORK;
  for (let pass = 0; pass < 16; pass++) {
    const row = pass < 8;
    const o = row ? pass * 8 : pass - 8;
    const s = row ? 1 : 8;
    // Even part.
    const i0 = d[o]!;
    const i2 = d[o + 2 * s]!;
    const i4 = d[o + 4 * s]!;
    const i6 = d[o + 6 * s]!;
    const t10 = i0 + i4;
    const t11 = i0 - i4;
    const t13 = i2 + i6;
    const t12 = (i2 - i6) * SQRT2 - t13;
    const e0 = t10 + t13;
    const e3 = t10 - t13;
    const e1 = t11 + t12;
    const e2 = t11 - t12;
    // Odd part.
    const i1 = d[o + s]!;
    const i3 = d[o + 3 * s]!;
    const i5 = d[o + 5 * s]!;
    const i7 = d[o + 7 * s]!;
    const z13 = i5 + i3;
    const z10 = i5 - i3;
    const z11 = i1 + i7;
    const z12 = i1 - i7;
    const o7 = z11 + z13;
    const o11 = (z11 - z13) * SQRT2;
    const z5 = (z10 + z12) * TWO_C2;
    const o10 = z5 - z12 * TWO_C2_MINUS_C6;
    const o12 = z5 - z10 * TWO_C2_PLUS_C6;
    const o6 = o12 - o7;
    const o5 = o11 - o6;
    const o4 = o10 - o5;
    d[o] = e0 + o7;
    d[o + 7 * s] = e0 - o7;
    d[o + s] = e1 + o6;
    d[o + 6 * s] = e1 - o6;
    d[o + 2 * s] = e2 + o5;
    d[o + 5 * s] = e2 - o5;
    d[o + 3 * s] = e3 + o4;
    d[o + 4 * s] = e3 - o4;
  }
}

/** The block at `offset` of a plane `stride` values wide becomes its scaled DCT (row-major u·8+v). */
export function forwardDct(plane: Float32Array, offset: number, stride: number): void {
  loadBlock(plane, offset, stride);
  forwardBlock();
  storeBlock(plane, offset, stride);
}

/** The block's prescaled coefficients become samples again. */
export function inverseDct(plane: Float32Array, offset: number, stride: number): void {
  loadBlock(plane, offset, stride);
  inverseBlock();
  storeBlock(plane, offset, stride);
}

/**
 * The 1-D scales, measured from the passes themselves rather than written down: a pass applied to the
 * k-th orthonormal basis vector gives that vector's coefficient k (forward), or its sample 0 back (inverse).
 */
function oneDimensionalScales(): { forward: Float64Array; inverse: Float64Array } {
  const forward = new Float64Array(8);
  const inverse = new Float64Array(8);
  const v = new Float32Array(8);
  for (let k = 0; k < 8; k++) {
    const c = k === 0 ? Math.SQRT1_2 : 1;
    for (let n = 0; n < 8; n++) v[n] = c * 0.5 * Math.cos(((2 * n + 1) * k * Math.PI) / 16);
    const basis0 = v[0]!;
    forward[k] = onePass(forwardDct, v)[k]!;
    v.fill(0);
    v[k] = 1;
    inverse[k] = basis0 / onePass(inverseDct, v)[0]!;
  }
  return { forward, inverse };
}

/**
 * One 8-point pass of `transform` over `v`: the 2-D transform of a block whose only nonzero row is `v`
 * (the column passes keep such a row as it is: one value at the top of a column transforms to itself at
 * the DC, forward, and to itself all down the column, inverse).
 */
function onePass(transform: typeof forwardDct, v: Float32Array): Float32Array {
  const block = new Float32Array(64);
  block.set(v);
  transform(block, 0, 8);
  return block.subarray(0, 8);
}

function outer(a: Float64Array): Float32Array {
  const out = new Float32Array(64);
  for (let u = 0; u < 8; u++) for (let v = 0; v < 8; v++) out[u * 8 + v] = a[u]! * a[v]!;
  return out;
}

const SCALES = oneDimensionalScales();

/** `forwardDct` output = F(u,v) · FORWARD_SCALE[8u+v] (u the vertical frequency, as the plane's rows). */
export const FORWARD_SCALE: Readonly<Float32Array> = outer(SCALES.forward);

/** `inverseDct` input = F(u,v) · INVERSE_SCALE[8u+v]. */
export const INVERSE_SCALE: Readonly<Float32Array> = outer(SCALES.inverse);
