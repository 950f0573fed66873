// Parity check of an exported model folder against its PyTorch reference tensors, through
// onnxruntime-node, following model.json the way the runtime must. Not a test: a tool for the exporter.
//   node models/export/check_onnx.mjs models/codiff-tiny [reference-dir]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';

const dir = process.argv[2] ?? 'tests/fixtures/model-random';
const refDir = process.argv[3] ?? join(dir, 'reference');
const man = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
const cases = JSON.parse(readFileSync(join(refDir, 'cases.json'), 'utf8'));

const load = (rel) => {
  const b = readFileSync(join(refDir, rel));
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
};
const maxDiff = (a, b) => {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

// Edge padding, bottom and right only, to padMultiple.
function pad(data, c, h, w, mult) {
  const H = Math.ceil(h / mult) * mult;
  const W = Math.ceil(w / mult) * mult;
  const out = new Float32Array(c * H * W);
  for (let k = 0; k < c; k++)
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++)
        out[(k * H + y) * W + x] = data[(k * h + Math.min(y, h - 1)) * w + Math.min(x, w - 1)];
  return { out, H, W };
}

const sess = {};
for (const [k, s] of Object.entries(man.stages)) sess[k] = await ort.InferenceSession.create(join(dir, s.file));
const T = (d, dims) => new ort.Tensor('float32', d, dims);
let worst = 0;
for (const c of cases.cases) {
  const { height: h, width: w } = c;
  const input = load(c.files.input_rgb01);
  const { out: xp, H, W } = pad(input, 3, h, w, man.padMultiple);
  const cave = await sess.cave.run({ image: T(xp, [1, 3, H, W]) });
  const pm1 = xp.map((v) => v * 2 - 1);
  const enc = await sess.vaeEncoder.run({ image: T(pm1, [1, 3, H, W]) });
  const z = enc.latent;
  // A model told the compression gets the reference's tables wherever the manifest declares them.
  const qt = c.files.qtables ? { qtables: T(load(c.files.qtables), [1, 2, 64]) } : {};
  const un = await sess.unet.run({ sample: z, encoder_hidden_states: cave.tokens, ...qt });
  const ab = man.diffusion.alphaBar;
  const s0 = Math.sqrt(ab);
  const s1 = Math.sqrt(1 - ab);
  const x0u = z.data.map((v, i) => (v - s1 * un.out_sample.data[i]) / s0 / man.latent.scalingFactor);
  const dec = await sess.vaeDecoder.run({ latent: T(x0u, z.dims), skip: T(pm1, [1, 3, H, W]), ...qt });
  const final = new Float32Array(3 * h * w);
  for (let k = 0; k < 3; k++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const v = Math.min(1, Math.max(-1, dec.image.data[(k * H + y) * W + x]));
        final[(k * h + y) * w + x] = v * 0.5 + 0.5;
      }
  const diffs = {
    padded_rgb01: maxDiff(xp, load(c.files.padded_rgb01)),
    tokens: maxDiff(cave.tokens.data, load(c.files.tokens)),
    quality: maxDiff(cave.quality.data, load(c.files.quality)),
    latent: maxDiff(z.data, load(c.files.latent)),
    eps: maxDiff(un.out_sample.data, load(c.files.eps)),
    x0_unscaled: maxDiff(x0u, load(c.files.x0_unscaled)),
    decoder_rgb_pm1: maxDiff(dec.image.data, load(c.files.decoder_rgb_pm1)),
    output_rgb01: maxDiff(final, load(c.files.output_rgb01)),
  };
  worst = Math.max(worst, diffs.output_rgb01);
  console.log(c.name, JSON.stringify(diffs));
}
console.log(`worst output max abs diff ${worst}`);
process.exit(worst < 1e-4 ? 0 : 1);
