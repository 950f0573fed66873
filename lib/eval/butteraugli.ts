/**
 * Butteraugli's 3-norm (libjxl's perceptual distance; lower is closer) through libjxl's own command,
 * `butteraugli_main` (Debian: libjxl-devtools), run on 8-bit RGB written as PPM files: no re-implementation
 * whose numbers could drift from the reference. Optional: `findButteraugli` answers null where the command
 * is not installed, and callers go on without the measure.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { UnjpegError } from "../errors.js";

const run = promisify(execFile);

export const BUTTERAUGLI_COMMAND = "butteraugli_main";

export interface Butteraugli {
  /** The 3-norm of `distorted` against `reference` (interleaved 8-bit RGB, `width` × `height`). */
  distance(reference: Uint8Array, distorted: Uint8Array, width: number, height: number): Promise<number>;
  /** Removes the temporary files. */
  close(): Promise<void>;
}

/** The command if it runs here, else null (ENOENT: not installed). */
export async function findButteraugli(command = BUTTERAUGLI_COMMAND): Promise<Butteraugli | null> {
  try {
    await run(command, [], { timeout: 30_000 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "EACCES") return null;
    // Without arguments it prints its usage and exits 1: it is there.
  }
  const dir = await mkdtemp(join(tmpdir(), "unjpeg-butteraugli-"));
  let files = 0;
  return {
    async distance(reference, distorted, width, height) {
      const a = join(dir, `${files++}.ppm`);
      const b = join(dir, `${files++}.ppm`);
      try {
        await Promise.all([writePpm(a, reference, width, height), writePpm(b, distorted, width, height)]);
        const { stdout } = await run(command, [a, b, "--pnorm", "3"], { timeout: 600_000 });
        return parseThreeNorm(stdout);
      } finally {
        await Promise.all([rm(a, { force: true }), rm(b, { force: true })]);
      }
    },
    close: () => rm(dir, { recursive: true, force: true }),
  };
}

/** The number after "3-norm:" in butteraugli_main's output (its first line is the max distance). */
export function parseThreeNorm(stdout: string): number {
  const match = /3-norm:\s*([0-9.eE+-]+)/.exec(stdout);
  const value = match === null ? Number.NaN : Number(match[1]);
  if (!Number.isFinite(value)) {
    throw new UnjpegError(
      "EVAL_BUTTERAUGLI_OUTPUT",
      `${BUTTERAUGLI_COMMAND} printed no 3-norm: ${JSON.stringify(stdout.slice(0, 200))}`,
    );
  }
  return value;
}

function writePpm(path: string, rgb: Uint8Array, width: number, height: number): Promise<void> {
  if (rgb.length !== width * height * 3)
    throw new RangeError(`rgb has ${rgb.length} bytes for ${width}×${height}`);
  const header = Buffer.from(`P6\n${width} ${height}\n255\n`, "latin1");
  return writeFile(path, Buffer.concat([header, rgb]));
}
