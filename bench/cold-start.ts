/**
 * What a cold start pays for code: the time to import each Lambda handler (compiled, from dist/) in a fresh
 * node process, median of `--runs` processes, and the same for any further modules named with `--module`
 * (to weigh a library before adopting it: `--module <its entry file>`).
 * Loading the model and creating sessions come after, on the first event, and are not counted here.
 *
 *   npm run build && node --import tsx bench/cold-start.ts [--runs 15] [--module PATH]...
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: { runs: { type: "string", default: "15" }, module: { type: "string", multiple: true } },
});
const runs = Number(values.runs);
const root = resolve(import.meta.dirname, "..");
const handlers = ["s3-upload", "queue-worker", "batch-operations", "cdn-origin"].map((name) =>
  resolve(root, "dist/handlers", `${name}.js`),
);
if (!handlers.every((path) => existsSync(path))) {
  process.stderr.write("dist/handlers is missing: run `npm run build` first\n");
  process.exit(2);
}

/** Milliseconds one fresh process takes to import `target` (a file). */
function importMs(target: string): number {
  const script = `const t = performance.now(); await import(${JSON.stringify(target)}); process.stdout.write(String(performance.now() - t));`;
  const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
  if (child.status !== 0) throw new Error(`importing ${target} failed: ${child.stderr}`);
  return Number(child.stdout);
}

const median = (xs: number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

const targets = [...handlers, ...(values.module ?? []).map((m) => resolve(m))];
process.stdout.write(`| module | import ms, median of ${runs} | min | max |\n|---|---:|---:|---:|\n`);
for (const target of targets) {
  const times = Array.from({ length: runs }, () => importMs(target));
  const name = target.startsWith(root) ? target.slice(root.length + 1) : target;
  process.stdout.write(
    `| ${name} | ${median(times).toFixed(1)} | ${Math.min(...times).toFixed(1)} | ${Math.max(...times).toFixed(1)} |\n`,
  );
}
