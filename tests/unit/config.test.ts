import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError, loadConfig } from "../../lib/config.js";
import { restoreOptionsFromConfig } from "../../lib/restore/options.js";

test("defaults match docs/CONTRACTS.md", () => {
  const config = loadConfig({});
  assert.equal(config.derivativeSuffix, ".restored");
  assert.equal(config.derivativePrefix, "");
  assert.equal(config.format, "jpeg");
  assert.equal(config.skipQuality, 90);
  assert.equal(config.maxPixels, 50_000_000);
  assert.equal(config.maxBytes, 52_428_800);
  assert.equal(config.executionProvider, "cpu");
  assert.equal(config.modelConcurrency, 2);
  assert.deepEqual(config.sourcePrefixes, []);
  assert.deepEqual(config.signingKeys, []);
  assert.equal(config.s3Port, 4569);
  assert.equal(config.httpPort, 3000);
  assert.equal(config.projection, true);
  assert.ok(Object.isFrozen(config));
});

test("lists and booleans are parsed", () => {
  const config = loadConfig({
    UNJPEG_SOURCE_PREFIXES: "photos/, uploads/ ,",
    UNJPEG_SIGNING_KEYS: "new,old",
    UNJPEG_S3_FORCE_PATH_STYLE: "true",
    UNJPEG_FORMAT: "WEBP",
  });
  assert.deepEqual(config.sourcePrefixes, ["photos/", "uploads/"]);
  assert.deepEqual(config.signingKeys, ["new", "old"]);
  assert.equal(config.s3ForcePathStyle, true);
  assert.equal(config.format, "webp");
});

test("UNJPEG_PROJECTION turns the projection off with false or 0, and takes nothing else", () => {
  assert.equal(loadConfig({ UNJPEG_PROJECTION: "false" }).projection, false);
  assert.equal(loadConfig({ UNJPEG_PROJECTION: "0" }).projection, false);
  assert.equal(loadConfig({ UNJPEG_PROJECTION: "TRUE" }).projection, true);
  assert.throws(
    () => loadConfig({ UNJPEG_PROJECTION: "off" }),
    (error: unknown) =>
      error instanceof ConfigError && /UNJPEG_PROJECTION must be true or false/.test(error.message),
  );
});

test("every problem is reported in one error", () => {
  assert.throws(
    () =>
      loadConfig({
        UNJPEG_FORMAT: "gif",
        UNJPEG_SKIP_QUALITY: "abc",
        UNJPEG_EXECUTION_PROVIDER: "tpu",
        UNJPEG_S3_ENDPOINT: "not a url",
      }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.code, "CONFIG_INVALID");
      assert.equal(error.problems.length, 4);
      assert.match(error.message, /UNJPEG_FORMAT/);
      assert.match(error.message, /UNJPEG_SKIP_QUALITY/);
      return true;
    },
  );
});

test("a suffix and prefix both empty would overwrite sources and is refused", () => {
  assert.throws(() => loadConfig({ UNJPEG_DERIVATIVE_SUFFIX: "" }), ConfigError);
});

test("UNJPEG_MODEL_CONCURRENCY sets the run queue's turns, from 1 to 64", () => {
  assert.equal(loadConfig({ UNJPEG_MODEL_CONCURRENCY: "1" }).modelConcurrency, 1);
  assert.equal(loadConfig({ UNJPEG_MODEL_CONCURRENCY: "8" }).modelConcurrency, 8);
  for (const bad of ["0", "65", "1.5", "many"]) {
    assert.throws(
      () => loadConfig({ UNJPEG_MODEL_CONCURRENCY: bad }),
      /UNJPEG_MODEL_CONCURRENCY must be an integer from 1 to 64/,
    );
  }
});

test("S3 timeouts: defaults, overrides, and a bad value refused (reliability case 3)", () => {
  const defaults = loadConfig({});
  assert.deepEqual([defaults.s3ConnectTimeoutMs, defaults.s3RequestTimeoutMs], [5_000, 30_000]);
  const set = loadConfig({ UNJPEG_S3_CONNECT_TIMEOUT_MS: "800", UNJPEG_S3_REQUEST_TIMEOUT_MS: "120000" });
  assert.deepEqual([set.s3ConnectTimeoutMs, set.s3RequestTimeoutMs], [800, 120_000]);
  assert.throws(
    () => loadConfig({ UNJPEG_S3_CONNECT_TIMEOUT_MS: "0", UNJPEG_S3_REQUEST_TIMEOUT_MS: "soon" }),
    (error: unknown) => error instanceof ConfigError && error.problems.length === 2,
  );
});

test("UNJPEG_TRELLIS is off unless asked for, and reaches the restore options", () => {
  assert.equal(loadConfig({}).trellis, false);
  assert.equal(loadConfig({ UNJPEG_TRELLIS: "true" }).trellis, true);
  assert.equal(restoreOptionsFromConfig(loadConfig({ UNJPEG_TRELLIS: "1" })).trellis, true);
  assert.throws(
    () => loadConfig({ UNJPEG_TRELLIS: "yes" }),
    (error: unknown) =>
      error instanceof ConfigError && /UNJPEG_TRELLIS must be true or false/.test(error.message),
  );
});
