/**
 * The inference layer (layers/build.ts): what goes in, what is pruned, the size check, and that the staged
 * folder works on its own (sharp, onnxruntime-node and the handlers load from it in a bare process).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { after, describe, it } from "node:test";
import {
  buildLayer,
  formatReport,
  handlerTargets,
  LAMBDA_UNZIPPED_LIMIT_BYTES,
  LayerBuildError,
  productionPackages,
} from "../../layers/build.js";

const root = resolve(import.meta.dirname, "../..");
const scratch = mkdtempSync(join(tmpdir(), "unjpeg-layer-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** The shipped model once it is committed; until then the committed random model stands in. */
const shipped = join(root, "models/codiff-tiny");
const modelDir = existsSync(join(shipped, "model.json"))
  ? shipped
  : join(root, "tests/fixtures/model-random");

describe("productionPackages", () => {
  const lock = JSON.stringify({
    lockfileVersion: 3,
    packages: {
      "": { name: "unjpeg" },
      "node_modules/sharp": {},
      "node_modules/osls": { dev: true },
      "node_modules/@img/sharp-linux-x64": { optional: true, os: ["linux"], cpu: ["x64"], libc: ["glibc"] },
      "node_modules/@img/sharp-linuxmusl-x64": {
        optional: true,
        os: ["linux"],
        cpu: ["x64"],
        libc: ["musl"],
      },
      "node_modules/@img/sharp-darwin-arm64": { optional: true, os: ["darwin"], cpu: ["arm64"] },
      "node_modules/@img/sharp-linux-arm64": { optional: true, os: ["linux"], cpu: ["arm64"] },
      "node_modules/not-windows": { os: ["!win32"] },
      "node_modules/only-windows": { os: ["win32"] },
      "node_modules/a/node_modules/b": {},
      "node_modules/x/node_modules/dev-only": { dev: true },
    },
  });

  it("keeps runtime packages that run on linux-x64 glibc, nested ones included", () => {
    assert.deepEqual(productionPackages(lock), [
      "node_modules/@img/sharp-linux-x64",
      "node_modules/a/node_modules/b",
      "node_modules/not-windows",
      "node_modules/sharp",
    ]);
  });

  it("refuses a lock without a packages map", () => {
    assert.throws(() => productionPackages('{"lockfileVersion":1,"dependencies":{}}'), LayerBuildError);
  });

  it("finds the repository's runtime dependencies and none of its dev tools", () => {
    const packages = productionPackages(readFileSync(join(root, "package-lock.json"), "utf8"));
    for (const name of ["onnxruntime-node", "sharp", "@middy/core", "@aws-sdk/client-s3"]) {
      assert.ok(packages.includes(`node_modules/${name}`), `${name} missing`);
    }
    for (const name of ["osls", "typescript", "tsx", "@biomejs/biome", "s3rver"]) {
      assert.ok(!packages.includes(`node_modules/${name}`), `${name} is a dev dependency`);
    }
  });
});

describe("buildLayer", () => {
  it("fails clearly when the model folder is missing", () => {
    const missing = join(scratch, "no-model");
    assert.throws(
      () => buildLayer({ modelDir: missing, out: join(scratch, "unused") }),
      (error: unknown) =>
        error instanceof LayerBuildError &&
        error.message.includes(missing) &&
        /model\.json/.test(error.message),
    );
  });

  it("fails when a manifest names a graph that is not there", () => {
    const broken = join(scratch, "broken-model");
    mkdirSync(broken, { recursive: true });
    writeFileSync(
      join(broken, "model.json"),
      JSON.stringify({ id: "x", stages: { cave: { file: "cave.onnx" } } }),
    );
    assert.throws(() => buildLayer({ modelDir: broken, out: join(scratch, "unused") }), /cave\.onnx/);
  });

  it("every function re-export points at a handler module", () => {
    assert.deepEqual(handlerTargets(), [
      "dist/handlers/batch-operations.js",
      "dist/handlers/cdn-origin.js",
      "dist/handlers/s3-upload.js",
    ]);
  });

  const sources = handlerTargets().map((target) =>
    join(root, "handlers", basename(target).replace(/\.js$/, ".ts")),
  );
  const absent = sources.filter((path) => !existsSync(path));
  const skip = absent.length > 0 ? `handlers not written yet: ${absent.join(", ")}` : false;

  it(`stages a complete linux-x64 layer under Lambda's limit (${basename(modelDir)})`, { skip }, () => {
    for (const target of handlerTargets()) {
      assert.ok(existsSync(join(root, target)), `${target} missing: run npm run build first`);
    }
    const out = join(scratch, "layer");
    const report = buildLayer({ modelDir, out });
    process.stdout.write(`${formatReport(report)}\n`);
    assert.ok(report.bytes.total < LAMBDA_UNZIPPED_LIMIT_BYTES);
    assert.ok(report.bytes.total > report.bytes.nodeModules, "the total includes every part");

    const nodejs = join(out, "nodejs");
    assert.equal(JSON.parse(readFileSync(join(nodejs, "package.json"), "utf8")).type, "module");
    for (const target of handlerTargets())
      assert.ok(existsSync(join(nodejs, target)), `${target} not staged`);
    const bin = join(nodejs, "node_modules/onnxruntime-node/bin");
    for (const napi of readdirSync(bin)) {
      assert.deepEqual(readdirSync(join(bin, napi)), ["linux"], "other platforms pruned");
      assert.deepEqual(readdirSync(join(bin, napi, "linux")), ["x64"]);
      const files = readdirSync(join(bin, napi, "linux/x64"));
      assert.ok(files.includes("libonnxruntime.so.1"));
      assert.ok(!files.some((file) => /providers_cuda/.test(file)), "no CUDA provider in a CPU layer");
    }
    const img = readdirSync(join(nodejs, "node_modules/@img"));
    assert.ok(img.includes("sharp-linux-x64") && img.includes("sharp-libvips-linux-x64"));
    assert.ok(!img.some((name) => /darwin|win32|musl|arm/.test(name)), `foreign binaries: ${img}`);
    for (const dev of ["osls", "typescript", "tsx", "@biomejs"]) {
      assert.ok(!existsSync(join(nodejs, "node_modules", dev)), `${dev} staged`);
    }
    const manifest = JSON.parse(readFileSync(join(modelDir, "model.json"), "utf8"));
    assert.ok(existsSync(join(nodejs, "models", manifest.id, "model.json")));

    // A bare process with only the staged folder: native modules load, the model runs, handlers import.
    const probe = join(nodejs, "probe.mjs");
    writeFileSync(
      probe,
      [
        'import sharp from "sharp";',
        'import ort from "onnxruntime-node";',
        "// Lambda's runtime provides this global for streaming handlers; loading the module only needs its shape.",
        "globalThis.awslambda ??= { streamifyResponse: (fn) => fn, HttpResponseStream: { from: (s) => s } };",
        "const png = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#808080' } }).png().toBuffer();",
        `const session = await ort.InferenceSession.create("./models/${manifest.id}/${manifest.stages.cave.file}");`,
        `for (const h of ${JSON.stringify(handlerTargets())}) {`,
        "  const m = await import('./' + h);",
        "  if (typeof m.handler !== 'function') throw new Error(h + ': no handler export');",
        "}",
        "console.log(JSON.stringify({ png: png.length, inputs: session.inputNames }));",
      ].join("\n"),
    );
    const output = execFileSync(process.execPath, [probe], {
      cwd: nodejs,
      env: {
        PATH: process.env["PATH"],
        UNJPEG_BUCKET: "probe",
        UNJPEG_MODEL_DIR: join(nodejs, "models", manifest.id),
      },
      encoding: "utf8",
    });
    const result = JSON.parse(output.trim().split("\n").at(-1) ?? "{}");
    assert.ok(result.png > 0);
    assert.deepEqual(result.inputs, Object.keys(manifest.stages.cave.inputs));
  });

  it("refuses a layer over the limit and prints the sizes", () => {
    const noFunctions = join(scratch, "no-functions"); // the size check does not need the handlers
    mkdirSync(noFunctions, { recursive: true });
    const options = {
      modelDir,
      out: join(scratch, "too-big"),
      limitBytes: 10 * 1_048_576,
      functionDir: noFunctions,
    };
    assert.throws(
      () => buildLayer(options),
      (error: unknown) =>
        error instanceof LayerBuildError &&
        /layer too large/.test(error.message) &&
        /node_modules\s+\d+\.\d MiB/.test(error.message),
    );
  });
});
