/**
 * The restored image seen as a JPEG encoder sees its source: in the file's stored orientation, converted
 * to YCbCr as libjpeg converts (JFIF, full range), each component box-averaged to its sampling, the edges
 * repeated to whole blocks, one band of rows at a time; and back, changes to those planes applied to the
 * 8-bit RGB. The pixels stay in the upright buffer the pipeline made; stored coordinates are mapped onto it.
 */

/** Where stored pixel (x, y) lies in the upright buffer: pixel index `base + x·dx + y·dy`. */
export interface StoredLayout {
  /** Size as stored in the file (before the EXIF orientation). */
  readonly width: number;
  readonly height: number;
  readonly base: number;
  readonly dx: number;
  readonly dy: number;
}

/** The layout of an upright `width` × `height` image whose file is stored with EXIF `orientation`. */
export function storedLayout(width: number, height: number, orientation: number): StoredLayout {
  const swap = orientation >= 5 && orientation <= 8;
  const sw = swap ? height : width;
  const sh = swap ? width : height;
  const W = width;
  // autoOrient's turns: stored (x, y) lands at upright (u, v), pixel v·W + u.
  const maps: Record<number, [number, number, number]> = {
    1: [0, 1, W], // u = x, v = y
    2: [sw - 1, -1, W], // u = sw−1−x
    3: [(sh - 1) * W + sw - 1, -1, -W], // both flipped
    4: [(sh - 1) * W, 1, -W], // v = sh−1−y
    5: [0, W, 1], // u = y, v = x
    6: [sh - 1, W, -1], // u = sh−1−y, v = x
    7: [(sw - 1) * W + sh - 1, -W, -1], // u = sh−1−y, v = sw−1−x
    8: [(sw - 1) * W, -W, 1], // u = y, v = sw−1−x
  };
  const [base, dx, dy] = maps[orientation] ?? maps[1]!;
  return { width: sw, height: sh, base, dx, dy };
}

/** One component's plane for a band: the component's samples over whole blocks, level-shifted by 128. */
export interface ComponentPlane {
  /** 0 luma, 1 Cb, 2 Cr (a grey image has luma only). */
  readonly role: 0 | 1 | 2;
  /** Full-resolution pixels per sample across and down (maxH / h, maxV / v). */
  readonly sx: number;
  readonly sy: number;
  /** Samples across (blocks across × 8) and rows (8 × v, one band). */
  readonly width: number;
  readonly rows: number;
  readonly data: Float32Array;
  /** For each stored column, its sample's column (x / sx). */
  readonly column: Int32Array;
}

export function componentPlane(
  role: 0 | 1 | 2,
  sx: number,
  sy: number,
  blocksWide: number,
  v: number,
  storedWidth: number,
): ComponentPlane {
  const width = blocksWide * 8;
  const column = new Int32Array(storedWidth);
  for (let x = 0; x < storedWidth; x++) column[x] = Math.floor(x / sx);
  return { role, sx, sy, width, rows: 8 * v, data: new Float32Array(width * 8 * v), column };
}

// JFIF's conversion (libjpeg jccolor.c / jdcolor.c), level-shifted: Y − 128, Cb − 128, Cr − 128.
const YR = 0.299;
const YG = 0.587;
const YB = 0.114;
const CBR = -0.168735892;
const CBG = -0.331264108;
const CRG = -0.418687589;
const CRB = -0.081312411;
const R_CR = 1.402;
const G_CB = -0.344136286;
const G_CR = -0.714136286;
const B_CB = 1.772;

/**
 * Fills the planes for the band whose first stored row is `y0`: each sample the mean of its sx × sy
 * pixels, coordinates past the image repeating the last column and row (as libjpeg pads).
 */
export function gatherBand(
  rgb: Uint8Array,
  layout: StoredLayout,
  y0: number,
  planes: readonly ComponentPlane[],
): void {
  const { width: sw, height: sh, base, dx, dy } = layout;
  for (const plane of planes) {
    const { sx, sy, width, rows, data, role } = plane;
    const area = 1 / (sx * sy);
    const wr = role === 0 ? YR : role === 1 ? CBR : 0.5;
    const wg = role === 0 ? YG : role === 1 ? CBG : CRG;
    const wb = role === 0 ? YB : role === 1 ? 0.5 : CRB;
    const shift = role === 0 ? -128 : 0;
    for (let j = 0; j < rows; j++) {
      const out = j * width;
      for (let i = 0; i < width; i++) {
        let r = 0;
        let g = 0;
        let b = 0;
        for (let bb = 0; bb < sy; bb++) {
          const y = Math.min(y0 + j * sy + bb, sh - 1);
          const row = base + y * dy;
          for (let a = 0; a < sx; a++) {
            const p = (row + Math.min(i * sx + a, sw - 1) * dx) * 3;
            r += rgb[p]!;
            g += rgb[p + 1]!;
            b += rgb[p + 2]!;
          }
        }
        data[out + i] = (wr * r + wg * g + wb * b) * area + shift;
      }
    }
  }
}

/**
 * Adds the planes' changes (now in `data`) to the band's pixels, each sample's change to all the pixels it
 * covers, so that averaging the result again gives the changed sample; rounds to 8 bits (clamped). With one
 * plane (grey), every channel is set to the changed luma.
 */
export function applyBand(
  rgb: Uint8Array,
  layout: StoredLayout,
  y0: number,
  bandRows: number,
  planes: readonly ComponentPlane[],
): void {
  const { width: sw, height: sh, base, dx, dy } = layout;
  const out = new Uint8ClampedArray(rgb.buffer, rgb.byteOffset, rgb.length);
  const end = Math.min(y0 + bandRows, sh);
  const [luma, cb, cr] = planes as [ComponentPlane, ComponentPlane?, ComponentPlane?];
  for (let y = y0; y < end; y++) {
    const row = base + y * dy;
    const lumaRow = Math.floor((y - y0) / luma.sy) * luma.width;
    if (cb === undefined || cr === undefined) {
      for (let x = 0; x < sw; x++) {
        const p = (row + x * dx) * 3;
        const v = YR * rgb[p]! + YG * rgb[p + 1]! + YB * rgb[p + 2]! + luma.data[lumaRow + luma.column[x]!]!;
        out[p] = v;
        out[p + 1] = v;
        out[p + 2] = v;
      }
      continue;
    }
    const cbRow = Math.floor((y - y0) / cb.sy) * cb.width;
    const crRow = Math.floor((y - y0) / cr.sy) * cr.width;
    for (let x = 0; x < sw; x++) {
      const dY = luma.data[lumaRow + luma.column[x]!]!;
      const dCb = cb.data[cbRow + cb.column[x]!]!;
      const dCr = cr.data[crRow + cr.column[x]!]!;
      if (dY === 0 && dCb === 0 && dCr === 0) continue;
      const p = (row + x * dx) * 3;
      out[p] = rgb[p]! + dY + R_CR * dCr;
      out[p + 1] = rgb[p + 1]! + dY + G_CB * dCb + G_CR * dCr;
      out[p + 2] = rgb[p + 2]! + dY + B_CB * dCb;
    }
  }
}
