/** `unjpeg restore` as a user runs it: a child process, real files, the random fixture model. */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import sharp from "sharp";
import { photoLike, resaved } from "../unit/resave-tools.js";
import { REPO_ROOT, runCli } from "./cli-helpers.js";

const MODEL = join(REPO_ROOT, "tests/fixtures/model-random");

const cli = (args: string[]) => runCli(["restore", ...args], { UNJPEG_THREADS: "2" });

describe("unjpeg restore (CLI)", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "unjpeg-cli-"));
    const px = Buffer.alloc(96 * 64 * 3);
    for (let i = 0; i < px.length; i++) px[i] = (i * 7) % 251;
    const image = () => sharp(px, { raw: { width: 96, height: 64, channels: 3 } });
    await writeFile(join(dir, "low.jpg"), await image().jpeg({ quality: 15 }).toBuffer());
    await writeFile(join(dir, "high.jpg"), await image().jpeg({ quality: 95 }).toBuffer());
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("restores into --out-dir as <stem>.<ext>, skips high quality, reports JSON lines", async () => {
    const original = await readFile(join(dir, "low.jpg"));
    const out = join(dir, "out");
    const r = await cli([
      "--json",
      "--model",
      MODEL,
      "--format",
      "png",
      "--out-dir",
      out,
      join(dir, "low.jpg"),
      join(dir, "high.jpg"),
    ]);
    assert.equal(r.code, 0, r.stderr);
    const [low, high] = r.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    assert.equal(low.action, "restored");
    assert.equal(low.output, join(out, "low.png"));
    assert.equal(low.quality, 15);
    assert.equal(low.model, "model-random@0.0.0-random");
    assert.deepEqual([high.action, high.reason, high.quality], ["skipped", "high-quality", 95]);
    assert.deepEqual(await readdir(out), ["low.png"], "nothing else written, no temporary files left");
    const meta = await sharp(join(out, "low.png")).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ["png", 96, 64]);
    assert.deepEqual(await readFile(join(dir, "low.jpg")), original, "the original is untouched");
  });

  it("writes beside the input by default, refuses to overwrite an input, fails with status 1 on errors", async () => {
    const r = await cli(["--model", MODEL, join(dir, "low.jpg")]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /low\.restored\.jpg {2}quality 15/);
    const same = await cli(["--model", MODEL, "-o", join(dir, "low.jpg"), join(dir, "low.jpg")]);
    assert.equal(same.code, 1);
    assert.match(same.stdout, /CLI_WOULD_OVERWRITE/);
    const bad = await cli(["--model", join(dir, "no-model"), join(dir, "low.jpg")]);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /MODEL_NOT_FOUND/);
    const usage = await cli(["--format", "gif", join(dir, "low.jpg")]);
    assert.equal(usage.code, 2);
  });

  it("out-dir: an input is never overwritten (reliability case 1)", async () => {
    // `--out-dir b a/x.jpg b/x.jpg`: a/x.jpg's output would be b/x.jpg, an input of the same run.
    const a = join(dir, "case1-a");
    const b = join(dir, "case1-b");
    await mkdir(a);
    await mkdir(b);
    await writeFile(join(a, "x.jpg"), await readFile(join(dir, "low.jpg")));
    const original = await readFile(join(dir, "high.jpg"));
    await writeFile(join(b, "x.jpg"), original);
    const r = await cli([
      "--json",
      "--force",
      "--model",
      MODEL,
      "--out-dir",
      b,
      join(a, "x.jpg"),
      join(b, "x.jpg"),
    ]);
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    assert.deepEqual(
      lines.map((l) => [l.file, l.action, l.error?.code]),
      [
        [join(a, "x.jpg"), "failed", "CLI_WOULD_OVERWRITE"],
        [join(b, "x.jpg"), "failed", "CLI_WOULD_OVERWRITE"],
      ],
    );
    assert.deepEqual(await readFile(join(b, "x.jpg")), original, "the input b/x.jpg is untouched");
    assert.deepEqual(await readdir(b), ["x.jpg"], "nothing written, no temporary files left");
  });

  it("out-dir: two inputs with one output name are refused before anything is written (reliability case 1)", async () => {
    const a = join(dir, "case1-c");
    const b = join(dir, "case1-d");
    const out = join(dir, "case1-out");
    await mkdir(a);
    await mkdir(b);
    await writeFile(join(a, "y.jpg"), await readFile(join(dir, "low.jpg")));
    await writeFile(join(b, "y.jpg"), await readFile(join(dir, "low.jpg")));
    // A third input with a name of its own still restores: only the clashing ones are refused.
    const r = await cli([
      "--json",
      "--model",
      MODEL,
      "--out-dir",
      out,
      join(a, "y.jpg"),
      join(dir, "low.jpg"),
      join(b, "y.jpg"),
    ]);
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    assert.deepEqual(
      lines.map((l) => [l.file, l.action, l.error?.code]),
      [
        [join(a, "y.jpg"), "failed", "CLI_OUTPUT_CLASH"],
        [join(dir, "low.jpg"), "restored", undefined],
        [join(b, "y.jpg"), "failed", "CLI_OUTPUT_CLASH"],
      ],
    );
    assert.match(lines[0].error.message, /y\.jpg/);
    assert.deepEqual(await readdir(out), ["low.jpg"], "no output for either clashing input");
  });

  it("projects onto the source's cells unless --no-projection or UNJPEG_PROJECTION=false", async () => {
    const args = ["--json", "--model", MODEL, "--format", "png", "--out-dir", join(dir, "p")];
    const projection = async (extra: string[], env: Record<string, string> = {}) => {
      const r = await runCli(["restore", ...args, ...extra, join(dir, "low.jpg")], {
        UNJPEG_THREADS: "2",
        ...env,
      });
      assert.equal(r.code, 0, r.stderr);
      const line = JSON.parse(r.stdout.trim());
      return { projection: line.projection, timed: typeof line.timings.projection === "number" };
    };
    const on = await projection([]);
    assert.equal(on.projection.applied, true);
    assert.ok(on.projection.clipped > 0 && on.projection.clipped < 1);
    assert.equal(on.timed, true);
    const off = { projection: { applied: false, reason: "turned off" }, timed: false };
    assert.deepEqual(await projection(["--no-projection"]), off);
    assert.deepEqual(await projection([], { UNJPEG_PROJECTION: "false" }), off);
  });

  it("restores a re-saved QF 95 file as its earlier compression: earlierQuality in --json; off with UNJPEG_DETECT_RESAVED=false", async () => {
    const input = join(dir, "resaved.jpg");
    await writeFile(input, await resaved(photoLike(160, 120, 4), 10, 95, [2, 6]));
    const args = [
      "--json",
      "--model",
      MODEL,
      "--format",
      "png",
      "--out-dir",
      join(dir, "resaved-out"),
      input,
    ];
    const r = await cli(args);
    assert.equal(r.code, 0, r.stderr);
    const line = JSON.parse(r.stdout);
    assert.equal(line.action, "restored");
    assert.equal(line.quality, 95);
    assert.ok(Math.abs(line.earlierQuality - 10) <= 5, `earlierQuality ${line.earlierQuality}`);
    assert.deepEqual(line.recompressed.offset, [2, 6]);
    assert.equal(line.recompressed.quality, line.earlierQuality);
    const off = await runCli(["restore", ...args], { UNJPEG_THREADS: "2", UNJPEG_DETECT_RESAVED: "false" });
    const skipped = JSON.parse(off.stdout);
    assert.deepEqual([skipped.action, skipped.reason], ["skipped", "high-quality"]);
    const low = JSON.parse(
      (
        await cli([
          "--json",
          "--model",
          MODEL,
          "--format",
          "png",
          "--out-dir",
          join(dir, "low-out"),
          join(dir, "low.jpg"),
        ])
      ).stdout,
    );
    assert.equal(low.earlierQuality, null, "a file restored for its own quality");
  });
});
