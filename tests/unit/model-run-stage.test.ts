/**
 * Which values a stage is fed follows the manifest: a declared `quality` input on cave gets the table
 * estimate, undeclared optional inputs are not fed, float16 inputs get half tensors. The graph is a
 * stand-in that records its feeds (real graphs are exercised in tests/integration/restore-parity).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import ort from "onnxruntime-node";
import { computeTokens } from "../../lib/model/cave.js";
import { parseManifest } from "../../lib/model/manifest.js";
import { runStage } from "../../lib/model/run-stage.js";
import type { ModelSessions, StageSession } from "../../lib/model/sessions.js";

const digest = "0".repeat(64);

function sessions(caveInputs: Record<string, string>, inputTypes: Record<string, "float32" | "float16">) {
  const manifest = parseManifest({
    id: "stand-in",
    version: "1",
    layout: "codiff-onestep",
    stages: {
      cave: { file: "c.onnx", inputs: caveInputs, outputs: { tokens: "tokens", quality: "quality" } },
      vaeEncoder: { file: "e.onnx", inputs: { image: "rgb_pm1" }, outputs: { latent: "latent" } },
      unet: { file: "u.onnx", inputs: { sample: "latent", ctx: "tokens" }, outputs: { out: "eps" } },
      vaeDecoder: { file: "d.onnx", inputs: { latent: "x0_unscaled" }, outputs: { image: "rgb_pm1" } },
    },
    latent: { channels: 4, downscale: 8, scalingFactor: 0.18215 },
    diffusion: { timestep: 499, alphaBar: 0.27767, prediction: "epsilon" },
    cave: { downscale: 32, tokenDim: 2, qualityOutput: "quality-0-100" },
    padMultiple: 32,
    dtype: "float32",
    tiling: { tile: 512, overlap: 64 },
    colorFix: "none",
    sha256: { "c.onnx": digest, "e.onnx": digest, "u.onnx": digest, "d.onnx": digest },
  });
  const feeds: Record<string, ort.Tensor>[] = [];
  const cave: StageSession = {
    inputTypes,
    session: {
      run: async (given: Record<string, ort.Tensor>) => {
        feeds.push(given);
        const image = Object.values(given).find((t) => t.dims.length === 4)!;
        const n = (image.dims[2]! / 32) * (image.dims[3]! / 32);
        return {
          tokens: new ort.Tensor("float16", new Uint16Array(n * 2).fill(0x3c00), [1, n, 2]), // 1.0 in half
          quality: new ort.Tensor("float32", Float32Array.of(42), [1, 1]),
        };
      },
    } as unknown as ort.InferenceSession,
  };
  const model = { dir: "/stand-in", manifest, files: {} as never, tag: "stand-in@1" };
  return {
    sessions: { model, provider: "cpu", threads: 1, stages: { cave } } as unknown as ModelSessions,
    feeds,
  };
}

describe("stage feeds follow the manifest", () => {
  it("feeds the table quality to a declared quality input, in the graph's float type", async () => {
    const { sessions: s, feeds } = sessions(
      { image: "rgb01", q: "quality" },
      { image: "float16", q: "float32" },
    );
    const rgb = new Uint8Array(40 * 33 * 3).fill(255);
    const result = await computeTokens(s, { rgb, width: 40, height: 33, tableQuality: 23 });
    assert.equal(feeds.length, 1);
    assert.deepEqual(Object.keys(feeds[0]!).sort(), ["image", "q"]);
    assert.equal(feeds[0]!["q"]!.type, "float32");
    assert.equal((feeds[0]!["q"]!.data as Float32Array)[0], 23);
    assert.equal(feeds[0]!["image"]!.type, "float16");
    assert.deepEqual(feeds[0]!["image"]!.dims, [1, 3, 64, 64], "padded to 32 bottom and right");
    assert.equal((feeds[0]!["image"]!.data as Uint16Array)[0], 0x3c00, "255 → 1.0 in half precision");
    assert.equal(result.predictedQuality, 42);
    assert.deepEqual(
      [...result.tokens.data],
      new Array(4 * 2).fill(1),
      "float16 outputs read back as float32",
    );
  });

  it("does not feed an optional input the manifest does not declare", async () => {
    const { sessions: s, feeds } = sessions({ image: "rgb01" }, { image: "float32" });
    await runStage(s, "cave", {
      rgb01: { data: new Float32Array(3 * 32 * 32), dims: [1, 3, 32, 32] },
      quality: { data: Float32Array.of(10), dims: [1, 1] },
    });
    assert.deepEqual(Object.keys(feeds[0]!), ["image"]);
    await assert.rejects(runStage(s, "cave", {}), { code: "MODEL_RUN_FAILED" });
  });
});
