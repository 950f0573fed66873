/**
 * Checks container/Dockerfile without Docker: every file it COPYs from the build context exists (build
 * args at their defaults) and is not excluded by container/Dockerfile.dockerignore, and every entry point
 * it names has its source (lib/cli/main.ts, handlers/<name>.ts exporting `handler`).
 *
 *   npx tsx container/check.ts [Dockerfile]     exit 0: fine, 1: problems (listed)
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { UnjpegError } from "../lib/errors.js";

export interface CheckResult {
  /** What would make `docker build` or the image's start fail. */
  readonly problems: string[];
  /** Sources that depend on a build arg whose default is not in the context (fine once provided). */
  readonly notes: string[];
  /** Context paths copied and entry points found, for the report. */
  readonly checked: string[];
}

interface Instruction {
  readonly line: number;
  readonly keyword: string;
  readonly args: string;
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
  const globalArgs = new Map<string, string>();
  let stageArgs = new Map<string, string>();
  let inStage = false;
  const expand = (text: string, args: Map<string, string>) =>
    text.replace(
      /\$\{?(\w+)\}?/g,
      (_, name: string) => args.get(name) ?? globalArgs.get(name) ?? `\${${name}}`,
    );

  for (const { line, keyword, args } of parseDockerfile(readFileSync(dockerfile, "utf8"))) {
    const where = `${dockerfile}:${line}`;
    if (keyword === "ARG") {
      const [name, value = ""] = args.split("=", 2);
      (inStage ? stageArgs : globalArgs).set(name!.trim(), value.trim());
    } else if (keyword === "FROM") {
      inStage = true;
      stageArgs = new Map();
    } else if (keyword === "COPY" || keyword === "ADD") {
      if (/(^|\s)--from=/.test(args)) continue;
      const words = args.split(/\s+/).filter((word) => !word.startsWith("--"));
      for (const source of words.slice(0, -1)) {
        const usesArg = /\$/.test(source);
        const path = expand(source, stageArgs).replace(/^\.\//, "").replace(/\/$/, "");
        if (!existsSync(join(contextDir, path))) {
          const message = `${where}: ${keyword} source ${path} is not in the build context`;
          if (usesArg)
            notes.push(`${message} (a build arg's default: pass --build-arg to use another folder)`);
          else problems.push(message);
        } else if (isIgnored(path, rules)) {
          problems.push(`${where}: ${path} is excluded by ${ignorePath}`);
        } else {
          checked.push(path);
        }
      }
    } else if (keyword === "ENTRYPOINT" || keyword === "CMD") {
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
  return { problems, notes, checked };
}

function main(argv: string[]): number {
  const dockerfile = resolve(argv[0] ?? join(import.meta.dirname, "Dockerfile"));
  if (!existsSync(dockerfile)) throw new UnjpegError("DOCKERFILE_MISSING", `no Dockerfile at ${dockerfile}`);
  const result = checkDockerfile(dockerfile, dirname(dirname(dockerfile)));
  for (const item of result.checked) process.stdout.write(`ok    ${item}\n`);
  for (const note of result.notes) process.stdout.write(`note  ${note}\n`);
  for (const problem of result.problems) process.stderr.write(`error ${problem}\n`);
  return result.problems.length === 0 ? 0 : 1;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  process.exitCode = main(process.argv.slice(2));
}
