/**
 * Where `unjpeg restore` writes, decided for the whole run before anything is restored or written: an
 * output that would be one of the run's inputs (`CLI_WOULD_OVERWRITE`) or that two inputs would share
 * (`CLI_OUTPUT_CLASH`) is refused up front, so no input is ever written and no result silently replaces
 * another. Files are compared by path and, where they exist, by device and inode (hard links, symlinks,
 * case-insensitive file systems); `outputGuard` repeats the inode check just before each write, for outputs
 * this run creates.
 */
import type { Stats } from "node:fs";
import { stat } from "node:fs/promises";
import { basename, dirname, extname, join, resolve } from "node:path";
import type { OutputFormat } from "../config.js";
import { UnjpegError } from "../errors.js";
import { EXTENSIONS } from "../image/encode.js";

export interface OutputNaming {
  /** `-o OUT` (one input). */
  readonly output: string | undefined;
  /** `--out-dir DIR`: `DIR/<stem>.<ext>`. */
  readonly outDir: string | undefined;
  readonly format: OutputFormat;
  /** Beside the input otherwise: `<stem><suffix>.<ext>`. */
  readonly suffix: string;
}

/** An output that would replace an input of the run. */
export class WouldOverwriteError extends UnjpegError {
  constructor(input: string, target: string, overwritten: string) {
    const what = resolve(overwritten) === resolve(input) ? "the input itself" : `the input ${overwritten}`;
    super(
      "CLI_WOULD_OVERWRITE",
      `the output of ${input} would be ${target}, ${what}; originals are never modified`,
      { status: 400 },
    );
  }
}

/** Two inputs of one run would be written to one output. */
export class OutputClashError extends UnjpegError {
  constructor(input: string, target: string, others: readonly string[]) {
    super(
      "CLI_OUTPUT_CLASH",
      `${input} and ${others.join(", ")} would all be written to ${target}; none of them is restored (restore them into different folders, or one at a time with -o)`,
      { status: 400 },
    );
  }
}

/** Where the output of `input` goes (contracts: `--out-dir` gives `<stem>.<ext>`). */
export function outputPath(input: string, naming: OutputNaming): string {
  if (naming.output !== undefined) return naming.output;
  const stem = basename(input, extname(input));
  const ext = EXTENSIONS[naming.format];
  return naming.outDir !== undefined
    ? join(naming.outDir, `${stem}.${ext}`)
    : join(dirname(input), `${stem}${naming.suffix}.${ext}`);
}

export type PlannedOutput =
  | { readonly input: string; readonly target: string }
  | { readonly input: string; readonly refused: UnjpegError };

const inode = (s: Stats | null): string | undefined => (s === null ? undefined : `${s.dev}:${s.ino}`);
const statOrNull = (path: string): Promise<Stats | null> => stat(path).catch(() => null);

/** Each input's output, or why it is refused; in the order of `inputs`. */
export async function planOutputs(inputs: readonly string[], naming: OutputNaming): Promise<PlannedOutput[]> {
  const targets = inputs.map((input) => outputPath(input, naming));
  const [inputStats, targetStats] = await Promise.all([
    Promise.all(inputs.map(statOrNull)),
    Promise.all(targets.map(statOrNull)),
  ]);
  // Every name a file goes by here: its absolute path, and its inode when it exists.
  const inputByName = new Map<string, string>();
  inputs.forEach((input, i) => {
    inputByName.set(resolve(input), input);
    const id = inode(inputStats[i] ?? null);
    if (id !== undefined) inputByName.set(id, input);
  });
  const namesOf = (i: number): string[] => {
    const id = inode(targetStats[i] ?? null);
    return id === undefined ? [resolve(targets[i]!)] : [resolve(targets[i]!), id];
  };
  const sharing = new Map<string, number[]>();
  targets.forEach((_, i) => {
    for (const name of new Set(namesOf(i))) sharing.set(name, [...(sharing.get(name) ?? []), i]);
  });

  return inputs.map((input, i): PlannedOutput => {
    const target = targets[i]!;
    const names = namesOf(i);
    const overwritten = names.map((name) => inputByName.get(name)).find((hit) => hit !== undefined);
    if (overwritten !== undefined)
      return { input, refused: new WouldOverwriteError(input, target, overwritten) };
    const others = [...new Set(names.flatMap((name) => sharing.get(name) ?? []))].filter((j) => j !== i);
    if (others.length > 0) {
      return {
        input,
        refused: new OutputClashError(
          input,
          target,
          others.map((j) => inputs[j]!),
        ),
      };
    }
    return { input, target };
  });
}

export interface OutputGuard {
  /** Throws when writing `target` for `input` would replace an input or an output the run already wrote. */
  check(input: string, target: string): Promise<void>;
  /** Records a written output. */
  wrote(input: string, target: string): Promise<void>;
}

/**
 * Checked just before each write: the target must not be (by inode) an input of the run or an output the
 * run already wrote, which the plan cannot know of when two new names are one file (a case-insensitive file
 * system). The inputs' inodes are taken now, before anything is written.
 */
export async function outputGuard(inputs: readonly string[]): Promise<OutputGuard> {
  const inputById = new Map<string, string>();
  const writtenById = new Map<string, string>();
  const stats = await Promise.all(inputs.map(statOrNull));
  inputs.forEach((input, i) => {
    const id = inode(stats[i] ?? null);
    if (id !== undefined) inputById.set(id, input);
  });
  return {
    async check(input, target) {
      const id = inode(await statOrNull(target));
      if (id === undefined) return;
      const overwritten = inputById.get(id);
      if (overwritten !== undefined) throw new WouldOverwriteError(input, target, overwritten);
      const earlier = writtenById.get(id);
      if (earlier !== undefined) throw new OutputClashError(input, target, [earlier]);
    },
    async wrote(input, target) {
      const id = inode(await statOrNull(target));
      if (id !== undefined) writtenById.set(id, input);
    },
  };
}
