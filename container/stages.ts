/**
 * What each target of a Dockerfile starts, read without Docker: per stage its base, the ENTRYPOINT, CMD and
 * ENV it ends with (inherited from the stage it is built FROM, as Docker does: a stage's own ENTRYPOINT
 * resets the inherited CMD), and what its COPY instructions put where, its parents' included.
 */

export interface Instruction {
  readonly line: number;
  readonly keyword: string;
  readonly args: string;
}

export interface Copy {
  /** Where the instruction is, and the stage it belongs to. */
  readonly line: number;
  readonly stage: string;
  readonly keyword: "COPY" | "ADD";
  /** Build-context path (build args expanded), or undefined for `COPY --from=`. */
  readonly source: string | undefined;
  /** The stage or image a `COPY --from=` reads. */
  readonly from: string | undefined;
  /**
   * The path it lands at in the image, absolute (a relative destination is under the WORKDIR; into a
   * folder, `dest/`, a source lands under its own name).
   */
  readonly dest: string;
  /** The source named a build arg (its default is what was checked). */
  readonly usesArg: boolean;
}

export interface Stage {
  readonly name: string;
  /** An earlier stage's name, or an image reference (build args expanded). */
  readonly base: string;
  readonly entrypoint: readonly string[] | undefined;
  readonly cmd: readonly string[] | undefined;
  readonly env: Readonly<Record<string, string>>;
  /** This stage's copies and its parent stages'. */
  readonly copies: readonly Copy[];
}

/** `["a", "b"]` (exec form) as is; the shell form as Docker runs it. */
function command(args: string): string[] {
  try {
    const parsed: unknown = JSON.parse(args);
    if (Array.isArray(parsed) && parsed.every((item) => typeof item === "string")) return parsed;
  } catch {
    // not JSON: the shell form
  }
  return ["/bin/sh", "-c", args];
}

/** `ENV A=1 B=2` and the legacy `ENV A 1`. */
function envPairs(args: string): [string, string][] {
  const words = args.trim().split(/\s+/);
  if (words.length > 0 && !words[0]!.includes("=")) return [[words[0]!, words.slice(1).join(" ")]];
  return words.map((word) => {
    const at = word.indexOf("=");
    return [word.slice(0, at), word.slice(at + 1).replace(/^"(.*)"$/, "$1")];
  });
}

/**
 * Stages in file order, keyed by name (`AS name`, else their index), build args replaced by their
 * defaults (a stage's `ARG NAME` without one takes the global ARG's, as Docker does).
 */
export function readStages(instructions: readonly Instruction[]): Map<string, Stage> {
  const stages = new Map<string, Stage>();
  const globalArgs = new Map<string, string>();
  let stageArgs = new Map<string, string>();
  const expand = (text: string) =>
    text.replace(
      /\$\{?(\w+)\}?/g,
      (_, name: string) => stageArgs.get(name) ?? globalArgs.get(name) ?? `\${${name}}`,
    );
  let current: { -readonly [K in keyof Stage]: Stage[K] } | undefined;
  let workdir = "/";
  const finish = () => {
    if (current !== undefined) stages.set(current.name, { ...current });
  };
  for (const { line, keyword, args } of instructions) {
    if (keyword === "ARG") {
      const [name = "", value] = args.split("=", 2).map((part) => part.trim());
      if (current === undefined) globalArgs.set(name, value ?? "");
      else if (value !== undefined) stageArgs.set(name, value);
      else if (globalArgs.has(name)) stageArgs.set(name, globalArgs.get(name)!);
      continue;
    }
    if (keyword === "FROM") {
      finish();
      stageArgs = new Map();
      const match = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args.trim());
      const base = expand(match?.[1] ?? args);
      const name = match?.[2] ?? String(stages.size);
      const parent = stages.get(base);
      current = {
        name,
        base,
        entrypoint: parent?.entrypoint,
        cmd: parent?.cmd,
        env: { ...parent?.env },
        copies: [...(parent?.copies ?? [])],
      };
      workdir = "/";
      continue;
    }
    if (current === undefined) continue;
    const text = expand(args);
    if (keyword === "ENTRYPOINT") {
      current.entrypoint = command(text);
      current.cmd = undefined;
    } else if (keyword === "CMD") {
      current.cmd = command(text);
    } else if (keyword === "ENV") {
      current.env = { ...current.env, ...Object.fromEntries(envPairs(text)) };
    } else if (keyword === "WORKDIR") {
      workdir = text.startsWith("/") ? text : `${workdir.replace(/\/$/, "")}/${text}`;
    } else if (keyword === "COPY" || keyword === "ADD") {
      const from = /(?:^|\s)--from=(\S+)/.exec(text)?.[1];
      const words = args.split(/\s+/).filter((word) => !word.startsWith("--"));
      const last = expand(words.at(-1) ?? "");
      const dest = last.startsWith("/")
        ? last
        : `${workdir.replace(/\/$/, "")}/${last.replace(/^\.\/?/, "")}`;
      for (const word of words.slice(0, -1)) {
        const named = expand(word).replace(/^\.\//, "").replace(/\/$/, "");
        const source = from === undefined ? named : undefined;
        const landed = dest.endsWith("/") ? `${dest}${named.split("/").at(-1)}` : dest;
        const copy: Copy = {
          line,
          stage: current.name,
          keyword,
          source,
          from,
          dest: landed,
          usesArg: word.includes("$"),
        };
        current.copies = [...current.copies, copy];
      }
    }
  }
  finish();
  return stages;
}

/** The copy in `stage` that puts `path` in the image (the path itself, or a folder above it), the deepest. */
export function copiedInto(stage: Stage, path: string): Copy | undefined {
  let found: Copy | undefined;
  for (const copy of stage.copies) {
    const dest = copy.dest.replace(/\/$/, "");
    const covers = path === dest || path.startsWith(`${dest}/`);
    if (covers && (found === undefined || dest.length >= found.dest.replace(/\/$/, "").length)) found = copy;
  }
  return found;
}
