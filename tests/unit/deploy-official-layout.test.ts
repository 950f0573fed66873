/**
 * The layout of an official CODiff export (models/export/official), checked on the committed random
 * stand-in tests/fixtures/model-official-random: manifest values, float16 graph I/O with the official
 * names and shape pattern, the UNet's weights in external data, and each stage run through
 * onnxruntime-node against the float32 PyTorch reference tensors written with it.
 */
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";
import ort from "onnxruntime-node";
import { loadModelFolder, sha256OfFile } from "../../lib/model/model-folder.js";
import { makeTensor, readFloat32 } from "../../lib/model/tensors.js";

const dir = resolve(import.meta.dirname, "../fixtures/model-official-random");
const manifest = JSON.parse(readFileSync(join(dir, "model.json"), "utf8"));
/** Warnings off: ONNX Runtime notes float16 nodes it cannot fold on CPU, which is expected here. */
const quiet: ort.InferenceSession.SessionOptions = { logSeverityLevel: 3 };

interface Case {
  name: string;
  files: Record<string, string>;
  shapes: Record<string, number[]>;
}
const reference = JSON.parse(readFileSync(join(dir, "reference/cases.json"), "utf8")) as { cases: Case[] };

function load(c: Case, key: string): { data: Float32Array; dims: number[] } {
  const bytes = readFileSync(join(dir, "reference", c.files[key] ?? ""));
  const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  return { data, dims: c.shapes[key] ?? [] };
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
  return worst;
}

function maxAbs(a: Float32Array): number {
  return a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
}

describe("official export layout (random stand-in)", () => {
  it("has the official manifest values and passes the runtime's manifest and checksum checks", async () => {
    const folder = await loadModelFolder(dir, { verify: true });
    const m = folder.manifest;
    assert.equal(m.dtype, "float16");
    assert.deepEqual(m.latent, { channels: 4, downscale: 8, scalingFactor: 0.18215 });
    assert.equal(m.diffusion.timestep, 499);
    assert.ok(Math.abs(m.diffusion.alphaBar - 0.27767) < 1e-5, `alphaBar ${m.diffusion.alphaBar}`);
    assert.deepEqual(m.cave, { downscale: 32, tokenDim: 1024, qualityOutput: "quality-0-100" });
    assert.equal(m.padMultiple, 64);
    assert.deepEqual(m.tiling, { tile: 768, overlap: 256 });
    assert.equal(m.colorFix, "adain");
    assert.deepEqual(m.stages.unet.inputs, { sample: "latent", encoder_hidden_states: "tokens" });
    assert.deepEqual(m.stages.vaeDecoder.inputs, { latent: "x0_unscaled" }, "no skip input in CODiff");
    assert.deepEqual(m.stages.cave.inputs, { image: "rgb01" }, "no quality input in CODiff");
  });

  it("keeps the UNet's weights in unet.onnx.data, covered by a checksum", async () => {
    assert.ok(statSync(join(dir, "unet.onnx")).size < 64 * 1024, "unet.onnx should hold the graph only");
    assert.ok(statSync(join(dir, "unet.onnx.data")).size > 100 * 1024);
    assert.equal(await sha256OfFile(join(dir, "unet.onnx.data")), manifest.sha256["unet.onnx.data"]);
    assert.ok(readFileSync(join(dir, "unet.onnx")).includes("unet.onnx.data"), "graph names its data file");
  });

  it("declares float16 inputs and outputs with the official names and shape pattern", async () => {
    const dim = (d: number | string) => (typeof d === "number" ? d : "?");
    const expected: Record<string, Record<string, (number | string)[]>> = {
      cave: { image: ["?", 3, "?", "?"], tokens: ["?", "?", 1024], quality: ["?", 1] },
      vaeEncoder: { image: ["?", 3, "?", "?"], latent: ["?", 4, "?", "?"] },
      unet: {
        sample: ["?", 4, "?", "?"],
        encoder_hidden_states: ["?", "?", 1024],
        out_sample: ["?", 4, "?", "?"],
      },
      vaeDecoder: { latent: ["?", 4, "?", "?"], image: ["?", 3, "?", "?"] },
    };
    for (const [stage, values] of Object.entries(expected)) {
      const spec = manifest.stages[stage];
      const session = await ort.InferenceSession.create(join(dir, spec.file), quiet);
      assert.deepEqual([...session.inputNames].sort(), Object.keys(spec.inputs).sort(), `${stage} inputs`);
      assert.deepEqual([...session.outputNames].sort(), Object.keys(spec.outputs).sort(), `${stage} outputs`);
      for (const meta of [...session.inputMetadata, ...session.outputMetadata]) {
        assert.ok(meta.isTensor);
        assert.equal(meta.type, "float16", `${stage}.${meta.name} type`);
        assert.deepEqual(meta.shape.map(dim), values[meta.name], `${stage}.${meta.name} shape`);
      }
      await session.release();
    }
  });

  it("runs each stage in float16 close to the float32 reference, at sizes that are not multiples of 8", async () => {
    const sessions = Object.fromEntries(
      await Promise.all(
        Object.entries(manifest.stages as Record<string, { file: string }>).map(async ([stage, spec]) => [
          stage,
          await ort.InferenceSession.create(join(dir, spec.file), quiet),
        ]),
      ),
    ) as Record<string, ort.InferenceSession>;
    const f16 = (c: Case, key: string) => {
      const { data, dims } = load(c, key);
      return makeTensor(data, dims, "float16");
    };
    const pm1 = (c: Case) => {
      const { data, dims } = load(c, "padded_rgb01");
      return makeTensor(
        data.map((v) => 2 * v - 1),
        dims,
        "float16",
      );
    };
    for (const c of reference.cases) {
      const cave = await sessions["cave"]!.run({ image: f16(c, "padded_rgb01") });
      const encoder = await sessions["vaeEncoder"]!.run({ image: pm1(c) });
      const unet = await sessions["unet"]!.run({
        sample: f16(c, "latent"),
        encoder_hidden_states: f16(c, "tokens"),
      });
      const decoder = await sessions["vaeDecoder"]!.run({ latent: f16(c, "x0_unscaled") });
      const checks: [string, ort.Tensor, string, number][] = [
        // Measured: ~1e-4 for tokens, latent and eps, ~7e-4 for the decoder (float16 activations).
        ["tokens", cave["tokens"]!, "tokens", 0.002],
        ["quality", cave["quality"]!, "quality", 0.002],
        ["latent", encoder["latent"]!, "latent", 0.002],
        ["eps", unet["out_sample"]!, "eps", 0.003],
        ["decoder", decoder["image"]!, "decoder_rgb_pm1", 0.005],
      ];
      for (const [label, tensor, key, relative] of checks) {
        const want = load(c, key);
        assert.deepEqual(tensor.dims, want.dims, `${c.name} ${label} dims`);
        const diff = maxAbsDiff(readFloat32(tensor), want.data);
        const scale = Math.max(1, maxAbs(want.data));
        assert.ok(
          diff <= relative * scale,
          `${c.name} ${label}: max |Δ| ${diff} over ${relative} × ${scale}`,
        );
      }
    }
    for (const session of Object.values(sessions)) await session.release();
  });
});
