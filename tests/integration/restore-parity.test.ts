/**
 * Parity with the PyTorch reference: the random-weight fixture model (tests/fixtures/model-random) comes
 * with the reference's tensors after every step for two small images; the TypeScript runtime must match
 * them stage by stage (1e-5) and end to end (at most 2/255 after rounding to 8 bits).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { runPipeline, x0FromEps } from "../../lib/model/pipeline.js";
import { runStage } from "../../lib/model/run-stage.js";
import { closeAllModels, openModel } from "../../lib/model/sessions.js";

const MODEL = join(import.meta.dirname, "../fixtures/model-random");
const REF = join(MODEL, "reference");

interface Case {
  name: string;
  width: number;
  height: number;
  files: Record<string, string>;
  shapes: Record<string, number[]>;
}
const cases = (JSON.parse(readFileSync(join(REF, "cases.json"), "utf8")) as { cases: Case[] }).cases;

function tensor(c: Case, key: string): { data: Float32Array; dims: number[] } {
  const bytes = readFileSync(join(REF, c.files[key]!));
  const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  return { data, dims: c.shapes[key]! };
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

/** Planar [0,1] floats that are k/255 → interleaved 8-bit RGB. */
function toInterleaved(planar: Float32Array, w: number, h: number): Uint8Array {
  const plane = w * h;
  const out = new Uint8Array(plane * 3);
  for (let i = 0; i < plane; i++) {
    for (let ch = 0; ch < 3; ch++) {
      const v = planar[ch * plane + i]! * 255;
      assert.ok(Math.abs(v - Math.round(v)) < 1e-3, "reference input is 8-bit");
      out[i * 3 + ch] = Math.round(v);
    }
  }
  return out;
}

after(closeAllModels);

describe("parity with the PyTorch reference (random fixture model)", () => {
  for (const c of cases) {
    it(`${c.name}: every stage matches to 1e-5`, async () => {
      const sessions = await openModel(MODEL, { threads: 1 });
      const padded = tensor(c, "padded_rgb01");
      const cave = await runStage(sessions, "cave", { rgb01: padded });
      assert.ok(maxAbsDiff(cave.tokens!.data, tensor(c, "tokens").data) < 1e-5, "tokens");
      assert.ok(maxAbsDiff(cave.quality!.data, tensor(c, "quality").data) < 1e-4, "quality");
      const pm1 = { data: padded.data.map((v) => v * 2 - 1), dims: padded.dims };
      const enc = await runStage(sessions, "vaeEncoder", { rgb_pm1: pm1 });
      assert.ok(maxAbsDiff(enc.latent!.data, tensor(c, "latent").data) < 1e-5, "latent");
      const unet = await runStage(sessions, "unet", {
        latent: tensor(c, "latent"),
        tokens: tensor(c, "tokens"),
      });
      assert.ok(maxAbsDiff(unet.eps!.data, tensor(c, "eps").data) < 1e-5, "eps");
      const { alphaBar } = sessions.model.manifest.diffusion;
      const x0 = x0FromEps(
        tensor(c, "latent").data,
        tensor(c, "eps").data,
        alphaBar,
        sessions.model.manifest.latent.scalingFactor,
      );
      assert.ok(maxAbsDiff(x0, tensor(c, "x0_unscaled").data) < 1e-4, "x0_unscaled");
      const dec = await runStage(sessions, "vaeDecoder", {
        x0_unscaled: tensor(c, "x0_unscaled"),
        rgb_pm1: pm1,
      });
      assert.ok(maxAbsDiff(dec.rgb_pm1!.data, tensor(c, "decoder_rgb_pm1").data) < 1e-5, "decoder");
    });

    it(`${c.name}: the whole pipeline matches within 2/255`, async () => {
      const sessions = await openModel(MODEL, { threads: 1 });
      const rgb = toInterleaved(tensor(c, "input_rgb01").data, c.width, c.height);
      const result = await runPipeline(sessions, {
        rgb,
        width: c.width,
        height: c.height,
        tableQuality: null,
      });
      const expected = toInterleaved(
        tensor(c, "output_rgb01").data.map((v) => Math.round(v * 255) / 255),
        c.width,
        c.height,
      );
      let max = 0;
      for (let i = 0; i < rgb.length; i++) max = Math.max(max, Math.abs(result.rgb[i]! - expected[i]!));
      assert.ok(max <= 2, `max difference ${max}/255`);
      assert.equal(result.tiles, 1);
      assert.equal(result.cave.mode, "whole");
      // The random model changes the picture a lot, so agreement is not an accident of identity.
      let changed = 0;
      for (let i = 0; i < rgb.length; i++) changed = Math.max(changed, Math.abs(result.rgb[i]! - rgb[i]!));
      assert.ok(changed > 20, `the model changed pixels by at most ${changed}`);
      const predicted = tensor(c, "quality").data[0]!;
      assert.ok(Math.abs(result.predictedQuality! - predicted) < 1e-3);
    });
  }
});
