/** `unjpeg eval` as a user runs it: a child process, a two-image set made here, the random fixture model. */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import sharp from "sharp";
import { findButteraugli } from "../../lib/eval/butteraugli.js";
import { REPO_ROOT, runCli } from "./cli-helpers.js";

const MODEL = join(REPO_ROOT, "tests/fixtures/model-random");

const cli = (args: string[]) => runCli(["eval", ...args], { UNJPEG_THREADS: "2" });

/** A smooth picture with edges and texture, so JPEG artifacts depend on the quality. */
function picture(width: number, height: number, channels: 1 | 3): Buffer {
  const px = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) {
        const edge = x > width / 2 ? 60 : 0;
        const texture = ((x * 7 + y * 13 + c * 29) % 17) * 3;
        px[(y * width + x) * channels + c] = Math.min(255, 40 + x * 2 + y + edge + texture + c * 20);
      }
    }
  }
  return px;
}

interface ImageLine {
  type: "image";
  image: string;
  quality: number;
  width: number;
  height: number;
  grey: boolean;
  jpeg: Record<string, number>;
  restored: Record<string, number>;
  gain: { psnrRgb: number; psnrY: number };
  predictedQuality: number | null;
  model: string;
  jpegBytes: number;
  derivative: {
    encoding: string;
    bytes: number;
    psnrRgb: number;
    gainKept: number | null;
    encodingMse: number;
  };
  projection: { applied: boolean; clipped?: number; reason?: string } | null;
  butteraugli: { jpeg: number; restored: number } | null;
}

const imageLines = (stdout: string) =>
  stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { type: string })
    .filter((l): l is ImageLine => l.type === "image");

describe("unjpeg eval (CLI)", () => {
  let dir: string;
  let set: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "unjpeg-eval-"));
    set = join(dir, "set");
    await mkdir(join(set, "grey"), { recursive: true });
    await sharp(picture(72, 56, 3), { raw: { width: 72, height: 56, channels: 3 } })
      .png()
      .toFile(join(set, "colour.png"));
    // Grey, odd size, in a subfolder: found recursively, compressed as one component.
    await sharp(picture(45, 37, 1), { raw: { width: 45, height: 37, channels: 1 } })
      .toColourspace("b-w")
      .tiff()
      .toFile(join(set, "grey", "plain.tif"));
    await writeFile(join(set, "notes.txt"), "not an image");
    await mkdir(join(dir, "empty"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("prints one NDJSON line per image per quality and a summary; progress on stderr", async () => {
    const { code, stdout, stderr } = await cli([
      "--set",
      set,
      "--qualities",
      "10,40",
      "--json",
      "--model",
      MODEL,
    ]);
    assert.equal(code, 0, stderr);
    const lines = stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { type: string });
    const images = lines.filter((l): l is ImageLine => l.type === "image");
    assert.deepEqual(
      images.map((l) => [l.image, l.quality]),
      [
        ["colour.png", 10],
        ["colour.png", 40],
        [join("grey", "plain.tif"), 10],
        [join("grey", "plain.tif"), 40],
      ],
    );
    const grey = images.filter((l) => l.grey).map((l) => [l.width, l.height]);
    assert.deepEqual(grey, [
      [45, 37],
      [45, 37],
    ]);
    for (const l of images) {
      for (const side of [l.jpeg, l.restored]) {
        for (const key of ["psnrRgb", "psnrY", "psnrbY"])
          assert.ok(side[key]! > 5 && side[key]! < 100, `${key}`);
        assert.ok(side["ssimY"]! > 0 && side["ssimY"]! <= 1);
      }
      assert.ok(Math.abs(l.gain.psnrRgb - (l.restored["psnrRgb"]! - l.jpeg["psnrRgb"]!)) < 1e-3);
      assert.equal(typeof l.predictedQuality, "number");
      assert.equal(l.model, "model-random@0.0.0-random");
    }
    // Harder compression loses more: the JPEG at 10 is further from the truth than at 40.
    for (const name of ["colour.png", join("grey", "plain.tif")]) {
      const [q10, q40] = images.filter((l) => l.image === name);
      assert.ok(q10!.jpeg["psnrY"]! < q40!.jpeg["psnrY"]!, name);
      assert.ok(q10!.jpeg["ssimY"]! < q40!.jpeg["ssimY"]!, name);
    }
    const summary = lines.at(-1) as {
      type: string;
      images: number;
      qualities: {
        quality: number;
        images: number;
        jpeg: { psnrRgb: number };
        worstGain: { psnrRgb: number };
      }[];
    };
    assert.equal(summary.type, "summary");
    assert.equal(summary.images, 2);
    assert.deepEqual(
      summary.qualities.map((q) => [q.quality, q.images]),
      [
        [10, 2],
        [40, 2],
      ],
    );
    const q10 = images.filter((l) => l.quality === 10);
    const meanJpeg = (q10[0]!.jpeg["psnrRgb"]! + q10[1]!.jpeg["psnrRgb"]!) / 2;
    assert.ok(Math.abs(summary.qualities[0]!.jpeg.psnrRgb - meanJpeg) < 1e-3);
    assert.ok(
      Math.abs(summary.qualities[0]!.worstGain.psnrRgb - Math.min(...q10.map((l) => l.gain.psnrRgb))) < 1e-3,
    );
    // What users are served: the restoration as the default derivative (JPEG, quality auto), measured.
    for (const l of images) {
      const d = l.derivative;
      assert.match(d.encoding, l.grey ? /^jpeg q\d+ flat prog$/ : /^jpeg q\d+ 4:[24]:[04] flat prog$/);
      assert.ok(d.bytes > 0 && d.psnrRgb > 5 && d.encodingMse > 0, JSON.stringify(d));
      const gain = l.restored["psnrRgb"]! - l.jpeg["psnrRgb"]!;
      if (gain > 0) assert.ok(Math.abs(d.gainKept! - (d.psnrRgb - l.jpeg["psnrRgb"]!) / gain) < 1e-3);
      else assert.equal(d.gainKept, null);
    }
    const derivatives = (summary as unknown as { qualities: { derivative: { bytesRatio: number } }[] })
      .qualities;
    const q10Bytes =
      q10.reduce((s, l) => s + l.derivative.bytes, 0) / q10.reduce((s, l) => s + l.jpegBytes, 0);
    assert.ok(Math.abs(derivatives[0]!.derivative.bytesRatio - q10Bytes) < 1e-9);
    assert.match(stderr, /image 1\/2 colour\.png QF 10/);
    assert.match(stderr, /image 2\/2 .*plain\.tif QF 40/);
  });

  it("prints a table, one row per quality; --limit takes the first images", async () => {
    const { code, stdout, stderr } = await cli([
      "--set",
      set,
      "--qualities",
      "20",
      "--limit",
      "1",
      "--model",
      MODEL,
    ]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /\(1 images\), model model-random@0\.0\.0-random/);
    assert.match(stdout, /PSNR RGB jpeg\/restored\/gain/);
    const rows = stdout.split("\n").filter((l) => /^\| 20 +\| 1 /.test(l));
    assert.equal(rows.length, 1, stdout);
    assert.match(rows[0]!, /colour\.png/);
  });

  it("measures the derivatives in another encoding: a lossless PNG keeps all of the gain, a forced quality is that quality", async () => {
    for (const [args, encoding] of [
      [["--format", "png"], "png"],
      [["--quality", "90"], "jpeg q90 4:4:4"],
    ] as const) {
      const { code, stdout, stderr } = await cli([
        "--set",
        set,
        "--qualities",
        "10",
        "--limit",
        "1",
        "--json",
        "--model",
        MODEL,
        ...args,
      ]);
      assert.equal(code, 0, stderr);
      const line = JSON.parse(stdout.split("\n")[0]!) as ImageLine;
      assert.equal(line.derivative.encoding, encoding);
      if (encoding === "png") {
        assert.equal(line.derivative.encodingMse, 0);
        assert.ok(Math.abs(line.derivative.psnrRgb - line.restored["psnrRgb"]!) < 1e-3);
      } else assert.ok(line.derivative.encodingMse > 0);
    }
  });

  it("projects onto the JPEG's cells by default, and not with --no-projection (the ablation)", async () => {
    const args = ["--set", set, "--qualities", "10", "--json", "--model", MODEL];
    const on = await cli(args);
    const off = await cli([...args, "--no-projection"]);
    assert.equal(on.code, 0, on.stderr);
    assert.equal(off.code, 0, off.stderr);
    for (const l of imageLines(on.stdout)) {
      assert.equal(l.projection?.applied, true, l.image);
      assert.ok(
        l.projection.clipped! > 0 && l.projection.clipped! < 1,
        `${l.image}: ${l.projection.clipped}`,
      );
    }
    for (const l of imageLines(off.stdout))
      assert.deepEqual(l.projection, { applied: false, reason: "turned off" });
    assert.equal(JSON.parse(off.stdout.trim().split("\n").at(-1)!).projection, false);
    // The projection changed the restorations (the random model leaves many coefficients out of their cells).
    const gains = (stdout: string) => imageLines(stdout).map((l) => l.restored["psnrRgb"]);
    assert.notDeepEqual(gains(on.stdout), gains(off.stdout));
  });

  it("--perceptual without butteraugli_main installed: a note, and the other measures", async () => {
    const { code, stdout, stderr } = await runCli(
      ["eval", "--set", set, "--qualities", "20", "--limit", "1", "--perceptual", "--model", MODEL],
      { UNJPEG_THREADS: "2", PATH: join(dir, "no-such-bin") },
    );
    assert.equal(code, 0, stderr);
    assert.match(stderr, /butteraugli_main is not installed \(Debian: apt-get install libjxl-devtools\)/);
    assert.doesNotMatch(stdout, /butteraugli/);
    assert.match(stdout, /PSNR RGB jpeg\/restored\/gain/);
  });

  it("--perceptual measures butteraugli's 3-norm of JPEG and restoration", async (t) => {
    const butteraugli = await findButteraugli();
    if (butteraugli === null) {
      t.skip("butteraugli_main is not installed (Debian: libjxl-devtools)");
      return;
    }
    await butteraugli.close();
    const args = ["--set", set, "--qualities", "5,40", "--perceptual", "--model", MODEL];
    const json = await cli([...args, "--json"]);
    assert.equal(json.code, 0, json.stderr);
    const lines = imageLines(json.stdout);
    for (const l of lines) {
      assert.ok(l.butteraugli !== null && l.butteraugli.jpeg > 0 && l.butteraugli.restored > 0, l.image);
    }
    // Quality 5 is further from the truth than quality 40, by butteraugli as by PSNR.
    for (const name of ["colour.png", join("grey", "plain.tif")]) {
      const [q5, q40] = lines.filter((l) => l.image === name);
      assert.ok(q5!.butteraugli!.jpeg > q40!.butteraugli!.jpeg, name);
    }
    const table = await cli(args);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /butteraugli 3-norm jpeg\/restored\/change/);
  });

  it("answers usage mistakes with exit status 2 and a code", async () => {
    // In-process (no model is loaded for these): the command's own main, stderr and stdout captured.
    const { main } = await import("../../lib/cli/eval.js");
    const cases: [string[], string][] = [
      [["--qualities", "10"], "CLI_USAGE"],
      [["--set", set, "--qualities", "0,10"], "CLI_USAGE"],
      [["--set", set, "--qualities", "10,abc"], "CLI_USAGE"],
      [["--set", set, "--qualities", "10,10"], "CLI_USAGE"],
      [["--set", set, "--limit", "0"], "CLI_USAGE"],
      [["--set", set, "extra"], "CLI_USAGE"],
      [["--set", set, "--format", "gif"], "CLI_USAGE"],
      [["--set", set, "--quality", "0"], "CLI_USAGE"],
      [["--set", join(dir, "missing")], "EVAL_SET_MISSING"],
      [["--set", join(dir, "empty")], "EVAL_SET_EMPTY"],
    ];
    for (const [args, code] of cases) {
      const written = { stdout: "", stderr: "" };
      const originals = { stdout: process.stdout.write, stderr: process.stderr.write };
      process.stdout.write = ((chunk: string) => {
        written.stdout += chunk;
        return true;
      }) as typeof process.stdout.write;
      process.stderr.write = ((chunk: string) => {
        written.stderr += chunk;
        return true;
      }) as typeof process.stderr.write;
      let status: number;
      try {
        status = await main(args);
      } finally {
        process.stdout.write = originals.stdout;
        process.stderr.write = originals.stderr;
      }
      assert.equal(status, 2, `${args.join(" ")}: ${written.stderr}`);
      assert.match(written.stderr, new RegExp(`\\[${code}\\]`), args.join(" "));
      assert.equal(written.stdout, "");
    }
  });
});
