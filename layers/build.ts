/**
 * Stages the shared inference layer: `npx tsx layers/build.ts [--model DIR] [--out DIR]`, after `npm run build`.
 *
 *   <out>/nodejs/package.json          {"type": "module"}
 *   <out>/nodejs/dist/                 compiled lib/ and handlers/ (no declarations)
 *   <out>/nodejs/node_modules/         the production dependencies from package-lock.json, for linux-x64:
 *                                      onnxruntime-node's CPU binaries only, sharp's glibc binaries only
 *   <out>/nodejs/models/<id>/          the shipped model (default models/codiff-tiny)
 *
 * osls zips the folder (serverless.yml, `layers.inference.path`). The functions import their handler from
 * /opt/nodejs/dist/handlers (layers/function/*.mjs). Fails, printing the sizes, when the unzipped layer
 * would exceed Lambda's limit for a function and its layers together.
 */
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { parseArgs } from "node:util";
import { UnjpegError } from "../lib/errors.js";

/** Lambda's limit on a function's code and all its layers, unzipped (the API's own number). */
export const LAMBDA_UNZIPPED_LIMIT_BYTES = 262_144_000;
/** What the function zips add on top of the layer (three one-line re-exports), rounded up. */
const FUNCTION_CODE_BYTES = 4096;

const repoRoot = resolve(import.meta.dirname, "..");

export class LayerBuildError extends UnjpegError {
  constructor(message: string) {
    super("LAYER_BUILD_FAILED", message);
  }
}

interface LockPackage {
  readonly dev?: boolean;
  readonly optional?: boolean;
  readonly os?: readonly string[];
  readonly cpu?: readonly string[];
  readonly libc?: readonly string[];
}

/** True when a package's platform fields admit Lambda's x86_64 Linux (glibc). */
function runsOnLambda(entry: LockPackage): boolean {
  const admits = (list: readonly string[] | undefined, value: string) =>
    list === undefined ||
    list.includes(value) ||
    (list.some((item) => item.startsWith("!")) && !list.includes(`!${value}`));
  return admits(entry.os, "linux") && admits(entry.cpu, "x64") && admits(entry.libc, "glibc");
}

/**
 * Folders (relative to the repository) of the packages the layer needs: every non-dev entry of the lock
 * that can run on Lambda. Nested `node_modules/a/node_modules/b` entries are their own entries.
 */
export function productionPackages(lockText: string): string[] {
  const lock = JSON.parse(lockText) as { lockfileVersion?: number; packages?: Record<string, LockPackage> };
  if (lock.packages === undefined || (lock.lockfileVersion ?? 0) < 2) {
    throw new LayerBuildError(
      "package-lock.json has no `packages` map (lockfileVersion 2 or later is needed)",
    );
  }
  return Object.entries(lock.packages)
    .filter(([path, entry]) => path.startsWith("node_modules/") && entry.dev !== true && runsOnLambda(entry))
    .map(([path]) => path)
    .sort();
}

/** Files no one needs at run time: type declarations, source maps of dependencies, docs. */
function isRuntimeFile(path: string): boolean {
  const name = basename(path);
  if (/\.d\.[cm]?ts$/.test(name) || name.endsWith(".d.ts.map")) return false;
  if (/^(README|CHANGELOG|HISTORY)(\.md|\.markdown|\.txt)?$/i.test(name)) return false;
  return true;
}

/** Copies one package without its nested node_modules (those are lock entries of their own). */
function copyPackage(from: string, to: string): void {
  cpSync(from, to, {
    recursive: true,
    dereference: true,
    filter: (source) => {
      const rel = relative(from, source);
      if (rel.split(sep).includes("node_modules")) return false;
      return statSync(source).isDirectory() || (isRuntimeFile(source) && !source.endsWith(".map"));
    },
  });
}

/**
 * Keeps onnxruntime-node's linux/x64 CPU library and binding only: other platforms' folders go, and so do
 * the CUDA/TensorRT provider libraries a CUDA install may have added (Lambda has no GPU).
 */
function pruneOnnxRuntime(nodeModules: string): void {
  const bin = join(nodeModules, "onnxruntime-node", "bin");
  if (!existsSync(bin)) throw new LayerBuildError("onnxruntime-node is not installed (run npm ci)");
  for (const napi of readdirSync(bin)) {
    for (const platform of readdirSync(join(bin, napi))) {
      if (platform !== "linux") rmSync(join(bin, napi, platform), { recursive: true, force: true });
    }
    const linux = join(bin, napi, "linux");
    for (const arch of existsSync(linux) ? readdirSync(linux) : []) {
      if (arch !== "x64") rmSync(join(linux, arch), { recursive: true, force: true });
    }
    const x64 = join(linux, "x64");
    for (const file of existsSync(x64) ? readdirSync(x64) : []) {
      if (/providers_(cuda|tensorrt|shared)/.test(file)) rmSync(join(x64, file), { force: true });
    }
  }
  rmSync(join(nodeModules, "onnxruntime-node", "script"), { recursive: true, force: true });
  const binding = readdirSync(bin).map((napi) => join(bin, napi, "linux", "x64", "onnxruntime_binding.node"));
  if (!binding.some((path) => existsSync(path))) {
    throw new LayerBuildError(
      "onnxruntime-node has no linux/x64 binding in node_modules (install on linux-x64)",
    );
  }
}

function requirePackage(nodeModules: string, name: string, hint: string): void {
  if (!existsSync(join(nodeModules, name, "package.json"))) {
    throw new LayerBuildError(`${name} is missing from the layer: ${hint}`);
  }
}

/** Checks the model folder is a model: a manifest whose stage files are all there. */
function checkModel(modelDir: string): { id: string; version: string } {
  const manifestPath = join(modelDir, "model.json");
  if (!existsSync(manifestPath)) {
    throw new LayerBuildError(
      `no model at ${modelDir} (model.json missing): train and export the shipped model first, or pass --model DIR`,
    );
  }
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as {
    id?: string;
    version?: string;
    stages?: Record<string, { file?: string }>;
  };
  const files = Object.values(manifest.stages ?? {}).map((stage) => stage.file);
  if (typeof manifest.id !== "string" || files.length === 0) {
    throw new LayerBuildError(`${manifestPath} is not a model manifest (needs id and stages)`);
  }
  for (const file of files) {
    if (typeof file !== "string" || !existsSync(join(modelDir, file))) {
      throw new LayerBuildError(`${manifestPath} names ${String(file)}, which is not in ${modelDir}`);
    }
  }
  return { id: manifest.id, version: manifest.version ?? "?" };
}

/** Handler modules the function re-exports point at (layers/function/*.mjs). */
export function handlerTargets(functionDir = join(repoRoot, "layers", "function")): string[] {
  return readdirSync(functionDir)
    .filter((name) => name.endsWith(".mjs"))
    .map((name) => {
      const text = readFileSync(join(functionDir, name), "utf8");
      const match = /from "\/opt\/nodejs\/(dist\/handlers\/[\w-]+\.js)"/.exec(text);
      if (!match?.[1])
        throw new LayerBuildError(`${name} does not re-export a handler from /opt/nodejs/dist`);
      return match[1];
    })
    .sort();
}

function sizeOf(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.size;
  return readdirSync(path).reduce((sum, name) => sum + sizeOf(join(path, name)), 0);
}

export interface LayerReport {
  readonly out: string;
  readonly model: string;
  readonly bytes: {
    readonly dist: number;
    readonly nodeModules: number;
    readonly model: number;
    readonly total: number;
  };
  readonly packages: number;
}

export interface BuildOptions {
  readonly root?: string;
  readonly modelDir?: string;
  readonly out?: string;
  readonly limitBytes?: number;
  /** The function re-exports whose handlers must be in the layer (default layers/function). */
  readonly functionDir?: string;
}

/** Stages the layer; throws LayerBuildError (after writing the folder) when it is over the limit. */
export function buildLayer(options: BuildOptions = {}): LayerReport {
  const root = options.root ?? repoRoot;
  const modelDir = resolve(root, options.modelDir ?? "models/codiff-tiny");
  const out = resolve(root, options.out ?? "layers/build/inference");
  const limit = options.limitBytes ?? LAMBDA_UNZIPPED_LIMIT_BYTES;
  const model = checkModel(modelDir);
  const dist = join(root, "dist");
  const missing = handlerTargets(options.functionDir).filter((target) => !existsSync(join(root, target)));
  if (missing.length > 0) {
    throw new LayerBuildError(`compiled handlers missing: ${missing.join(", ")} (run npm run build first)`);
  }

  rmSync(out, { recursive: true, force: true });
  const nodejs = join(out, "nodejs");
  mkdirSync(nodejs, { recursive: true });
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
    name: string;
    version: string;
  };
  // Named like the package: the runtime finds the shipped model beside the package.json named "unjpeg".
  writeFileSync(
    join(nodejs, "package.json"),
    `${JSON.stringify({ name: pkg.name, version: pkg.version, private: true, type: "module" }, null, 2)}\n`,
  );
  cpSync(dist, join(nodejs, "dist"), { recursive: true, filter: (source) => isRuntimeFile(source) });

  const packages = productionPackages(readFileSync(join(root, "package-lock.json"), "utf8"));
  let copied = 0;
  for (const path of packages) {
    const from = join(root, path);
    if (!existsSync(from)) continue; // an optional dependency npm did not install here
    copyPackage(from, join(nodejs, path));
    copied += 1;
  }
  const nodeModules = join(nodejs, "node_modules");
  pruneOnnxRuntime(nodeModules);
  const sharpHint = "install it with `npm install --os=linux --cpu=x64 --libc=glibc sharp` before building";
  requirePackage(nodeModules, "@img/sharp-linux-x64", sharpHint);
  requirePackage(nodeModules, "@img/sharp-libvips-linux-x64", sharpHint);

  const modelOut = join(nodejs, "models", model.id);
  mkdirSync(dirname(modelOut), { recursive: true });
  cpSync(modelDir, modelOut, { recursive: true });

  const bytes = {
    dist: sizeOf(join(nodejs, "dist")),
    nodeModules: sizeOf(nodeModules),
    model: sizeOf(modelOut),
    total: sizeOf(out) + FUNCTION_CODE_BYTES,
  };
  const report: LayerReport = { out, model: `${model.id}@${model.version}`, bytes, packages: copied };
  if (bytes.total > limit) {
    throw new LayerBuildError(
      `layer too large: ${formatMB(bytes.total)} unzipped with the function code, over Lambda's ${formatMB(limit)}\n${formatReport(report)}`,
    );
  }
  return report;
}

function formatMB(bytes: number): string {
  return `${(bytes / 1_048_576).toFixed(1)} MiB`;
}

export function formatReport(report: LayerReport): string {
  const row = (name: string, bytes: number) => `  ${name.padEnd(22)} ${formatMB(bytes).padStart(11)}`;
  return [
    `layer staged at ${relative(process.cwd(), report.out) || "."} (model ${report.model}, ${report.packages} packages)`,
    row("dist (lib, handlers)", report.bytes.dist),
    row("node_modules", report.bytes.nodeModules),
    row("model", report.bytes.model),
    row("total, unzipped", report.bytes.total),
    row("Lambda's limit", LAMBDA_UNZIPPED_LIMIT_BYTES),
  ].join("\n");
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { model: { type: "string" }, out: { type: "string" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) {
    process.stdout.write("usage: tsx layers/build.ts [--model DIR] [--out DIR]   (after npm run build)\n");
    return 0;
  }
  try {
    const report = buildLayer({ modelDir: values.model, out: values.out });
    process.stdout.write(`${formatReport(report)}\n`);
    return 0;
  } catch (error) {
    if (error instanceof LayerBuildError) {
      process.stderr.write(`layers/build: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  process.exitCode = await main(process.argv.slice(2));
}
