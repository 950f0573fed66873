/**
 * restore() end to end with a real onnxruntime session on the random-weight fixture model: odd sizes,
 * grey, orientation, ICC, CMYK, skips, abort, session reuse, and tiled against untiled.
 */
import assert from "node:assert/strict";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, describe, it } from "node:test";
import sharp, { type Sharp } from "sharp";
import { decodeImage } from "../../lib/image/decode.js";
import { planAxis } from "../../lib/image/tiles.js";
import { runPipeline } from "../../lib/model/pipeline.js";
import { closeAllModels, openModel } from "../../lib/model/sessions.js";
import { restore } from "../../lib/restore/restore.js";

const MODEL = join(import.meta.dirname, "../fixtures/model-random");
const options = { modelDir: MODEL, threads: 2 };

/** A picture with edges, gradients and texture, so JPEG artifacts and tile seams would show. */
function picture(w: number, h: number): Buffer {
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      const check = (Math.floor(x / 23) + Math.floor(y / 17)) % 2;
      px[i] = (x * 255) / Math.max(1, w - 1);
      px[i + 1] = check ? 210 : 40;
      px[i + 2] = 128 + 100 * Math.sin(x / 5) * Math.cos(y / 7);
    }
  }
  return px;
}

const jpeg = (w: number, h: number, quality = 10, build: (s: Sharp) => Sharp = (s) => s) =>
  build(sharp(picture(w, h), { raw: { width: w, height: h, channels: 3 } }))
    .jpeg({ quality })
    .toBuffer();

after(closeAllModels);

describe("restore() with the random fixture model", () => {
  it("restores odd sizes (1×1, 7×13, 333×217) and describes the run", async () => {
    for (const [w, h] of [
      [1, 1],
      [7, 13],
      [333, 217],
    ] as const) {
      const input = await jpeg(w, h);
      const outcome = await restore(input, options);
      assert.equal(outcome.action, "restored", JSON.stringify(outcome));
      if (outcome.action !== "restored") return;
      const meta = await sharp(outcome.output).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height], ["jpeg", w, h]);
      const d = outcome.description;
      assert.equal(d.quality, 10);
      assert.equal(d.qualityMatch, "exact");
      assert.equal(d.model, "model-random@0.0.0-random");
      assert.ok(d.predictedQuality !== null && d.predictedQuality >= 0 && d.predictedQuality <= 100);
      assert.equal(d.outputBytes, outcome.output.length);
      for (const step of ["decode", "cave", "encoder", "unet", "decoder", "encode"]) {
        assert.ok(typeof d.timings[step] === "number", `timing ${step}`);
      }
      assert.equal(outcome.contentType, "image/jpeg");
    }
  });

  it("keeps grey as grey, applies orientation 6, keeps the ICC profile", async () => {
    const grey = await sharp(picture(48, 40), { raw: { width: 48, height: 40, channels: 3 } })
      .toColourspace("b-w")
      .jpeg({ quality: 10 })
      .toBuffer();
    const g = await restore(grey, options);
    assert.equal(g.action, "restored");
    if (g.action === "restored") assert.equal((await sharp(g.output).metadata()).channels, 1);

    const rotated = await jpeg(64, 40, 10, (s) => s.withMetadata({ orientation: 6 }).withIccProfile("p3"));
    const r = await restore(rotated, { ...options, format: "png" });
    assert.equal(r.action, "restored");
    if (r.action !== "restored") return;
    const meta = await sharp(r.output).metadata();
    assert.deepEqual([meta.width, meta.height, meta.orientation ?? 1], [40, 64, 1]);
    assert.ok(meta.icc !== undefined && meta.icc.length > 0, "ICC profile kept");
    assert.equal(r.contentType, "image/png");
  });

  it("skips CMYK, high quality (unless forced) and non-JPEGs, without loading pixels", async () => {
    const cmyk = await jpeg(32, 32, 10, (s) => s.toColourspace("cmyk"));
    const c = await restore(cmyk, options);
    assert.equal(c.action === "skipped" && c.reason, "unsupported");
    const fine = await jpeg(32, 32, 95);
    const f = await restore(fine, options);
    assert.equal(f.action === "skipped" && f.reason, "high-quality");
    assert.equal(f.description.quality, 95);
    assert.equal((await restore(fine, { ...options, force: true })).action, "restored");
    const png = await sharp(picture(8, 8), { raw: { width: 8, height: 8, channels: 3 } })
      .png()
      .toBuffer();
    const p = await restore(png, options);
    assert.equal(p.action === "skipped" && p.reason, "not-jpeg");
    const big = await restore(await jpeg(64, 64), { ...options, maxPixels: 4000 });
    assert.equal(big.action === "skipped" && big.reason, "too-large");
  });

  it("stops at an aborted signal with a typed error", async () => {
    const controller = new AbortController();
    controller.abort(new Error("deadline"));
    await assert.rejects(restore(await jpeg(64, 64), { ...options, signal: controller.signal }), {
      code: "RESTORE_ABORTED",
    });
  });

  it("checks the manifest's graph names against the graphs when it creates sessions", async () => {
    const dir = await mkdtemp(join(tmpdir(), "unjpeg-model-"));
    try {
      await cp(MODEL, dir, { recursive: true });
      const manifest = JSON.parse(await readFile(join(dir, "model.json"), "utf8"));
      manifest.stages.unet.inputs = { latent_in: "latent", encoder_hidden_states: "tokens" };
      await writeFile(join(dir, "model.json"), JSON.stringify(manifest));
      await assert.rejects(openModel(dir, { threads: 1 }), {
        code: "MODEL_MANIFEST_INVALID",
        field: "stages.unet.inputs.latent_in",
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("creates sessions once per process per model folder", async () => {
    const a = await openModel(MODEL, { threads: 2 });
    const b = await openModel(MODEL, { threads: 2 });
    const c = await openModel(relative(process.cwd(), MODEL), { threads: 2 });
    assert.equal(a, b);
    assert.equal(a, c, "the same folder by another path");
    assert.notEqual(a, await openModel(MODEL, { threads: 1 }), "another thread count is another session set");
  });

  it("runs on CPU, and says so, when CUDA is asked for but not installed (in either thread)", async () => {
    // onnxruntime-node is installed here without its CUDA provider (ONNXRUNTIME_NODE_INSTALL=skip).
    const input = await jpeg(40, 30);
    const onCpu = await restore(input, { ...options, executionProvider: "cpu", modelInWorker: false });
    const warnings: string[] = [];
    const onWarning = (w: Error & { code?: string }) => void warnings.push(w.code ?? "");
    process.on("warning", onWarning);
    for (const modelInWorker of [false, true]) {
      const outcome = await restore(input, { ...options, executionProvider: "cuda", modelInWorker });
      assert.equal(outcome.action, "restored");
      if (outcome.action !== "restored" || onCpu.action !== "restored") return;
      assert.equal(outcome.description.run?.provider, "cpu");
      assert.deepEqual(outcome.output, onCpu.output);
    }
    process.off("warning", onWarning);
    assert.ok(warnings.includes("UNJPEG_CUDA_UNAVAILABLE"), "warned that CUDA cannot be used");
  });

  it("runs an image of no more pixels than a tile whole, whatever its shape", async () => {
    const sessions = await openModel(MODEL, { threads: 2 });
    const tiling = { tile: 128, overlap: 32 };
    const run = async (w: number, h: number, options = { tiling }) => {
      const { rgb } = await decodeImage(await jpeg(w, h));
      return runPipeline(sessions, { rgb, width: w, height: h, tableQuality: 10 }, options);
    };
    // 300×50 is 15,000 pixels, a 128-px tile 16,384: one run, the same bytes as with a larger tile.
    const wide = await run(300, 50);
    assert.equal(wide.tiles, 1);
    assert.deepEqual(wide.rgb, (await run(300, 50, { tiling: { tile: 1024, overlap: 128 } })).rgb);
    // 200×100 is 20,000 pixels: tiled (two tiles across).
    assert.equal((await run(200, 100)).tiles, 2);
  });

  it("tiled output matches untiled (PSNR ≥ 45 dB) with no step at tile borders", async (t) => {
    const w = 333;
    const h = 217;
    const { rgb } = await decodeImage(await jpeg(w, h));
    const sessions = await openModel(MODEL, { threads: 2 });
    const input = { rgb, width: w, height: h, tableQuality: 10 };
    const whole = await runPipeline(sessions, input, { tiling: { tile: 1024, overlap: 128 } });
    const tiling = { tile: 128, overlap: 32 };
    const tiled = await runPipeline(sessions, input, { tiling });
    assert.equal(whole.tiles, 1);
    assert.equal(tiled.tiles, 4 * 2);
    let se = 0;
    for (let i = 0; i < rgb.length; i++) se += (tiled.rgb[i]! - whole.rgb[i]!) ** 2;
    const psnr = 10 * Math.log10((255 * 255 * rgb.length) / Math.max(se, 1e-9));
    t.diagnostic(`tiled vs untiled PSNR ${psnr.toFixed(2)} dB`);
    assert.ok(psnr >= 45, `PSNR ${psnr.toFixed(2)} dB`);

    // Steps across tile borders: the mean horizontal gradient across every column where a tile starts or
    // ends, in the tiled output, is no larger than in the untiled output (+ 0.25 levels of rounding).
    const xs = planAxis(w, tiling.tile, tiling.overlap);
    const borders = [...new Set(xs.flatMap((s) => [s.start, s.end]).filter((x) => x > 0 && x < w))];
    const jump = (img: Uint8Array) => {
      let sum = 0;
      let n = 0;
      for (const x of borders) {
        for (let y = 0; y < h; y++) {
          for (let c = 0; c < 3; c++) {
            sum += Math.abs(img[(y * w + x) * 3 + c]! - img[(y * w + x - 1) * 3 + c]!);
            n++;
          }
        }
      }
      return sum / n;
    };
    t.diagnostic(
      `mean step across tile borders: tiled ${jump(tiled.rgb).toFixed(3)}, untiled ${jump(whole.rgb).toFixed(3)}`,
    );
    assert.ok(
      jump(tiled.rgb) <= jump(whole.rgb) + 0.25,
      `border step ${jump(tiled.rgb)} vs ${jump(whole.rgb)}`,
    );
  });
});
