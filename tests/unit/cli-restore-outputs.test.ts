/** restore's output plan on real files: clashes by path and by inode, decided before anything is written. */
import assert from "node:assert/strict";
import { link, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { outputGuard, planOutputs } from "../../lib/cli/restore-outputs.js";

const codes = (plan: Awaited<ReturnType<typeof planOutputs>>) =>
  plan.map((p) => ("refused" in p ? p.refused.code : p.target));

describe("restore output plan (reliability case 1)", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "unjpeg-outputs-"));
    for (const sub of ["a", "b"]) await mkdir(join(dir, sub));
    await writeFile(join(dir, "a/x.jpg"), "a");
    await writeFile(join(dir, "b/x.jpg"), "b");
    await writeFile(join(dir, "a/p.jpg"), "p");
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const naming = (more: { outDir?: string; output?: string } = {}) => ({
    output: more.output,
    outDir: more.outDir,
    format: "jpeg" as const,
    suffix: ".restored",
  });

  it("beside the input: an input named like another's output is refused, the others are planned", async () => {
    const a = join(dir, "a/x.jpg");
    const taken = join(dir, "a/x.restored.jpg");
    await writeFile(taken, "an input that looks like an output");
    const plan = await planOutputs([a, taken, join(dir, "a/p.jpg")], naming());
    assert.deepEqual(codes(plan), [
      "CLI_WOULD_OVERWRITE",
      join(dir, "a/x.restored.restored.jpg"),
      join(dir, "a/p.restored.jpg"),
    ]);
  });

  it("the same input twice, or x.jpg and x.jpeg into one folder, clash", async () => {
    await writeFile(join(dir, "b/x.jpeg"), "b2");
    const out = join(dir, "out");
    const twice = await planOutputs([join(dir, "a/x.jpg"), join(dir, "a/x.jpg")], naming({ outDir: out }));
    assert.deepEqual(codes(twice), ["CLI_OUTPUT_CLASH", "CLI_OUTPUT_CLASH"]);
    const exts = await planOutputs([join(dir, "b/x.jpg"), join(dir, "b/x.jpeg")], naming({ outDir: out }));
    assert.deepEqual(codes(exts), ["CLI_OUTPUT_CLASH", "CLI_OUTPUT_CLASH"]);
  });

  it("an output that is an input under another name (hard link, symlink) is refused", async () => {
    const out = join(dir, "linked");
    await mkdir(out);
    await link(join(dir, "a/x.jpg"), join(out, "p.jpg")); // a/p.jpg's output is a/x.jpg's inode
    const plan = await planOutputs([join(dir, "a/x.jpg"), join(dir, "a/p.jpg")], naming({ outDir: out }));
    assert.deepEqual(codes(plan), [join(out, "x.jpg"), "CLI_WOULD_OVERWRITE"]);
    await symlink(join(dir, "b/x.jpg"), join(dir, "via-symlink.jpg"));
    const viaLink = await planOutputs(
      [join(dir, "b/x.jpg")],
      naming({ output: join(dir, "via-symlink.jpg") }),
    );
    assert.deepEqual(codes(viaLink), ["CLI_WOULD_OVERWRITE"]);
  });

  it("the guard refuses a write onto an input or onto an output this run already wrote", async () => {
    const inputs = [join(dir, "a/x.jpg"), join(dir, "a/p.jpg")];
    const guard = await outputGuard(inputs);
    await assert.rejects(guard.check(inputs[1]!, inputs[0]!), { code: "CLI_WOULD_OVERWRITE" });
    const target = join(dir, "guarded.jpg");
    await guard.check(inputs[0]!, target); // nothing there yet
    await writeFile(target, "first");
    await guard.wrote(inputs[0]!, target);
    await assert.rejects(guard.check(inputs[1]!, target), { code: "CLI_OUTPUT_CLASH" });
  });
});
