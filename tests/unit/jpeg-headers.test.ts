import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import {
  ANNEX_K_CHROMA,
  ANNEX_K_LUMA,
  ijgTable,
  inspectJpeg,
  inspectJpegSource,
  JpegError,
  type JpegInspection,
  readJpegHeaders,
  subsamplingOf,
} from "../../lib/jpeg/index.js";

const fixture = (name: string): Buffer => readFileSync(new URL(`../fixtures/jpeg/${name}`, import.meta.url));

function inspectWhole(bytes: Uint8Array): JpegInspection {
  const result = inspectJpeg(bytes, { fileSize: bytes.length });
  assert.equal(result.status, "ok");
  return result as JpegInspection;
}

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof JpegError, `expected a JpegError, got ${error}`);
    assert.equal(error.status, 422);
    assert.ok(error.message.length > 10);
    return error.code;
  }
  assert.fail("expected a JpegError");
}

describe("malformed files give typed errors", () => {
  const cases: [string, string][] = [
    ["malformed-empty.jpg", "JPEG_EMPTY"],
    ["malformed-not-jpeg.png", "JPEG_NOT_JPEG"],
    ["malformed-junk-before-soi.jpg", "JPEG_NOT_JPEG"],
    ["malformed-truncated-in-dqt.jpg", "JPEG_TRUNCATED"],
    ["malformed-truncated-in-app.jpg", "JPEG_TRUNCATED"],
    ["malformed-truncated-after-frame.jpg", "JPEG_TRUNCATED"],
    ["malformed-dqt-overrun.jpg", "JPEG_DQT_OVERRUN"],
    ["malformed-bad-precision.jpg", "JPEG_BAD_PRECISION"],
    ["malformed-bad-table-id.jpg", "JPEG_BAD_TABLE_ID"],
    ["malformed-zero-quant.jpg", "JPEG_ZERO_QUANT"],
    ["malformed-no-dqt.jpg", "JPEG_NO_DQT"],
    ["malformed-no-frame.jpg", "JPEG_NO_FRAME"],
    ["malformed-missing-table.jpg", "JPEG_MISSING_TABLE"],
    ["malformed-lossless.jpg", "JPEG_UNSUPPORTED_PROCESS"],
    ["malformed-bad-frame.jpg", "JPEG_BAD_FRAME"],
    ["malformed-bad-length.jpg", "JPEG_BAD_LENGTH"],
    ["malformed-second-soi.jpg", "JPEG_BAD_MARKER"],
  ];
  for (const [name, code] of cases) {
    test(`${name}: ${code}`, () => {
      const bytes = fixture(name);
      assert.equal(
        codeOf(() => inspectJpeg(bytes, { fileSize: bytes.length })),
        code,
      );
    });
  }

  test("junk before SOI says where the JPEG starts", () => {
    const bytes = fixture("malformed-junk-before-soi.jpg");
    assert.throws(() => inspectJpeg(bytes, { fileSize: bytes.length }), /10 bytes of junk before the SOI/);
  });

  test("a reserved marker and a second frame", () => {
    const base = fixture("cjpeg-q90-422.jpg");
    const reserved = Buffer.concat([base.subarray(0, 2), Buffer.from([0xff, 0x02, 0, 2]), base.subarray(2)]);
    assert.equal(
      codeOf(() => inspectWhole(reserved)),
      "JPEG_BAD_MARKER",
    );
    const sofAt = base.indexOf(Buffer.from([0xff, 0xc0]));
    const sof = base.subarray(sofAt, sofAt + 2 + base.readUInt16BE(sofAt + 2));
    const twoFrames = Buffer.concat([base.subarray(0, sofAt), sof, base.subarray(sofAt)]);
    assert.equal(
      codeOf(() => inspectWhole(twoFrames)),
      "JPEG_MULTIPLE_FRAMES",
    );
  });
});

describe("what the parser reads and what it skips", () => {
  test("an EXIF thumbnail's own tables (quality 97) do not count: the image is quality 42", () => {
    const bytes = fixture("exif-thumb-q42.jpg");
    const thumbnailSoi = bytes.indexOf(Buffer.from([0xff, 0xd8, 0xff]), 2);
    assert.ok(thumbnailSoi > 0, "the fixture carries a thumbnail");
    assert.equal(inspectWhole(bytes.subarray(thumbnailSoi)).quality, 97);
    const info = inspectWhole(bytes);
    assert.equal(info.quality, 42);
    assert.ok(info.headerBytes > thumbnailSoi);
  });

  test("a DQT inside a COM or APP payload is skipped with the payload", () => {
    const base = fixture("cjpeg-q90-422.jpg");
    const fakeDqt = [0xff, 0xdb, 0x00, 0x43, 0x00, ...new Array(64).fill(1)];
    const com = [0xff, 0xfe, 0x00, fakeDqt.length + 2, ...fakeDqt];
    const app15 = [0xff, 0xef, 0x00, fakeDqt.length + 2, ...fakeDqt];
    const sofAt = base.indexOf(Buffer.from([0xff, 0xc0]));
    const bytes = Buffer.concat([
      base.subarray(0, sofAt),
      Buffer.from([...com, ...app15]),
      base.subarray(sofAt),
    ]);
    assert.deepEqual([inspectWhole(bytes).quality, inspectWhole(bytes).match], [90, "exact"]);
  });

  test("subsampling names, and sampling factors where there is no name", () => {
    const f = (...hv: [number, number][]) => subsamplingOf(hv.map(([h, v]) => ({ h, v })));
    assert.equal(f([1, 2], [1, 1], [1, 1]), "4:4:0");
    assert.equal(f([4, 2], [1, 1], [1, 1]), "4:1:0");
    assert.equal(f([2, 2], [2, 2], [2, 2]), "4:4:4");
    assert.equal(f([2, 2], [1, 1], [2, 1]), "2x2,1x1,2x1");
    assert.equal(f([3, 1], [2, 1], [2, 1]), "3x1,2x1,2x1");
    assert.equal(f([1, 1], [1, 1], [1, 1], [1, 1]), "1x1,1x1,1x1,1x1");
  });

  test("several tables in one DQT segment, tables redefined before the frame, fill bytes", () => {
    assert.equal(inspectWhole(fixture("synthetic-one-dqt-q55.jpg")).quality, 55);
    assert.equal(inspectWhole(fixture("synthetic-redefined-q33.jpg")).quality, 33);
    assert.equal(inspectWhole(fixture("synthetic-fill-bytes-q55.jpg")).quality, 55);
  });

  test("a table defined between scans is latched at the first scan of its component", () => {
    const bytes = progressiveWithLateChromaTable();
    const info = inspectWhole(bytes);
    assert.deepEqual([info.quality, info.match], [64, "exact"]);
    assert.equal(info.headerBytes, bytes.length - 2 - 3); // through the second SOS
  });

  test("stops at the first scan unless asked to read to the end", () => {
    const bytes = fixture("cjpeg-q35-arith-progressive.jpg");
    const first = readJpegHeaders(bytes, { fileSize: bytes.length });
    const all = readJpegHeaders(bytes, { fileSize: bytes.length, readToEnd: true });
    assert.ok(first.status === "ok" && all.status === "ok");
    assert.equal(first.headers.scans, 1);
    assert.equal(first.headers.reachedEnd, false);
    assert.ok(all.headers.scans > 1);
    assert.equal(all.headers.reachedEnd, true);
    assert.equal(all.headers.headerBytes, bytes.length);
    const cut = bytes.subarray(0, bytes.length - 1);
    assert.equal(
      codeOf(() => readJpegHeaders(cut, { fileSize: cut.length, readToEnd: true })),
      "JPEG_TRUNCATED",
    );
  });
});

describe("prefixes: need-more-bytes, then the same answer", () => {
  for (const name of ["exif-thumb-q42.jpg", "cjpeg-q75-slots23.jpg", "cjpeg-q35-arith-progressive.jpg"]) {
    test(`${name}: every prefix either asks for more or gives the full answer`, () => {
      const bytes = fixture(name);
      const whole = inspectWhole(bytes);
      for (let length = 0; length <= bytes.length; length++) {
        const result = inspectJpeg(bytes.subarray(0, length));
        if (result.status === "need-more-bytes") {
          assert.ok(result.atLeast > length && result.atLeast <= whole.headerBytes, `prefix ${length}`);
          assert.equal(
            codeOf(() => inspectJpeg(bytes.subarray(0, length), { fileSize: length })),
            length === 0 ? "JPEG_EMPTY" : "JPEG_TRUNCATED",
          );
        } else {
          assert.ok(length >= whole.headerBytes);
          assert.deepEqual(result, whole);
        }
      }
    });
  }

  test("skipping an APP segment asks for the bytes after it, not for its payload", () => {
    const bytes = fixture("exif-thumb-q42.jpg");
    const app1At = bytes.indexOf(Buffer.from([0xff, 0xe1]));
    const app1End = app1At + 2 + bytes.readUInt16BE(app1At + 2);
    const result = inspectJpeg(bytes.subarray(0, app1At + 4));
    assert.deepEqual(result, { status: "need-more-bytes", atLeast: app1End + 2 });
  });

  test("inspectJpegSource reads only the header prefix, in few reads", async () => {
    // 256 KiB of scan data behind the headers: none of it may be read.
    const base = fixture("exif-thumb-q42.jpg");
    const bytes = Buffer.concat([
      base.subarray(0, base.length - 2),
      Buffer.alloc(256 * 1024, 0x11),
      base.subarray(-2),
    ]);
    const reads: [number, number][] = [];
    const source = {
      size: bytes.length,
      read: async (start: number, end: number) => {
        reads.push([start, end]);
        return bytes.subarray(start, end);
      },
    };
    const small = await inspectJpegSource(source, { firstReadBytes: 64, readAheadBytes: 512 });
    assert.equal(small.quality, 42);
    assert.ok(small.bytesRead < 4096, `read ${small.bytesRead}`);
    assert.ok(reads.length <= 3, `${reads.length} reads`); // APP0, then past APP1, then the rest
    for (let i = 1; i < reads.length; i++) assert.equal(reads[i]![0], reads[i - 1]![1], "no byte read twice");
    reads.length = 0;
    const defaults = await inspectJpegSource(source);
    assert.deepEqual(reads, [[0, 16384]]);
    assert.equal(defaults.bytesRead, 16384);
  });

  test("inspectJpegSource: a source of unknown size that ends early is truncated; maxBytes bounds the reads", async () => {
    const bytes = fixture("exif-thumb-q42.jpg").subarray(0, 300);
    const source = { read: async (start: number, end: number) => bytes.subarray(start, end) };
    await assert.rejects(
      inspectJpegSource(source),
      (e: unknown) => e instanceof JpegError && e.code === "JPEG_TRUNCATED",
    );
    const whole = fixture("exif-thumb-q42.jpg");
    const bounded = { size: whole.length, read: async (s: number, e: number) => whole.subarray(s, e) };
    await assert.rejects(
      inspectJpegSource(bounded, { firstReadBytes: 64, readAheadBytes: 0, maxBytes: 256 }),
      (e: unknown) => e instanceof JpegError && e.code === "JPEG_HEADERS_TOO_LONG",
    );
  });
});

/** SOI, DQT 0, SOF2 (Y slot 0, Cb Cr slot 1), SOS Y, data, DQT 1, SOS Cb Cr, data, EOI; quality 64. */
function progressiveWithLateChromaTable(): Buffer {
  const zigzag = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7,
    14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39,
    46, 53, 60, 61, 54, 47, 55, 62, 63,
  ];
  const dqt = (slot: number, natural: number[]) => [
    0xff,
    0xdb,
    0,
    67,
    slot,
    ...zigzag.map((i) => natural[i]!),
  ];
  return Buffer.from([
    ...[0xff, 0xd8],
    ...dqt(0, ijgTable(ANNEX_K_LUMA, 64, 255)),
    ...[0xff, 0xc2, 0, 17, 8, 0, 16, 0, 16, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1],
    ...[0xff, 0xda, 0, 8, 1, 1, 0, 0, 0, 0], // DC scan of Y only
    ...[0x12, 0xff, 0x00, 0x34, 0xff, 0xd0, 0x56], // data with a stuffed byte and a restart marker
    ...dqt(1, ijgTable(ANNEX_K_CHROMA, 64, 255)),
    ...[0xff, 0xda, 0, 10, 2, 2, 0, 3, 0, 0, 0, 0], // DC scan of Cb and Cr
    ...[0x01, 0x02, 0x03],
    ...[0xff, 0xd9],
  ]);
}
