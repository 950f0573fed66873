/** Truncations and byte mutations of valid files: only JpegError, never another throw, never slow. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import fc from "fast-check";
import { inspectJpeg, JpegError, readJpegHeaders } from "../../lib/jpeg/index.js";

const names = [
  "exif-thumb-q42.jpg",
  "cjpeg-q10-16bit.jpg",
  "cjpeg-q35-arith-progressive.jpg",
  "cjpeg-q75-slots23.jpg",
  "synthetic-12bit-q85.jpg",
];
const files = names.map((name) => readFileSync(new URL(`../fixtures/jpeg/${name}`, import.meta.url)));
// Every call walks at most a few KiB once: 200 ms is only crossed by a loop (the bound allows for a busy CI).
const MAX_MS_PER_CALL = 200;
const LIMITS = { timeout: 60_000 };
// Warm up (candidate tables, JIT) so the first timed call is not the slow one.
for (const file of files) inspectJpeg(file, { fileSize: file.length });

const outcomes = { ok: 0, needMore: 0, error: 0 };

/** Runs one inspection; anything but a result or a JpegError fails the property. Returns milliseconds. */
function inspectSafely(bytes: Uint8Array, options: { fileSize?: number; readToEnd?: boolean }): number {
  const started = performance.now();
  try {
    const result = options.readToEnd ? readJpegHeaders(bytes, options) : inspectJpeg(bytes, options);
    if (result.status === "ok") outcomes.ok++;
    else outcomes.needMore++;
    if (result.status === "need-more-bytes") {
      assert.equal(options.fileSize, undefined, "a known size never asks for more");
      assert.ok(result.atLeast > bytes.length);
    }
  } catch (error) {
    if (!(error instanceof JpegError)) throw error;
    outcomes.error++;
    assert.match(error.code, /^JPEG_[A-Z_]+$/);
  }
  return performance.now() - started;
}

test("random truncations", LIMITS, () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...files),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.boolean(),
      (file, fraction, sizeKnown) => {
        const cut = file.subarray(0, Math.floor(file.length * fraction));
        const ms = inspectSafely(cut, sizeKnown ? { fileSize: cut.length } : {});
        assert.ok(ms < MAX_MS_PER_CALL, `${ms} ms`);
      },
    ),
    { numRuns: 2000, seed: 7 },
  );
});

test("random byte mutations, inserts and deletions", LIMITS, () => {
  const edit = fc.record({
    at: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
    kind: fc.constantFrom("set", "insert", "delete"),
    value: fc.constantFrom(0x00, 0xff, 0xd8, 0xd9, 0xda, 0xdb, 0xc0, 0xc2, 0x01, 0x11, 0x43, 0x80, 0xfe),
    random: fc.integer({ min: 0, max: 255 }),
    useRandom: fc.boolean(),
  });
  fc.assert(
    fc.property(
      fc.constantFrom(...files),
      fc.array(edit, { minLength: 1, maxLength: 8 }),
      fc.boolean(),
      (file, edits, readToEnd) => {
        const bytes = [...file];
        for (const e of edits) {
          const at = Math.floor(e.at * bytes.length);
          const value = e.useRandom ? e.random : e.value;
          if (e.kind === "set") bytes[at] = value;
          else if (e.kind === "insert") bytes.splice(at, 0, value);
          else bytes.splice(at, 1);
        }
        const mutated = Uint8Array.from(bytes);
        const ms = inspectSafely(mutated, { fileSize: mutated.length, readToEnd });
        assert.ok(ms < MAX_MS_PER_CALL, `${ms} ms`);
        inspectSafely(mutated, {});
      },
    ),
    { numRuns: 3000, seed: 11 },
  );
});

test("random bytes after a valid SOI", LIMITS, () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2048 }), fc.boolean(), (tail, readToEnd) => {
      const bytes = Uint8Array.from([0xff, 0xd8, ...tail]);
      assert.ok(inspectSafely(bytes, { fileSize: bytes.length, readToEnd }) < MAX_MS_PER_CALL);
    }),
    { numRuns: 2000, seed: 3 },
  );
});

test("the fuzzing reached every outcome (it is not vacuous)", () => {
  assert.ok(outcomes.ok > 100 && outcomes.needMore > 100 && outcomes.error > 100, JSON.stringify(outcomes));
});
