/** Where the shipped model lives: `models/codiff-tiny` in the package root (from source or from dist/). */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const SHIPPED_MODEL_ID = "codiff-tiny";

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, "package.json");
    if (
      existsSync(manifest) &&
      (JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === "unjpeg"
    )
      return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error("unjpeg: cannot find the package root (package.json named unjpeg)");
    dir = parent;
  }
}

let cached: string | undefined;

export function shippedModelDir(): string {
  cached ??= join(packageRoot(), "models", SHIPPED_MODEL_ID);
  return cached;
}
