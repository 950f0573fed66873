/** decodeCoefficients on malformed files: one crafted input (or more) for each error code it throws. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { decodeCoefficients, JpegError } from "../../lib/jpeg/index.js";
import { encodeJpeg, greyJpegWithStream, writeSymbol } from "./jpeg-encoder.js";
import { fixture } from "./jpeg-tools.js";

function codeOf(bytes: Uint8Array, options?: { maxPixels?: number }): string {
  try {
    decodeCoefficients(bytes, options);
    return "decoded";
  } catch (error) {
    assert.ok(error instanceof JpegError, `expected a JpegError, got ${error}`);
    assert.ok(error.message.length > 10);
    return error.code;
  }
}

/** Offset of the FF of the nth segment with this marker (headers, and the scan headers between scans). */
function segmentAt(bytes: Uint8Array, marker: number, nth = 0): number {
  let seen = 0;
  for (let p = 2; p + 1 < bytes.length; p++) {
    if (bytes[p] === 0xff && bytes[p + 1] === marker && seen++ === nth) return p;
  }
  throw new Error(`no segment FF ${marker.toString(16)} #${nth}`);
}

/** A copy with bytes set: `edits` maps offsets to values. */
function patched(bytes: Uint8Array, edits: Record<number, number>): Uint8Array {
  const copy = Uint8Array.from(bytes);
  for (const [at, value] of Object.entries(edits)) copy[Number(at)] = value;
  return copy;
}

const baseline = fixture("coef-baseline-420.jpg"); // 45×37, standard tables
const progressive = fixture("coef-progressive-444.jpg");
const restarts = fixture("coef-grey-restart.jpg"); // an RST after every block
const scanData = segmentAt(baseline, 0xda) + 2 + 12; // SOS of 3 components is 12 bytes long

describe("decodeCoefficients: one crafted input per error code", () => {
  test("JPEG_TOO_LARGE: over maxPixels, or over the default 50,000,000; status 413", () => {
    assert.equal(codeOf(baseline, { maxPixels: 1000 }), "JPEG_TOO_LARGE");
    const sof = segmentAt(baseline, 0xc0);
    // 8000 × 7000 = 56 MP claimed by the frame header.
    const huge = patched(baseline, { [sof + 5]: 0x1b, [sof + 6]: 0x58, [sof + 7]: 0x1f, [sof + 8]: 0x40 });
    assert.equal(codeOf(huge), "JPEG_TOO_LARGE");
    assert.throws(
      () => decodeCoefficients(huge),
      (e: JpegError) => e.status === 413,
    );
  });

  test("JPEG_SCAN_TOO_SHORT: a frame claiming 7000×7000 over 1 KB of scan data, refused before allocating", () => {
    const sof = segmentAt(baseline, 0xc0);
    const claim = patched(baseline, { [sof + 5]: 0x1b, [sof + 6]: 0x58, [sof + 7]: 0x1b, [sof + 8]: 0x58 });
    const before = process.memoryUsage().arrayBuffers;
    assert.throws(
      () => decodeCoefficients(claim),
      /1149313 blocks, which need at least 287329 bytes of scan data; the file has 473 left/,
    );
    // Its coefficients would take 147 MB: none of it was allocated (nor collected yet, were it).
    assert.ok(process.memoryUsage().arrayBuffers - before < 32e6);
    assert.equal(codeOf(claim), "JPEG_SCAN_TOO_SHORT");
  });

  test("JPEG_SCAN_TOO_SHORT: a scan whose data stops at a marker before its last block", () => {
    const cut = Buffer.concat([baseline.subarray(0, scanData + 200), Buffer.from([0xff, 0xd9])]);
    assert.equal(codeOf(cut), "JPEG_SCAN_TOO_SHORT");
  });

  test("JPEG_SCAN_TOO_SHORT: a frame and no scan", () => {
    const headersOnly = Buffer.concat([
      baseline.subarray(0, segmentAt(baseline, 0xda)),
      Buffer.from([0xff, 0xd9]),
    ]);
    assert.equal(codeOf(headersOnly), "JPEG_SCAN_TOO_SHORT");
  });

  test("JPEG_SCAN_TOO_SHORT: a component in no scan", () => {
    const components = [1, 2, 3].map((id) => ({
      id,
      h: 1,
      v: 1,
      coefficients: new Int16Array(4 * 64).fill(3),
    }));
    const twoOfThree = encodeJpeg({ width: 16, height: 16, components, scans: [[0], [1]] });
    assert.throws(() => decodeCoefficients(twoOfThree), /component 3 is in no scan/);
    assert.equal(codeOf(twoOfThree), "JPEG_SCAN_TOO_SHORT");
    assert.equal(
      codeOf(encodeJpeg({ width: 16, height: 16, components, scans: [[0], [1], [2]] })),
      "decoded",
    );
  });

  test("JPEG_TRUNCATED: the file ends inside a scan, or where a restart marker belongs", () => {
    assert.equal(codeOf(baseline.subarray(0, scanData + 200)), "JPEG_TRUNCATED");
    const lastRestart = restarts.lastIndexOf(0xff, restarts.length - 3); // the EOI's FF is the last
    assert.ok(restarts[lastRestart + 1]! >= 0xd0 && restarts[lastRestart + 1]! <= 0xd7);
    assert.equal(codeOf(restarts.subarray(0, lastRestart)), "JPEG_TRUNCATED");
  });

  test("JPEG_ARITHMETIC_UNSUPPORTED: SOF9 and SOF10", () => {
    assert.equal(codeOf(fixture("cjpeg-q60-arithmetic.jpg")), "JPEG_ARITHMETIC_UNSUPPORTED");
    assert.equal(codeOf(fixture("cjpeg-q35-arith-progressive.jpg")), "JPEG_ARITHMETIC_UNSUPPORTED");
  });

  test("JPEG_BAD_HUFFMAN_TABLE: over-subscribed code lengths, class 2, a DC symbol of 16", () => {
    const dht = segmentAt(baseline, 0xc4); // DC table 0: counts 0,1,5,1,... then symbols 0..11
    // Two codes of length 1 (the second all ones), three of length 3 instead of five: same count.
    assert.equal(codeOf(patched(baseline, { [dht + 5]: 2, [dht + 7]: 3 })), "JPEG_BAD_HUFFMAN_TABLE");
    assert.equal(codeOf(patched(baseline, { [dht + 4]: 0x20 })), "JPEG_BAD_HUFFMAN_TABLE");
    assert.equal(codeOf(patched(baseline, { [dht + 4 + 17 + 11]: 16 })), "JPEG_BAD_HUFFMAN_TABLE");
  });

  test("JPEG_BAD_HUFFMAN_TABLE: more symbols than the segment holds", () => {
    const dht = segmentAt(baseline, 0xc4);
    assert.equal(codeOf(patched(baseline, { [dht + 4 + 16]: 200 })), "JPEG_BAD_HUFFMAN_TABLE");
  });

  test("JPEG_MISSING_HUFFMAN_TABLE: a scan using DC/AC table slot 2, never defined", () => {
    const sos = segmentAt(baseline, 0xda);
    assert.equal(codeOf(patched(baseline, { [sos + 6]: 0x22 })), "JPEG_MISSING_HUFFMAN_TABLE");
  });

  test("JPEG_BAD_HUFFMAN_CODE: all-ones bits, which no table has a code for", () => {
    const ones = Buffer.concat([
      baseline.subarray(0, scanData),
      Buffer.alloc(2000, Buffer.from([0xff, 0x00])),
    ]);
    assert.equal(codeOf(Buffer.concat([ones, Buffer.from([0xff, 0xd9])])), "JPEG_BAD_HUFFMAN_CODE");
  });

  test("JPEG_SCAN_OVERRUN: runs of 15 zeros carried past coefficient 63", () => {
    const bytes = greyJpegWithStream([0], [0xf1, 0x00], (writer, dc, ac) => {
      writeSymbol(writer, dc, 0);
      for (let i = 0; i < 4; i++) {
        writeSymbol(writer, ac, 0xf1); // 15 zeros and a ±1: at 16, 32, 48, then 64
        writer.write(1, 1);
      }
    });
    assert.equal(codeOf(bytes), "JPEG_SCAN_OVERRUN");
  });

  test("JPEG_BAD_PROGRESSION: a DC scan with Se 5, Al 14, a refinement from the wrong bit", () => {
    const first = segmentAt(progressive, 0xda, 0); // DC scan of 3 components: Ss at +11, Se +12, Ah/Al +13
    assert.equal(codeOf(patched(progressive, { [first + 12]: 5 })), "JPEG_BAD_PROGRESSION");
    const ac = segmentAt(progressive, 0xda, 1); // one component: Ss +7, Se +8, Ah/Al +9
    assert.equal(codeOf(patched(progressive, { [ac + 9]: 0x0e })), "JPEG_BAD_PROGRESSION");
    const last = segmentAt(progressive, 0xda, 9); // luma AC 1..63, Ah 1 Al 0
    assert.equal(progressive[last + 9], 0x10);
    assert.equal(codeOf(patched(progressive, { [last + 9]: 0x21 })), "JPEG_BAD_PROGRESSION");
  });

  test("JPEG_BAD_PROGRESSION: an AC scan before the component's DC scan", () => {
    // Without its first scan (the DC scan, header and data), the file's next scan is an AC one.
    const first = segmentAt(progressive, 0xda, 0);
    let end = first + 2 + progressive.readUInt16BE(first + 2);
    while (!(progressive[end] === 0xff && progressive[end + 1] !== 0)) end++;
    const withoutDc = Buffer.concat([progressive.subarray(0, first), progressive.subarray(end)]);
    assert.equal(codeOf(withoutDc), "JPEG_BAD_PROGRESSION");
  });

  test("JPEG_BAD_RESTART: RST3 where RST0 belongs", () => {
    const rst = restarts.indexOf(Buffer.from([0xff, 0xd0]));
    assert.equal(codeOf(patched(restarts, { [rst + 1]: 0xd3 })), "JPEG_BAD_RESTART");
  });

  test("JPEG_BAD_SCAN: a component named twice, 11 blocks in an MCU", () => {
    const sos = segmentAt(baseline, 0xda);
    assert.equal(codeOf(patched(baseline, { [sos + 9]: 2 })), "JPEG_BAD_SCAN");
    const components = [
      { id: 1, h: 4, v: 2, coefficients: new Int16Array(2 * 2 * 64) },
      { id: 2, h: 1, v: 1, coefficients: new Int16Array(64) },
      { id: 3, h: 2, v: 1, coefficients: new Int16Array(64) },
    ];
    assert.equal(codeOf(encodeJpeg({ width: 16, height: 16, components })), "JPEG_BAD_SCAN");
  });

  test("JPEG_BAD_SCAN: more than 1000 scans (each may visit every block)", () => {
    // An 8×8 grey file whose one sequential scan is repeated: valid, each scan recodes the block.
    const one = greyJpegWithStream([0], [0x00], (writer, dc, ac) => {
      writeSymbol(writer, dc, 0);
      writeSymbol(writer, ac, 0x00);
    });
    const sos = segmentAt(one, 0xda);
    const scan = one.subarray(sos, one.length - 2);
    const many = (n: number) =>
      Buffer.concat([
        one.subarray(0, sos),
        ...new Array<Uint8Array>(n).fill(scan),
        Buffer.from([0xff, 0xd9]),
      ]);
    assert.equal(decodeCoefficients(many(1000)).components[0]!.coefficients.length, 64);
    assert.throws(() => decodeCoefficients(many(1001)), /more than 1000 scans/);
    assert.equal(codeOf(many(1001)), "JPEG_BAD_SCAN");
  });

  test("JPEG_BAD_LENGTH: a DRI segment of 5 bytes", () => {
    const dri = segmentAt(restarts, 0xdd);
    const bad = Buffer.concat([
      restarts.subarray(0, dri + 2),
      Buffer.from([0, 5]),
      restarts.subarray(dri + 4, dri + 6),
      Buffer.from([0]),
      restarts.subarray(dri + 6),
    ]);
    assert.equal(codeOf(bad), "JPEG_BAD_LENGTH");
  });
});
