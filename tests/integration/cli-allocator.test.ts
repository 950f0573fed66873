/**
 * The CLI runs commands that restore images with glibc's allocator tuned (lib/allocator.ts): it executes
 * itself again with GLIBC_TUNABLES set. A preloaded script prints what each process of the CLI sees.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { ALLOCATOR_TUNABLES } from "../../lib/allocator.js";
import { REPO_ROOT } from "./cli-helpers.js";

const run = promisify(execFile);

describe("the CLI's allocator settings", { skip: process.platform !== "linux" && "glibc only" }, () => {
  let dir: string;
  let preload: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "unjpeg-allocator-"));
    preload = join(dir, "print-tunables.cjs");
    await writeFile(
      preload,
      'process.stderr.write("tunables: " + (process.env.GLIBC_TUNABLES ?? "<unset>") + "\\n");\n',
    );
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /**
   * The values the processes started by `unjpeg ARGS` saw, in order and each once (tsx's loader thread
   * runs the preload too), and the exit code.
   */
  async function tunablesSeen(args: string[], tunables?: string): Promise<{ seen: string[]; code: number }> {
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: `--require ${preload}` };
    delete env["GLIBC_TUNABLES"];
    if (tunables !== undefined) env["GLIBC_TUNABLES"] = tunables;
    let stderr: string;
    let code = 0;
    try {
      ({ stderr } = await run(process.execPath, ["--import", "tsx", "lib/cli/main.ts", ...args], {
        cwd: REPO_ROOT,
        env,
      }));
    } catch (error) {
      ({ stderr, code } = error as { stderr: string; code: number });
    }
    const lines = stderr.split("\n").filter((line) => line.startsWith("tunables: "));
    const seen = [...new Set(lines.map((line) => line.slice("tunables: ".length)))];
    return { seen, code };
  }

  it("runs a restoring command again with the settings, and keeps its exit code", async () => {
    assert.deepEqual(await tunablesSeen(["restore", "--help"]), {
      seen: ["<unset>", ALLOCATOR_TUNABLES],
      code: 0,
    });
    const missing = await tunablesSeen(["restore", join(dir, "missing.jpg"), "--out-dir", dir]);
    assert.deepEqual(missing, { seen: ["<unset>", ALLOCATOR_TUNABLES], code: 1 });
  });

  it("leaves other commands, and a user's own setting (even empty), alone", async () => {
    assert.deepEqual(await tunablesSeen(["inspect", "--help"]), { seen: ["<unset>"], code: 0 });
    assert.deepEqual(await tunablesSeen(["restore", "--help"], ""), { seen: [""], code: 0 });
    const own = "glibc.malloc.arena_max=2";
    assert.deepEqual(await tunablesSeen(["eval", "--help"], own), { seen: [own], code: 0 });
  });
});
