/**
 * The `unjpeg` command (bin/unjpeg, also behind `npm run unjpeg` and `npm start`) starts node with glibc's
 * allocator tuned (lib/allocator.ts), in one process: a preloaded script prints what node sees.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { ALLOCATOR_TUNABLES } from "../../lib/allocator.js";
import { REPO_ROOT } from "./cli-helpers.js";

const run = promisify(execFile);

describe("bin/unjpeg and the allocator settings", {
  skip: process.platform !== "linux" && "glibc only",
}, () => {
  let dir: string;
  let preload: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "unjpeg-allocator-"));
    preload = join(dir, "print-tunables.cjs");
    await writeFile(
      preload,
      'process.stderr.write("tunables: " + (process.env.GLIBC_TUNABLES ?? "<unset>") + " pid " + process.pid + "\\n");\n',
    );
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /**
   * What node saw when `command ARGS` ran, each value once (tsx's loader thread runs the preload too),
   * how many processes printed, and the exit code.
   */
  async function seen(
    command: string,
    args: string[],
    tunables?: string,
  ): Promise<{ values: string[]; processes: number; code: number }> {
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: `--require ${preload}` };
    delete env["GLIBC_TUNABLES"];
    if (tunables !== undefined) env["GLIBC_TUNABLES"] = tunables;
    let stderr: string;
    let code = 0;
    try {
      ({ stderr } = await run("sh", [command, ...args], { cwd: REPO_ROOT, env }));
    } catch (error) {
      ({ stderr, code } = error as { stderr: string; code: number });
    }
    const lines = stderr.split("\n").filter((line) => line.startsWith("tunables: "));
    const parsed = lines.map((line) => /^tunables: (.*) pid (\d+)$/.exec(line)!);
    return {
      values: [...new Set(parsed.map((m) => m[1]!))],
      processes: new Set(parsed.map((m) => m[2])).size,
      code,
    };
  }

  it("sets the settings before node starts, in the same process, and keeps the exit code", async () => {
    const bin = join(REPO_ROOT, "bin/unjpeg");
    assert.deepEqual(await seen(bin, ["--tsx", "restore", "--help"]), {
      values: [ALLOCATOR_TUNABLES],
      processes: 1,
      code: 0,
    });
    const missing = await seen(bin, ["--tsx", "restore", join(dir, "missing.jpg"), "--out-dir", dir]);
    assert.deepEqual(missing, { values: [ALLOCATOR_TUNABLES], processes: 1, code: 1 });
  });

  it("keeps a value the user set, even empty", async () => {
    const bin = join(REPO_ROOT, "bin/unjpeg");
    assert.deepEqual((await seen(bin, ["--tsx", "inspect", "--help"], "")).values, [""]);
    const own = "glibc.malloc.arena_max=2";
    assert.deepEqual((await seen(bin, ["--tsx", "inspect", "--help"], own)).values, [own]);
  });

  it("runs the built CLI through a symlink, as npm installs the command", async (t) => {
    if (!existsSync(join(REPO_ROOT, "dist/lib/cli/main.js"))) {
      t.skip("no build (npm run build)");
      return;
    }
    const link = join(dir, "unjpeg");
    await symlink(join(REPO_ROOT, "bin/unjpeg"), link);
    assert.deepEqual(await seen(link, ["--help"]), { values: [ALLOCATOR_TUNABLES], processes: 1, code: 0 });
  });
});
