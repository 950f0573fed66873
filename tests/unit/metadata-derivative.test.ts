import assert from "node:assert/strict";
import { test } from "node:test";
import {
  buildDerivativeMetadata,
  hasDerivativeMarker,
  isCurrent,
  META,
  normalizeETag,
  parseDerivativeMetadata,
} from "../../lib/storage/metadata.js";

const meta = {
  sourceKey: "fotos/Kätzchen 1+1.jpg",
  sourceETag: '"abc123"',
  sourceVersion: "v7",
  quality: 12,
  model: "codiff-tiny@1.0.0",
  restoreMs: 123.4,
};

test("metadata names and values follow docs/CONTRACTS.md", () => {
  const built = buildDerivativeMetadata(meta);
  assert.deepEqual(built, {
    "unjpeg-derivative": "1",
    "unjpeg-source-key": "fotos%2FK%C3%A4tzchen%201%2B1.jpg",
    "unjpeg-source-etag": "abc123",
    "unjpeg-source-version": "v7",
    "unjpeg-quality": "12",
    "unjpeg-model": "codiff-tiny@1.0.0",
    "unjpeg-ms": "123",
  });
  // Header values must be ASCII.
  for (const value of Object.values(built)) assert.match(value, /^[\x20-\x7e]*$/);
});

test("build then parse gives the same facts back", () => {
  const parsed = parseDerivativeMetadata(buildDerivativeMetadata(meta));
  assert.deepEqual(parsed, { ...meta, sourceETag: "abc123", restoreMs: 123 });
  const unversioned = parseDerivativeMetadata(
    buildDerivativeMetadata({ ...meta, sourceVersion: undefined, quality: null }),
  );
  assert.equal(unversioned?.sourceVersion, undefined);
  assert.equal(unversioned?.quality, null);
});

test("objects without the marker or with broken metadata are not derivatives", () => {
  assert.equal(parseDerivativeMetadata(undefined), null);
  assert.equal(parseDerivativeMetadata({}), null);
  assert.equal(parseDerivativeMetadata({ [META.derivative]: "1" }), null);
  const bad = { ...buildDerivativeMetadata(meta), [META.sourceKey]: "%E0%A4%A" };
  assert.equal(parseDerivativeMetadata(bad), null);
  assert.equal(hasDerivativeMarker({ [META.derivative]: "yes" }), true);
  assert.equal(hasDerivativeMarker({ other: "1" }), false);
});

test("normalizeETag strips quotes and weak markers", () => {
  assert.equal(normalizeETag('"abc"'), "abc");
  assert.equal(normalizeETag('W/"abc"'), "abc");
  assert.equal(normalizeETag("abc-2"), "abc-2");
  assert.equal(normalizeETag(undefined), undefined);
});

test("isCurrent: same source key, same ETag, same model", () => {
  const derivative = { eTag: "d1", metadata: buildDerivativeMetadata(meta) };
  const source = { key: meta.sourceKey, eTag: '"abc123"', metadata: {} };
  assert.equal(isCurrent(derivative, source, "codiff-tiny@1.0.0"), true);
  assert.equal(
    isCurrent(derivative, { ...source, eTag: '"def"' }, "codiff-tiny@1.0.0"),
    false,
    "newer source",
  );
  assert.equal(isCurrent(derivative, source, "codiff-tiny@1.1.0"), false, "other model");
  assert.equal(isCurrent(derivative, { ...source, key: "fotos/other.jpg" }, "codiff-tiny@1.0.0"), false);
  assert.equal(
    isCurrent({ eTag: "d1", metadata: {} }, source, "codiff-tiny@1.0.0"),
    false,
    "not a derivative",
  );
  assert.equal(isCurrent(derivative, { ...source, eTag: undefined }, "codiff-tiny@1.0.0"), false);
});

test("isCurrent: an object at a derivative key without unjpeg's full metadata is never current (reliability case 8)", () => {
  const source = { key: meta.sourceKey, eTag: '"abc123"', metadata: {} };
  const full = buildDerivativeMetadata(meta);
  // A half-written object the local S3 left without its metadata, or with only part of it.
  const partial: Record<string, string>[] = [
    {},
    { [META.derivative]: "1" },
    ...[META.derivative, META.sourceKey, META.sourceETag, META.model].map((name) => {
      const { [name]: _dropped, ...rest } = full;
      return rest;
    }),
    { ...full, [META.derivative]: "yes" },
  ];
  for (const metadata of partial) {
    assert.equal(isCurrent({ eTag: "d1", metadata }, source, meta.model), false, JSON.stringify(metadata));
  }
});
