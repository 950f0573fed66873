import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { ModelError } from "../../lib/model/errors.js";
import { parseManifest } from "../../lib/model/manifest.js";
import { loadModelFolder } from "../../lib/model/model-folder.js";

// biome-ignore lint/suspicious/noExplicitAny: the tests edit the manifest as free-form JSON
type Loose = any;

const FILES = {
  "cave.onnx": "cave",
  "vae_encoder.onnx": "enc",
  "unet.onnx": "unet",
  "vae_decoder.onnx": "dec",
};
const sha = (text: string) => createHash("sha256").update(text).digest("hex");

/** The example manifest of docs/CONTRACTS.md, with real checksums of FILES. */
function contractManifest(): Record<string, unknown> {
  return {
    id: "codiff-tiny",
    version: "1.0.0",
    layout: "codiff-onestep",
    stages: {
      cave: {
        file: "cave.onnx",
        inputs: { image: "rgb01" },
        outputs: { tokens: "tokens", quality: "quality" },
      },
      vaeEncoder: { file: "vae_encoder.onnx", inputs: { image: "rgb_pm1" }, outputs: { latent: "latent" } },
      unet: {
        file: "unet.onnx",
        inputs: { sample: "latent", encoder_hidden_states: "tokens" },
        outputs: { out_sample: "eps" },
      },
      vaeDecoder: {
        file: "vae_decoder.onnx",
        inputs: { latent: "x0_unscaled" },
        outputs: { image: "rgb_pm1" },
      },
    },
    latent: { channels: 4, downscale: 8, scalingFactor: 0.18215 },
    diffusion: { timestep: 499, alphaBar: 0.27767, prediction: "epsilon" },
    cave: { downscale: 32, tokenDim: 1024, qualityOutput: "quality-0-100" },
    padMultiple: 64,
    dtype: "float32",
    tiling: { tile: 512, overlap: 64 },
    colorFix: "adain",
    sha256: Object.fromEntries(Object.entries(FILES).map(([file, text]) => [file, sha(text)])),
  };
}

/** Applies `edit` to a fresh manifest and returns the field the resulting error names. */
function badField(edit: (m: Record<string, Loose>) => void): string | undefined {
  const manifest = contractManifest() as Record<string, Loose>;
  edit(manifest);
  try {
    parseManifest(manifest);
  } catch (error) {
    assert.ok(error instanceof ModelError, String(error));
    assert.equal(error.code, "MODEL_MANIFEST_INVALID");
    assert.match(error.message, new RegExp(`"${error.field!.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}"`));
    return error.field;
  }
  assert.fail("the manifest was accepted");
}

describe("parseManifest", () => {
  it("accepts the contract's example, with the optional quality and skip inputs", () => {
    const m = parseManifest(contractManifest());
    assert.equal(m.id, "codiff-tiny");
    assert.equal(m.stages.unet.inputs["encoder_hidden_states"], "tokens");
    const extended = contractManifest() as Record<string, Loose>;
    extended.stages.cave.inputs.q = "quality";
    extended.stages.vaeDecoder.inputs.skip = "rgb_pm1";
    extended.dtype = "float16";
    const e = parseManifest(extended);
    assert.equal(e.stages.vaeDecoder.inputs["skip"], "rgb_pm1");
    assert.equal(e.dtype, "float16");
  });

  it("reads the optional encodeErrorTransfer (absent: 1; a number in (0, 1])", () => {
    assert.equal(parseManifest(contractManifest()).encodeErrorTransfer, 1);
    const measured = contractManifest() as Record<string, Loose>;
    measured.encodeErrorTransfer = 0.65;
    assert.equal(parseManifest(measured).encodeErrorTransfer, 0.65);
    for (const bad of [0, 1.5, -0.2, "0.6"])
      assert.equal(
        badField((m) => (m.encodeErrorTransfer = bad)),
        "encodeErrorTransfer",
      );
  });

  it("reads the optional bands (absent: none; maxQuality increasing, a folder name each)", () => {
    assert.deepEqual(parseManifest(contractManifest()).bands, []);
    const banded = contractManifest() as Record<string, Loose>;
    banded.bands = [
      { maxQuality: 5, model: "lowest" },
      { maxQuality: 10.5, model: "low" },
    ];
    assert.deepEqual(parseManifest(banded).bands, [
      { maxQuality: 5, model: "lowest" },
      { maxQuality: 10.5, model: "low" },
    ]);
    assert.equal(
      badField((m) => (m.bands = { maxQuality: 10, model: "low" })),
      "bands",
    );
    assert.equal(
      badField((m) => (m.bands = [{ maxQuality: 0, model: "low" }])),
      "bands[0].maxQuality",
    );
    assert.equal(
      badField((m) => (m.bands = [{ maxQuality: 10, model: "../other" }])),
      "bands[0].model",
    );
    assert.equal(
      badField(
        (m) =>
          (m.bands = [
            { maxQuality: 10, model: "low" },
            { maxQuality: 10, model: "lower" },
          ]),
      ),
      "bands[1].maxQuality",
    );
  });

  it("names the field at fault", () => {
    assert.equal(
      badField((m) => delete m.id),
      "id",
    );
    assert.equal(
      badField((m) => (m.layout = "sd-multistep")),
      "layout",
    );
    assert.equal(
      badField((m) => delete m.stages.unet),
      "stages.unet",
    );
    assert.equal(
      badField((m) => (m.stages.cave.file = "../etc/passwd")),
      "stages.cave.file",
    );
    assert.equal(
      badField((m) => (m.stages.unet.inputs.sample = "rgb02")),
      "stages.unet.inputs.sample",
    );
    assert.equal(
      badField((m) => delete m.stages.unet.inputs.encoder_hidden_states),
      "stages.unet.inputs",
    );
    assert.equal(
      badField((m) => (m.stages.vaeEncoder.inputs.extra = "tokens")),
      "stages.vaeEncoder.inputs.extra",
    );
    assert.equal(
      badField((m) => (m.stages.vaeDecoder.outputs = {})),
      "stages.vaeDecoder.outputs",
    );
    assert.equal(
      badField((m) => (m.latent.scalingFactor = 0)),
      "latent.scalingFactor",
    );
    assert.equal(
      badField((m) => (m.latent.channels = 2.5)),
      "latent.channels",
    );
    assert.equal(
      badField((m) => (m.diffusion.alphaBar = 1.5)),
      "diffusion.alphaBar",
    );
    assert.equal(
      badField((m) => (m.diffusion.prediction = "v")),
      "diffusion.prediction",
    );
    assert.equal(
      badField((m) => (m.cave.tokenDim = "1024")),
      "cave.tokenDim",
    );
    assert.equal(
      badField((m) => (m.padMultiple = 12)),
      "padMultiple",
    );
    assert.equal(
      badField((m) => (m.dtype = "bfloat16")),
      "dtype",
    );
    assert.equal(
      badField((m) => (m.tiling.tile = 500)),
      "tiling.tile",
    );
    assert.equal(
      badField((m) => (m.tiling.overlap = 256)),
      "tiling.overlap",
    );
    assert.equal(
      badField((m) => (m.colorFix = "histogram")),
      "colorFix",
    );
    assert.equal(
      badField((m) => (m.sha256["unet.onnx"] = "abc")),
      "sha256.unet.onnx",
    );
    assert.equal(
      badField((m) => delete m.sha256["cave.onnx"]),
      "sha256.cave.onnx",
    );
    assert.equal(
      badField((m) => (m.stages.extra = m.stages.unet)),
      "stages.extra",
    );
  });
});

describe("loadModelFolder", () => {
  const dirs: string[] = [];
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });
  async function folder(manifest: unknown, files = FILES): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), "unjpeg-model-"));
    dirs.push(dir);
    await writeFile(
      join(dir, "model.json"),
      typeof manifest === "string" ? manifest : JSON.stringify(manifest),
    );
    for (const [file, text] of Object.entries(files)) await writeFile(join(dir, file), text);
    return dir;
  }

  it("loads a valid folder and tags it id@version", async () => {
    const model = await loadModelFolder(await folder(contractManifest()));
    assert.equal(model.tag, "codiff-tiny@1.0.0");
    assert.ok(model.files.unet.endsWith("unet.onnx"));
  });

  it("refuses a stage file whose checksum differs, naming it", async () => {
    const dir = await folder(contractManifest(), { ...FILES, "unet.onnx": "tampered" });
    await assert.rejects(
      loadModelFolder(dir),
      (e: ModelError) => e.code === "MODEL_CHECKSUM_MISMATCH" && e.field === "sha256.unet.onnx",
    );
  });

  it("checks every listed file, external data included", async () => {
    const manifest = contractManifest() as Record<string, Loose>;
    manifest.sha256["unet.onnx.data"] = sha("weights");
    await loadModelFolder(await folder(manifest, { ...FILES, "unet.onnx.data": "weights" } as typeof FILES));
    const dir = await folder(manifest, { ...FILES, "unet.onnx.data": "other weights" } as typeof FILES);
    await assert.rejects(
      loadModelFolder(dir),
      (e: ModelError) => e.code === "MODEL_CHECKSUM_MISMATCH" && e.field === "sha256.unet.onnx.data",
    );
  });

  it("says what is missing: folder, stage file, JSON", async () => {
    await assert.rejects(
      loadModelFolder(join(tmpdir(), "no-such-unjpeg-model")),
      (e: ModelError) => e.code === "MODEL_NOT_FOUND",
    );
    const { "vae_decoder.onnx": _, ...three } = FILES;
    await assert.rejects(
      loadModelFolder(await folder(contractManifest(), three as typeof FILES)),
      (e: ModelError) => e.code === "MODEL_NOT_FOUND" && e.field === "stages.vaeDecoder.file",
    );
    await assert.rejects(
      loadModelFolder(await folder("{ not json")),
      (e: ModelError) => e.code === "MODEL_MANIFEST_INVALID",
    );
  });
});
