/**
 * A model folder's manifest (`model.json`, format in docs/CONTRACTS.md): validated field by field so that an
 * error names the field at fault. Reading the folder and checking its files: model-folder.ts.
 */
import { ModelError } from "./errors.js";

/** What a tensor holds (docs/CONTRACTS.md, "Value names"). */
export const VALUE_NAMES = [
  "rgb01",
  "rgb_pm1",
  "latent",
  "eps",
  "x0_unscaled",
  "tokens",
  "quality",
  "qtables",
] as const;
export type ValueName = (typeof VALUE_NAMES)[number];

export const STAGE_NAMES = ["cave", "vaeEncoder", "unet", "vaeDecoder"] as const;
export type StageName = (typeof STAGE_NAMES)[number];

export interface StageSpec {
  readonly file: string;
  /** Graph input name → the value fed to it. */
  readonly inputs: Readonly<Record<string, ValueName>>;
  /** Graph output name → the value it produces. */
  readonly outputs: Readonly<Record<string, ValueName>>;
}

export type ColorFix = "adain" | "wavelet" | "none";
export type TensorDtype = "float32" | "float16";

export interface Manifest {
  readonly id: string;
  readonly version: string;
  readonly layout: "codiff-onestep";
  readonly stages: Readonly<Record<StageName, StageSpec>>;
  readonly latent: { readonly channels: number; readonly downscale: number; readonly scalingFactor: number };
  readonly diffusion: {
    readonly timestep: number;
    readonly alphaBar: number;
    readonly prediction: "epsilon";
  };
  readonly cave: {
    readonly downscale: number;
    readonly tokenDim: number;
    readonly qualityOutput: "quality-0-100";
  };
  readonly padMultiple: number;
  /** How padding fills: "edge" replicates the last row and column (the only mode so far). */
  readonly padMode: "edge";
  readonly dtype: TensorDtype;
  readonly tiling: { readonly tile: number; readonly overlap: number };
  readonly colorFix: ColorFix;
  readonly sha256: Readonly<Record<string, string>>;
  /** Optional folder of parity fixtures inside the model folder. */
  readonly reference: string | undefined;
  /**
   * Optional, default 1: the share of an encoding's squared error against this model's restoration that
   * shows up against the true image, as `unjpeg eval` measures it ("error transfer"). `--quality auto`
   * allows an encoding that much more error (lib/image/choose-encoding.ts); 1 assumes a restoration whose
   * own error is independent of any re-encoding's.
   */
  readonly encodeErrorTransfer: number;
  /**
   * Optional, default none: weights for the hardest compressions, each a model folder inside this one
   * (same id and version) that restores the sources whose quality is at most `maxQuality`, in increasing
   * `maxQuality` (the first that holds is used); other sources get this folder's own stages.
   */
  readonly bands: readonly QualityBand[];
}

export interface QualityBand {
  readonly maxQuality: number;
  /** A folder name inside the model folder, holding a complete model folder. */
  readonly model: string;
}

/**
 * Which values each stage may take and must give. Optional inputs: `quality` on cave (the table estimate),
 * `rgb_pm1` on the decoder (a skip from the JPEG) and `qtables` (the source's quantization tables) on the
 * generator's stages; optional output: cave's `quality`.
 */
const STAGE_RULES: Record<
  StageName,
  { required: ValueName[]; optional: ValueName[]; produces: ValueName[]; mayProduce: ValueName[] }
> = {
  cave: { required: ["rgb01"], optional: ["quality"], produces: ["tokens"], mayProduce: ["quality"] },
  vaeEncoder: { required: ["rgb_pm1"], optional: ["qtables"], produces: ["latent"], mayProduce: [] },
  unet: { required: ["latent", "tokens"], optional: ["qtables"], produces: ["eps"], mayProduce: [] },
  vaeDecoder: {
    required: ["x0_unscaled"],
    optional: ["rgb_pm1", "qtables"],
    produces: ["rgb_pm1"],
    mayProduce: [],
  },
};

type Json = unknown;

export function fail(field: string, message: string): never {
  throw new ModelError("MODEL_MANIFEST_INVALID", `model.json: "${field}" ${message}`, { field });
}

function object(value: Json, field: string): Record<string, Json> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) fail(field, "must be an object");
  return value as Record<string, Json>;
}

function text(value: Json, field: string, pattern?: RegExp): string {
  if (typeof value !== "string" || value === "") fail(field, "must be a non-empty string");
  if (pattern !== undefined && !pattern.test(value)) fail(field, `must match ${pattern}, got "${value}"`);
  return value;
}

function oneOf<T extends string>(value: Json, field: string, allowed: readonly T[]): T {
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    fail(field, `must be one of ${allowed.join(", ")}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

function int(value: Json, field: string, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    fail(field, `must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function real(value: Json, field: string, min: number, max: number, exclusiveMin = false): number {
  if (
    typeof value !== "number" ||
    !Number.isFinite(value) ||
    value > max ||
    value < min ||
    (exclusiveMin && value === min)
  ) {
    fail(
      field,
      `must be a number in ${exclusiveMin ? "(" : "["}${min}, ${max}], got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** A file name inside the model folder: no directories, so a manifest cannot point outside its folder. */
export const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function stage(value: Json, name: StageName): StageSpec {
  const field = `stages.${name}`;
  const spec = object(value, field);
  const file = text(spec["file"], `${field}.file`, FILE_NAME);
  const map = (key: "inputs" | "outputs"): Record<string, ValueName> => {
    const entries = object(spec[key], `${field}.${key}`);
    const out: Record<string, ValueName> = {};
    for (const [graphName, valueName] of Object.entries(entries)) {
      out[graphName] = oneOf(valueName, `${field}.${key}.${graphName}`, VALUE_NAMES);
    }
    return out;
  };
  const inputs = map("inputs");
  const outputs = map("outputs");
  const rules = STAGE_RULES[name];
  const check = (
    values: Record<string, ValueName>,
    key: string,
    required: ValueName[],
    optional: ValueName[],
  ): void => {
    const seen = Object.values(values);
    for (const needed of required) {
      if (!seen.includes(needed))
        fail(`${field}.${key}`, `must map a graph ${key.slice(0, -1)} to "${needed}"`);
    }
    for (const [graphName, valueName] of Object.entries(values)) {
      if (![...required, ...optional].includes(valueName)) {
        fail(`${field}.${key}.${graphName}`, `cannot be "${valueName}" on this stage`);
      }
      if (seen.indexOf(valueName) !== seen.lastIndexOf(valueName)) {
        fail(`${field}.${key}.${graphName}`, `maps "${valueName}" twice`);
      }
    }
  };
  check(inputs, "inputs", rules.required, rules.optional);
  check(outputs, "outputs", rules.produces, rules.mayProduce);
  return { file, inputs, outputs };
}

function bands(value: Json): QualityBand[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) fail("bands", "must be an array");
  const out = value.map((item: Json, i: number) => {
    const band = object(item, `bands[${i}]`);
    return {
      maxQuality: real(band["maxQuality"], `bands[${i}].maxQuality`, 1, 100),
      model: text(band["model"], `bands[${i}].model`, FILE_NAME),
    };
  });
  out.forEach((band, i) => {
    if (i > 0 && band.maxQuality <= out[i - 1]!.maxQuality)
      fail(`bands[${i}].maxQuality`, "must be above the band before it");
  });
  return out;
}

/** Validates a parsed `model.json`. Throws {@link ModelError} `MODEL_MANIFEST_INVALID` naming the field. */
export function parseManifest(value: Json): Manifest {
  const root = object(value, "(root)");
  const stagesJson = object(root["stages"], "stages");
  const stages = {} as Record<StageName, StageSpec>;
  for (const name of STAGE_NAMES) stages[name] = stage(stagesJson[name], name);
  for (const extra of Object.keys(stagesJson)) {
    if (!(STAGE_NAMES as readonly string[]).includes(extra)) fail(`stages.${extra}`, "is not a known stage");
  }
  const latentJson = object(root["latent"], "latent");
  const diffusionJson = object(root["diffusion"], "diffusion");
  const caveJson = object(root["cave"], "cave");
  const tilingJson = object(root["tiling"], "tiling");
  const latent = {
    channels: int(latentJson["channels"], "latent.channels", 1, 64),
    downscale: int(latentJson["downscale"], "latent.downscale", 1, 64),
    scalingFactor: real(latentJson["scalingFactor"], "latent.scalingFactor", 0, 100, true),
  };
  const padMultiple = int(root["padMultiple"], "padMultiple", 1, 1024);
  if (padMultiple % latent.downscale !== 0)
    fail("padMultiple", `must be a multiple of latent.downscale (${latent.downscale})`);
  const cave = {
    downscale: int(caveJson["downscale"], "cave.downscale", 1, 1024),
    tokenDim: int(caveJson["tokenDim"], "cave.tokenDim", 1, 65536),
    qualityOutput: oneOf(caveJson["qualityOutput"], "cave.qualityOutput", ["quality-0-100"] as const),
  };
  const tile = int(tilingJson["tile"], "tiling.tile", padMultiple, 16384);
  if (tile % padMultiple !== 0) fail("tiling.tile", `must be a multiple of padMultiple (${padMultiple})`);
  const overlap = int(tilingJson["overlap"], "tiling.overlap", 0, tile);
  // Tiles start on multiples of the stride; a stride that is a multiple of padMultiple keeps every tile on
  // the same pixel grid as the whole image, so strided layers see the same phase in both.
  if ((tile - overlap) % padMultiple !== 0) {
    fail(
      "tiling.overlap",
      `must leave a stride (tile - overlap) that is a multiple of padMultiple (${padMultiple})`,
    );
  }
  if (overlap * 2 >= tile) fail("tiling.overlap", `must be less than half of tiling.tile (${tile})`);
  const sha256Json = object(root["sha256"], "sha256");
  const sha256: Record<string, string> = {};
  for (const [file, digest] of Object.entries(sha256Json)) {
    sha256[file] = text(digest, `sha256.${file}`, /^[0-9a-f]{64}$/);
  }
  for (const name of STAGE_NAMES) {
    if (sha256[stages[name].file] === undefined)
      fail(`sha256.${stages[name].file}`, "is missing (every stage file needs a checksum)");
  }
  return Object.freeze({
    id: text(root["id"], "id", /^[a-z0-9][a-z0-9._-]*$/),
    version: text(root["version"], "version"),
    layout: oneOf(root["layout"], "layout", ["codiff-onestep"] as const),
    stages,
    latent,
    diffusion: {
      timestep: int(diffusionJson["timestep"], "diffusion.timestep", 0, 10000),
      alphaBar: real(diffusionJson["alphaBar"], "diffusion.alphaBar", 0, 1, true),
      prediction: oneOf(diffusionJson["prediction"], "diffusion.prediction", ["epsilon"] as const),
    },
    cave,
    padMultiple,
    padMode: root["padMode"] === undefined ? "edge" : oneOf(root["padMode"], "padMode", ["edge"] as const),
    dtype: oneOf(root["dtype"], "dtype", ["float32", "float16"] as const),
    tiling: { tile, overlap },
    colorFix: oneOf(root["colorFix"], "colorFix", ["adain", "wavelet", "none"] as const),
    sha256,
    reference: root["reference"] === undefined ? undefined : text(root["reference"], "reference", FILE_NAME),
    encodeErrorTransfer:
      root["encodeErrorTransfer"] === undefined
        ? 1
        : real(root["encodeErrorTransfer"], "encodeErrorTransfer", 0, 1, true),
    bands: bands(root["bands"]),
  });
}
