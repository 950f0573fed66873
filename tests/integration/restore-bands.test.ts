/**
 * A model with a band for the hardest compressions (manifest `bands`): restore() runs the band's weights on
 * a source told a quality at most the band's `maxQuality`, the folder's own on the others, records the same
 * model tag either way and names the band that ran. Real onnxruntime sessions on the two random fixture
 * models: the folder is tests/fixtures/model-random-tables with tests/fixtures/model-random as its band.
 */
import assert from "node:assert/strict";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import sharp from "sharp";
import { ModelError } from "../../lib/model/errors.js";
import { folderForQuality } from "../../lib/model/model-folder.js";
import { closeAllModels } from "../../lib/model/sessions.js";
import { restore } from "../../lib/restore/restore.js";

const FIXTURES = join(import.meta.dirname, "../fixtures");
const OWN = join(FIXTURES, "model-random-tables");
const BAND = join(FIXTURES, "model-random");

let root: string;
let banded: string;

async function editJson(path: string, edit: (json: Record<string, unknown>) => void): Promise<void> {
  const json = JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>;
  edit(json);
  await writeFile(path, JSON.stringify(json));
}

/** `OWN` with `BAND` as its band "low" for qualities up to 10, the band carrying `OWN`'s id and version. */
async function bandedModel(dir: string, band: { id?: string; version?: string } = {}): Promise<string> {
  await cp(OWN, dir, { recursive: true });
  await cp(BAND, join(dir, "low"), { recursive: true });
  const own = JSON.parse(await readFile(join(OWN, "model.json"), "utf8")) as { id: string; version: string };
  await editJson(join(dir, "model.json"), (m) => {
    m["bands"] = [{ maxQuality: 10, model: "low" }];
  });
  await editJson(join(dir, "low/model.json"), (m) => {
    m["id"] = band.id ?? own.id;
    m["version"] = band.version ?? own.version;
  });
  return dir;
}

async function jpegAt(quality: number): Promise<Buffer> {
  const input = await readFile(join(OWN, "reference/b_70x53_q30/input.jpg"));
  return sharp(input).jpeg({ quality }).toBuffer();
}

async function pixels(bytes: Uint8Array): Promise<Buffer> {
  return sharp(bytes).removeAlpha().raw().toBuffer();
}

async function restored(bytes: Uint8Array, modelDir: string, inWorker = false) {
  const outcome = await restore(bytes, {
    modelDir,
    format: "png",
    threads: 1,
    modelInWorker: inWorker,
    force: true,
    projection: false,
  });
  assert.equal(outcome.action, "restored");
  if (outcome.action !== "restored") throw new Error("unreachable");
  return { description: outcome.description, pixels: await pixels(outcome.output) };
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), "unjpeg-bands-"));
  banded = await bandedModel(join(root, "banded"));
});

after(async () => {
  await closeAllModels();
  await rm(root, { recursive: true, force: true });
});

describe("model bands: weights for the hardest compressions", () => {
  it("chooses the band up to its maxQuality, the folder's own above it and without a quality", async () => {
    assert.deepEqual(await folderForQuality(banded, 5), { dir: join(banded, "low"), band: "low" });
    assert.deepEqual(await folderForQuality(banded, 10), { dir: join(banded, "low"), band: "low" });
    assert.deepEqual(await folderForQuality(banded, 10.5), { dir: banded, band: null });
    assert.deepEqual(await folderForQuality(banded, null), { dir: banded, band: null });
    assert.deepEqual(await folderForQuality(OWN, 1), { dir: OWN, band: null });
  });

  for (const inWorker of [false, true]) {
    it(`restores a QF 5 source with the band, a QF 50 one with the folder's own (${inWorker ? "model worker" : "calling thread"})`, async () => {
      const ownTag = (await restored(await jpegAt(50), OWN, inWorker)).description.model;
      const low = await jpegAt(5);
      const viaBand = await restored(low, banded, inWorker);
      assert.equal(viaBand.description.run?.band, "low");
      assert.equal(viaBand.description.model, ownTag, "the derivative records the folder's model tag");
      assert.deepEqual(
        viaBand.pixels,
        (await restored(low, BAND, inWorker)).pixels,
        "the band's weights ran",
      );
      assert.notDeepEqual(viaBand.pixels, (await restored(low, OWN, inWorker)).pixels);

      const high = await jpegAt(50);
      const viaOwn = await restored(high, banded, inWorker);
      assert.equal(viaOwn.description.run?.band, undefined);
      assert.deepEqual(
        viaOwn.pixels,
        (await restored(high, OWN, inWorker)).pixels,
        "the folder's own weights ran",
      );
    });
  }

  it("refuses a band of another model or version, or a missing one, naming the field", async () => {
    const other = await bandedModel(join(root, "other"), { version: "9.9.9" });
    await assert.rejects(folderForQuality(other, 5), (error: unknown) => {
      assert.ok(error instanceof ModelError);
      assert.equal(error.code, "MODEL_MANIFEST_INVALID");
      assert.equal(error.field, "bands[0].model");
      assert.match(error.message, /9\.9\.9/);
      return true;
    });
    const missing = await bandedModel(join(root, "missing"));
    await rm(join(missing, "low"), { recursive: true });
    await assert.rejects(folderForQuality(missing, 5), (error: unknown) => {
      assert.ok(error instanceof ModelError);
      assert.equal(error.code, "MODEL_NOT_FOUND");
      assert.equal(error.field, "bands[0].model");
      return true;
    });
    // The folder's own weights still serve the sources no band covers.
    assert.deepEqual(await folderForQuality(missing, 50), { dir: missing, band: null });
  });
});
