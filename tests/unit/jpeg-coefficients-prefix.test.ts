/** decodeCoefficients with `prefix`: the first part of a file decodes to the rows of blocks it holds whole. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import sharp, { type JpegOptions } from "sharp";
import { decodeCoefficients, inspectJpeg, type JpegCoefficients, JpegError } from "../../lib/jpeg/index.js";
import { fixture, photoLikePpm } from "./jpeg-tools.js";

async function sharpJpeg(width: number, height: number, options: JpegOptions): Promise<Buffer> {
  const ppm = photoLikePpm(width, height, 7);
  const pixels = ppm.subarray(ppm.length - width * height * 3);
  return sharp(pixels, { raw: { width, height, channels: 3 } })
    .jpeg(options)
    .toBuffer();
}

function scanStart(bytes: Uint8Array): number {
  const inspection = inspectJpeg(bytes, { fileSize: bytes.length });
  assert.equal(inspection.status, "ok");
  return inspection.scanStart;
}

/** Rows decoded from the prefix equal the whole file's; everything after them is zero. */
function assertPrefixOf(part: JpegCoefficients, whole: JpegCoefficients, what: string): void {
  part.components.forEach((c, i) => {
    const w = whole.components[i]!;
    assert.ok(c.rows !== undefined && c.rows >= 0 && c.rows <= c.blocksHigh, what);
    const end = c.rows * c.blocksWide * 64;
    assert.deepEqual(
      c.coefficients.subarray(0, end),
      w.coefficients.subarray(0, end),
      `${what}, component ${i}`,
    );
    assert.ok(
      c.coefficients.subarray(end).every((v) => v === 0),
      `${what}, component ${i}: zeros after row ${c.rows}`,
    );
  });
}

describe("decodeCoefficients({ prefix: true })", () => {
  test("a whole sequential file decodes as without the option, every row reported", async () => {
    const bytes = await sharpJpeg(96, 80, { quality: 90, chromaSubsampling: "4:2:0" });
    const whole = decodeCoefficients(bytes);
    const part = decodeCoefficients(bytes, { prefix: true });
    assert.deepEqual(
      part.components.map((c) => c.rows),
      whole.components.map((c) => c.blocksHigh),
    );
    assertPrefixOf(part, whole, "whole file");
    assert.equal(whole.components[0]!.rows, undefined, "without the option no rows are reported");
  });

  test("any cut of an interleaved 4:2:0 scan keeps whole MCU rows, more with more bytes", async () => {
    const bytes = await sharpJpeg(96, 80, { quality: 90, chromaSubsampling: "4:2:0" });
    const whole = decodeCoefficients(bytes);
    const start = scanStart(bytes);
    let lastRows = -1;
    for (let end = start; end <= bytes.length; end += 37) {
      const part = decodeCoefficients(bytes.subarray(0, end), { prefix: true });
      assertPrefixOf(part, whole, `cut at ${end}`);
      const [luma, cb, cr] = part.components.map((c) => c.rows!);
      // An MCU row holds 2 rows of luma blocks and 1 of each chroma component's.
      assert.equal(luma, 2 * cb!, `cut at ${end}`);
      assert.equal(cb, cr);
      assert.ok(luma! >= lastRows, `rows never fall as the prefix grows (cut at ${end})`);
      lastRows = luma!;
    }
    assert.equal(decodeCoefficients(bytes.subarray(0, start), { prefix: true }).components[0]!.rows, 0);
    const half = decodeCoefficients(bytes.subarray(0, start + (bytes.length - start) / 2), { prefix: true });
    assert.ok(half.components[0]!.rows! > 0 && half.components[0]!.rows! < whole.components[0]!.blocksHigh);
  });

  test("restart intervals: a cut where a restart marker belongs keeps the intervals before it", () => {
    const bytes = fixture("coef-grey-restart.jpg"); // an RST after every block
    const whole = decodeCoefficients(bytes);
    const start = scanStart(bytes);
    const rows = new Set<number>();
    for (let end = start; end <= bytes.length; end++) {
      const part = decodeCoefficients(bytes.subarray(0, end), { prefix: true });
      assertPrefixOf(part, whole, `cut at ${end}`);
      rows.add(part.components[0]!.rows!);
    }
    assert.deepEqual(
      [...rows].sort((a, b) => a - b),
      [0, 1, 2, 3, 4, 5],
    );
  });

  test("malformed data inside the prefix is still refused", async () => {
    const bytes = Buffer.from(await sharpJpeg(96, 80, { quality: 90 }));
    const start = scanStart(bytes);
    // The first scan bytes overwritten by ones bits (no code starts so): a bad code well before the cut.
    const broken = Buffer.from(bytes);
    for (let i = start; i < start + 40; i++) broken[i] = 0xfe;
    assert.throws(
      () => decodeCoefficients(broken.subarray(0, bytes.length - 200), { prefix: true }),
      (error: unknown) => error instanceof JpegError && error.code !== "JPEG_TRUNCATED",
    );
  });

  test("a progressive file must be whole: cut, it is refused as without the option", async () => {
    const bytes = await sharpJpeg(96, 80, { quality: 90, progressive: true });
    const whole = decodeCoefficients(bytes, { prefix: true });
    assertPrefixOf(whole, decodeCoefficients(bytes), "whole progressive file");
    const cut = bytes.subarray(0, bytes.length - Math.floor((bytes.length - scanStart(bytes)) / 2));
    const codeOf = (run: () => unknown): string => {
      try {
        run();
        return "none";
      } catch (error) {
        return (error as JpegError).code;
      }
    };
    const withPrefix = codeOf(() => decodeCoefficients(cut, { prefix: true }));
    assert.notEqual(withPrefix, "none");
    assert.equal(
      withPrefix,
      codeOf(() => decodeCoefficients(cut)),
    );
  });
});
