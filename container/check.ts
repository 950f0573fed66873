/**
 * Checks container/Dockerfile without Docker: every file it COPYs from the build context exists (build
 * args at their defaults) and is not excluded by container/Dockerfile.dockerignore; every entry point it
 * names has its source (lib/cli/main.ts, handlers/<name>.ts exporting `handler`); and, per target, what
 * the image starts: an entry script copied from the context exists there, and every program it execs is
 * put into that target's image by a COPY (its own or its parent stages').
 *
 *   npx tsx container/check.ts [Dockerfile]     exit 0: fine, 1: problems (listed)
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { UnjpegError } from "../lib/errors.js";
import { copiedInto, type Instruction, readStages, type Stage } from "./stages.js";

export type { Stage } from "./stages.js";

export interface CheckResult {
  /** What would make `docker build` or the image's start fail. */
  readonly problems: string[];
  /** Sources that depend on a build arg whose default is not in the context (fine once provided). */
  readonly notes: string[];
  /** Context paths copied and entry points found, for the report. */
  readonly checked: string[];
  /** Each target (stage) as it ends: entry point, command, environment, copies. */
  readonly stages: ReadonlyMap<string, Stage>;
}

/** Dockerfile instructions with continuation lines joined and comments dropped. */
export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = "";
  let start = 0;
  text.split("\n").forEach((raw, index) => {
    const line = raw.trimEnd();
    if (pending === "" && /^\s*(#|$)/.test(line)) return;
    if (pending === "") start = index + 1;
    if (line.endsWith("\\")) {
      pending += `${line.slice(0, -1)} `;
      return;
    }
    const full = (pending + line).trim();
    pending = "";
    const match = /^(\w+)\s+(.*)$/s.exec(full);
    if (match?.[1] && match[2] !== undefined)
      out.push({ line: start, keyword: match[1].toUpperCase(), args: match[2] });
  });
  return out;
}

/** A .dockerignore as an ordered list of (pattern, excluded) rules; the last matching rule wins. */
function ignoreRules(text: string): { regex: RegExp; exclude: boolean }[] {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const exclude = !line.startsWith("!");
      const pattern = (exclude ? line : line.slice(1)).replace(/^\/+|\/+$/g, "");
      const source = pattern
        .split("/")
        .map((part) =>
          part === "**" ? ".*" : part.replace(/[.+^$()|[\]{}]/g, "\\$&").replace(/\*/g, "[^/]*"),
        )
        .join("/")
        .replace(/\/\.\*$/, "(/.*)?")
        .replace(/^\.\*\//, "(.*/)?");
      return { regex: new RegExp(`^${source}(/.*)?$`), exclude };
    });
}

function isIgnored(path: string, rules: { regex: RegExp; exclude: boolean }[]): boolean {
  let ignored = false;
  for (const rule of rules) if (rule.regex.test(path)) ignored = rule.exclude;
  return ignored;
}

/** Checks one Dockerfile against the build context `contextDir`. */
export function checkDockerfile(dockerfile: string, contextDir: string): CheckResult {
  const problems: string[] = [];
  const notes: string[] = [];
  const checked: string[] = [];
  const ignorePath = `${dockerfile}.dockerignore`;
  const rules = existsSync(ignorePath) ? ignoreRules(readFileSync(ignorePath, "utf8")) : [];
  const instructions = parseDockerfile(readFileSync(dockerfile, "utf8"));
  const stages = readStages(instructions);
  for (const stage of stages.values()) {
    for (const copy of stage.copies) {
      if (copy.stage !== stage.name || copy.source === undefined) continue;
      const where = `${dockerfile}:${copy.line}`;
      if (!existsSync(join(contextDir, copy.source))) {
        const message = `${where}: ${copy.keyword} source ${copy.source} is not in the build context`;
        if (copy.usesArg)
          notes.push(`${message} (a build arg's default: pass --build-arg to use another folder)`);
        else problems.push(message);
      } else if (isIgnored(copy.source, rules)) {
        problems.push(`${where}: ${copy.source} is excluded by ${ignorePath}`);
      } else {
        checked.push(copy.source);
      }
    }
    checkEntryScript(stage, contextDir, problems, checked);
  }

  for (const { line, keyword, args } of instructions) {
    const where = `${dockerfile}:${line}`;
    if (keyword === "ENTRYPOINT" || keyword === "CMD") {
      for (const target of args.match(/[\w./-]+\.(js|handler)\b/g) ?? []) {
        const handler = /(?:^|\/)dist\/handlers\/([\w-]+)\.handler$/.exec(target);
        const script = /(?:^|\/)dist\/(.+)\.js$/.exec(target);
        const source = handler ? `handlers/${handler[1]}.ts` : script ? `${script[1]}.ts` : undefined;
        if (source === undefined) continue;
        if (!existsSync(join(contextDir, source))) {
          problems.push(`${where}: ${target} would be built from ${source}, which does not exist`);
        } else if (
          handler &&
          !/export\s+(const|async function|function)\s+handler\b/.test(
            readFileSync(join(contextDir, source), "utf8"),
          )
        ) {
          problems.push(`${where}: ${source} does not export \`handler\``);
        } else {
          checked.push(`${target} ← ${source}`);
        }
      }
    }
  }
  return { problems, notes, checked, stages };
}

/**
 * A stage whose entry point is a script copied from the build context: every absolute path it execs must
 * be in the image, put there by a COPY of this stage or of a stage it is built from.
 */
function checkEntryScript(stage: Stage, contextDir: string, problems: string[], checked: string[]): void {
  const entry = stage.entrypoint?.[0];
  if (entry === undefined) return;
  const copy = copiedInto(stage, entry);
  if (copy?.source === undefined || copy.stage !== stage.name) return;
  const path = join(contextDir, copy.source);
  if (!existsSync(path)) return; // reported with the COPY
  checked.push(`${stage.name}: ${entry} ← ${copy.source}`);
  const script = readFileSync(path, "utf8");
  for (const match of script.matchAll(/^\s*exec\s+(.+)$/gm)) {
    for (const program of match[1]!.split(/\s+/).filter((word) => word.startsWith("/"))) {
      const provider = copiedInto(stage, program);
      if (provider === undefined) {
        problems.push(`${copy.source} runs ${program}, which no COPY puts into the ${stage.name} image`);
      } else {
        checked.push(`${stage.name}: ${program} (run by ${copy.source}) ← COPY in stage ${provider.stage}`);
      }
    }
  }
}

function main(argv: string[]): number {
  const dockerfile = resolve(argv[0] ?? join(import.meta.dirname, "Dockerfile"));
  if (!existsSync(dockerfile)) throw new UnjpegError("DOCKERFILE_MISSING", `no Dockerfile at ${dockerfile}`);
  const result = checkDockerfile(dockerfile, dirname(dirname(dockerfile)));
  for (const item of result.checked) process.stdout.write(`ok    ${item}\n`);
  for (const stage of result.stages.values()) {
    if (stage.entrypoint === undefined && stage.cmd === undefined) continue;
    const start = [...(stage.entrypoint ?? []), ...(stage.cmd ?? [])].join(" ");
    process.stdout.write(`start ${stage.name}: ${start}\n`);
  }
  for (const note of result.notes) process.stdout.write(`note  ${note}\n`);
  for (const problem of result.problems) process.stderr.write(`error ${problem}\n`);
  return result.problems.length === 0 ? 0 : 1;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  process.exitCode = main(process.argv.slice(2));
}
