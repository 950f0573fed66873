/**
 * A model folder on disk: its `model.json` read and parsed (manifest.ts), its stage files checked against
 * their SHA-256 once per process.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { ModelError } from "./errors.js";
import { FILE_NAME, fail, type Manifest, parseManifest, STAGE_NAMES, type StageName } from "./manifest.js";

export interface ModelFolder {
  /** Absolute path of the folder. */
  readonly dir: string;
  readonly manifest: Manifest;
  /** Absolute path of each stage's graph. */
  readonly files: Readonly<Record<StageName, string>>;
  /** `<id>@<version>`: what derivatives record in `unjpeg-model`. */
  readonly tag: string;
}

export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Folders whose files were verified in this process (a warm container checks once), by path+size+mtime. */
const verified = new Map<string, string>();

/**
 * Reads and validates `<dir>/model.json` and checks every stage file's SHA-256 (once per process per
 * folder, unless the files change).
 */
export async function loadModelFolder(dir: string, options: { verify?: boolean } = {}): Promise<ModelFolder> {
  const root = resolve(dir);
  let raw: string;
  try {
    raw = await readFile(join(root, "model.json"), "utf8");
  } catch (cause) {
    throw new ModelError("MODEL_NOT_FOUND", `no model.json in ${root}`, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (cause) {
    throw new ModelError(
      "MODEL_MANIFEST_INVALID",
      `model.json in ${root} is not JSON: ${(cause as Error).message}`,
      {
        field: "(root)",
        cause,
      },
    );
  }
  const manifest = parseManifest(json);
  const files = {} as Record<StageName, string>;
  for (const name of STAGE_NAMES) files[name] = join(root, manifest.stages[name].file);
  if (options.verify !== false) await verifyFiles(root, manifest);
  return Object.freeze({ dir: root, manifest, files, tag: `${manifest.id}@${manifest.version}` });
}

/** The model folder that restores a source, and the band it belongs to (null: the folder's own weights). */
export interface ChosenFolder {
  readonly dir: string;
  readonly band: string | null;
}

/**
 * Which weights restore a source of this quality (the quality the model is told): the first of the
 * manifest's `bands` whose `maxQuality` it does not exceed, else the folder's own; an unknown quality (not
 * a JPEG) gets the folder's own. A band is a model folder inside this one with the same id and version,
 * so a derivative records one model whichever weights made it.
 */
export async function folderForQuality(dir: string, quality: number | null): Promise<ChosenFolder> {
  const top = await loadModelFolder(dir);
  const bands = top.manifest.bands;
  const index = quality === null ? -1 : bands.findIndex((band) => quality <= band.maxQuality);
  if (index < 0) return { dir: top.dir, band: null };
  const band = bands[index]!;
  const field = `bands[${index}].model`;
  const inner = await loadModelFolder(join(top.dir, band.model)).catch((cause: unknown) => {
    if (cause instanceof ModelError && cause.code === "MODEL_NOT_FOUND")
      throw new ModelError("MODEL_NOT_FOUND", `${cause.message} (${field})`, { field, cause });
    throw cause;
  });
  if (inner.tag !== top.tag) fail(field, `holds ${inner.tag}, not ${top.tag}`);
  if (inner.manifest.bands.length > 0) fail(field, "has bands of its own");
  return { dir: inner.dir, band: band.model };
}

/** Every file the manifest lists a checksum for: the stage graphs and any external-data files. */
async function verifyFiles(root: string, manifest: Manifest): Promise<void> {
  const stageOf = new Map(STAGE_NAMES.map((name) => [manifest.stages[name].file, name]));
  const listed = Object.keys(manifest.sha256);
  const stamps: string[] = [];
  for (const file of listed) {
    if (!FILE_NAME.test(file)) fail(`sha256.${file}`, "must name a file inside the model folder");
    const stage = stageOf.get(file);
    const field = stage === undefined ? `sha256.${file}` : `stages.${stage}.file`;
    const path = join(root, file);
    const info = await stat(path).catch((cause: unknown) => {
      throw new ModelError("MODEL_NOT_FOUND", `${path} (${field}) does not exist`, { field, cause });
    });
    stamps.push(`${path}:${info.size}:${info.mtimeMs}`);
  }
  const stamp = stamps.join("|");
  if (verified.get(root) === stamp) return;
  for (const file of listed) {
    const actual = await sha256OfFile(join(root, file));
    if (actual !== manifest.sha256[file]) {
      throw new ModelError(
        "MODEL_CHECKSUM_MISMATCH",
        `${join(root, file)} has SHA-256 ${actual}, model.json says ${manifest.sha256[file]}`,
        { field: `sha256.${file}` },
      );
    }
  }
  verified.set(root, stamp);
}
