/**
 * Parity with the PyTorch reference: the random-weight fixture model (tests/fixtures/model-random) comes
 * with the reference's tensors after every step for two small images; the TypeScript runtime must match
 * them stage by stage (1e-5) and end to end (at most 2/255 after rounding to 8 bits).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { after, describe, it } from "node:test";
import { runPipeline, x0FromEps } from "../../lib/model/pipeline.js";
import type { SourceTables } from "../../lib/model/qtables.js";
import { runStage } from "../../lib/model/run-stage.js";
import { closeAllModels, openModel } from "../../lib/model/sessions.js";

/** The compact layout (float32) and the official layout (float16 graphs, external data, 1024-d tokens). */
const MODELS = [
  { dir: join(import.meta.dirname, "../fixtures/model-random"), stageTolerance: 1e-5, minChange: 20 },
  // A model told the compression: `qtables` (the reference JPEG's own tables) on the UNet and decoder.
  { dir: join(import.meta.dirname, "../fixtures/model-random-tables"), stageTolerance: 1e-5, minChange: 20 },
  // float16 activations: the reference is float32 PyTorch with float16-rounded weights (its README).
  {
    dir: join(import.meta.dirname, "../fixtures/model-official-random"),
    stageTolerance: 5e-3,
    minChange: 20,
  },
  // The shipped, trained model with its own reference (models/codiff-tiny/reference).
  { dir: join(import.meta.dirname, "../../models/codiff-tiny"), stageTolerance: 1e-4, minChange: 2 },
];

interface Case {
  name: string;
  width: number;
  height: number;
  files: Record<string, string>;
  shapes: Record<string, number[]>;
}
function casesOf(model: string): Case[] {
  return (JSON.parse(readFileSync(join(model, "reference", "cases.json"), "utf8")) as { cases: Case[] })
    .cases;
}

function tensor(c: Case & { model: string }, key: string): { data: Float32Array; dims: number[] } {
  const bytes = readFileSync(join(c.model, "reference", c.files[key]!));
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

/** The reference's `qtables` ([1, 2, 64]) as luma and chroma rows, for models that take them. */
function referenceTables(c: Case & { model: string }): SourceTables | null {
  if (c.files["qtables"] === undefined) return null;
  const { data } = tensor(c, "qtables");
  return [Array.from(data.subarray(0, 64)), Array.from(data.subarray(64, 128))];
}

after(closeAllModels);

function close(label: string, actual: Float32Array, expected: Float32Array, tolerance: number): void {
  let scale = 1;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  const diff = maxAbsDiff(actual, expected);
  assert.ok(diff <= tolerance * scale, `${label}: max |Δ| ${diff} over ${tolerance} × ${scale}`);
}

for (const model of MODELS) {
  describe(`parity with the PyTorch reference (${basename(model.dir)})`, () => {
    for (const base of casesOf(model.dir)) {
      const c = { ...base, model: model.dir };
      it(`${c.name}: every stage matches (${model.stageTolerance})`, async () => {
        const sessions = await openModel(model.dir, { threads: 1 });
        const tol = model.stageTolerance;
        const padded = tensor(c, "padded_rgb01");
        const cave = await runStage(sessions, "cave", { rgb01: padded });
        close("tokens", cave.tokens!.data, tensor(c, "tokens").data, tol);
        close("quality", cave.quality!.data, tensor(c, "quality").data, tol);
        const pm1 = { data: padded.data.map((v) => v * 2 - 1), dims: padded.dims };
        const enc = await runStage(sessions, "vaeEncoder", { rgb_pm1: pm1 });
        close("latent", enc.latent!.data, tensor(c, "latent").data, tol);
        // Fed only where the manifest declares it (runStage feeds exactly the declared inputs).
        const qtables = c.files["qtables"] === undefined ? {} : { qtables: tensor(c, "qtables") };
        const unet = await runStage(sessions, "unet", {
          latent: tensor(c, "latent"),
          tokens: tensor(c, "tokens"),
          ...qtables,
        });
        close("eps", unet.eps!.data, tensor(c, "eps").data, tol);
        const { manifest } = sessions.model;
        const x0 = x0FromEps(
          tensor(c, "latent").data,
          tensor(c, "eps").data,
          manifest.diffusion.alphaBar,
          manifest.latent.scalingFactor,
        );
        close("x0_unscaled", x0, tensor(c, "x0_unscaled").data, 1e-5);
        const dec = await runStage(sessions, "vaeDecoder", {
          x0_unscaled: tensor(c, "x0_unscaled"),
          rgb_pm1: pm1,
          ...qtables,
        });
        close("decoder", dec.rgb_pm1!.data, tensor(c, "decoder_rgb_pm1").data, tol);
      });

      it(`${c.name}: the whole pipeline matches within 2/255`, async (t) => {
        const sessions = await openModel(model.dir, { threads: 1 });
        const rgb = toInterleaved(tensor(c, "input_rgb01").data, c.width, c.height);
        // The reference stops before the colour fix.
        const result = await runPipeline(
          sessions,
          { rgb, width: c.width, height: c.height, tableQuality: null, tables: referenceTables(c) },
          { colorFix: "none" },
        );
        const reference = tensor(c, "output_rgb01").data;
        const plane = c.width * c.height;
        let max = 0;
        for (let i = 0; i < plane; i++) {
          for (let ch = 0; ch < 3; ch++) {
            max = Math.max(max, Math.abs(result.rgb[i * 3 + ch]! - reference[ch * plane + i]! * 255));
          }
        }
        t.diagnostic(`max difference ${max.toFixed(3)}/255`);
        assert.ok(max <= 2, `max difference ${max}/255`);
        assert.equal(result.tiles, 1);
        assert.equal(result.cave.mode, "whole");
        // The model changes the picture, so agreement is not an accident of identity.
        let changed = 0;
        for (let i = 0; i < rgb.length; i++) changed = Math.max(changed, Math.abs(result.rgb[i]! - rgb[i]!));
        assert.ok(changed >= model.minChange, `the model changed pixels by at most ${changed}`);
        const predicted = tensor(c, "quality").data[0]!;
        assert.ok(Math.abs(result.predictedQuality! - predicted) < 0.5);
      });
    }
  });
}
