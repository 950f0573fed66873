/**
 * Test support: libjpeg-turbo's command-line tools (Debian's libjpeg-turbo-progs, which .ci/run installs)
 * run on bytes in memory, and the coefficient fixtures.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

const available = new Map<string, boolean>();

/** Whether every named tool runs here. */
export function haveTools(...tools: string[]): boolean {
  return tools.every((tool) => {
    if (!available.has(tool)) {
      try {
        execFileSync(tool, ["-version"], { stdio: "ignore" });
        available.set(tool, true);
      } catch (error) {
        // The tools answer -version with status 0 or 1; only a missing binary is "not available".
        available.set(tool, (error as NodeJS.ErrnoException).code !== "ENOENT");
      }
    }
    return available.get(tool)!;
  });
}

/** A reason to skip a test when a tool is missing (CI installs them: see .ci/run). */
export function skipWithout(...tools: string[]): string | false {
  return haveTools(...tools)
    ? false
    : `needs ${tools.join(", ")} (Debian: apt-get install libjpeg-turbo-progs)`;
}

/** Runs `tool args` with `input` on its standard input; its standard output. */
export function runTool(tool: string, args: readonly string[], input: Uint8Array): Buffer {
  return execFileSync(tool, args, { input, maxBuffer: 64 * 1024 * 1024, stdio: ["pipe", "pipe", "pipe"] });
}

export const fixture = (name: string): Buffer =>
  readFileSync(new URL(`../fixtures/jpeg/${name}`, import.meta.url));

/** The committed seed files of the coefficient tests (tests/fixtures/jpeg/make-coefficients.sh). */
export const COEFFICIENT_SEEDS = [
  "coef-baseline-420.jpg",
  "coef-progressive-444.jpg",
  "coef-grey-restart.jpg",
  "coef-progressive-420-restart.jpg",
  "coef-baseline-422.jpg",
];

/** A binary PPM (P6) of a photo-like picture: shading, an edge, texture; deterministic. */
export function photoLikePpm(width: number, height: number, seed = 1): Buffer {
  const pixels = Buffer.alloc(width * height * 3);
  let state = seed;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      const noise = (state >>> 27) - 16;
      const edge = x + 2 * y > width ? 80 : 0;
      const i = (y * width + x) * 3;
      pixels[i] = clamp(120 + 80 * Math.sin(x / 6) + edge + noise);
      pixels[i + 1] = clamp(100 + 60 * Math.cos(y / 5) + ((x * 3) % 40) + noise);
      pixels[i + 2] = clamp(140 - edge + 40 * Math.sin((x + y) / 4) + noise);
    }
  }
  return Buffer.concat([Buffer.from(`P6\n${width} ${height}\n255\n`), pixels]);
}

const clamp = (v: number): number => Math.max(0, Math.min(255, Math.round(v)));
