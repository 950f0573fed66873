/**
 * The backfill state file: an append-only journal of finished objects, one JSON line each, fsync'd before
 * an object counts as done. Killed at any moment (even `kill -9`), the file holds every object whose
 * derivative was written and journaled; a torn last line (the write that was cut) is dropped on reopen.
 * So a restart redoes at most the objects that were in flight, and never one already journaled.
 *
 * Writes are group-committed: every record appended while one write+fsync runs goes out in the next one,
 * so a fast triage loop pays one fsync per batch, not one per object.
 */
import { type FileHandle, open } from "node:fs/promises";
import { UnjpegError } from "../errors.js";

export type Outcome = "restored" | "skipped" | "failed" | "would-restore";

/** One finished object. Short field names: a million-object journal stays small. */
export interface JournalEntry {
  /** Key. */
  readonly k: string;
  /** Version id, when the listing or manifest named one. */
  readonly v?: string;
  /** Source ETag seen when processed (an object changed since is redone). */
  readonly e?: string;
  readonly o: Outcome;
  /** Skip reason or failure code. */
  readonly r?: string;
  /** Failure kind: a temporary failure is retried on the next run, a permanent one is not. */
  readonly f?: "temporary" | "permanent";
  /** Failure message. */
  readonly m?: string;
  /** Estimated source quality. */
  readonly q?: number | null;
  /** Bytes read from S3 for this object, and bytes written. */
  readonly br?: number;
  readonly bw?: number;
  /** Milliseconds spent on this object. */
  readonly ms?: number;
}

export interface JournalHeader {
  readonly unjpeg: "backfill-state";
  readonly version: 1;
  /** What this state file belongs to: `s3://bucket/prefix` or `manifest:<path>`. */
  readonly source: string;
  readonly createdAt: string;
}

export class StateFileError extends UnjpegError {
  constructor(path: string, why: string) {
    super("BACKFILL_STATE_INVALID", `state file ${path}: ${why}`, { status: 400 });
  }
}

export interface Journal {
  /** Path of the state file, or null for an in-memory journal. */
  readonly path: string | null;
  /** The latest entry per object (`key` or `key\0versionId`), from earlier runs and this one. */
  readonly entries: ReadonlyMap<string, JournalEntry>;
  /** How many entries the state file held when opened. */
  readonly resumed: number;
  /** Resolves once the entry is on disk (written and fsync'd). */
  append(entry: JournalEntry): Promise<void>;
  close(): Promise<void>;
}

/**
 * What is kept in memory per object: enough to decide "done" and to build the report. Sizes and timings
 * stay on disk only, so a journal of millions of objects fits in a modest heap.
 */
function slim(entry: JournalEntry): JournalEntry {
  return {
    k: entry.k,
    ...(entry.v === undefined ? {} : { v: entry.v }),
    ...(entry.e === undefined ? {} : { e: entry.e }),
    o: entry.o,
    ...(entry.r === undefined ? {} : { r: entry.r }),
    ...(entry.o === "failed" ? { f: entry.f, m: entry.m } : {}),
  };
}

export function entryId(key: string, versionId?: string): string {
  return versionId === undefined ? key : `${key}\u0000${versionId}`;
}

/**
 * Whether an object needs no work in this run: it is journaled, was not a temporary failure, and (when
 * both ETags are known) has not changed since.
 */
export function isDone(
  entries: ReadonlyMap<string, JournalEntry>,
  object: { key: string; versionId?: string; etag?: string },
): boolean {
  const entry = entries.get(entryId(object.key, object.versionId));
  if (entry === undefined || entry.o === "would-restore") return false;
  if (entry.o === "failed" && entry.f === "temporary") return false;
  return entry.e === undefined || object.etag === undefined || entry.e === object.etag;
}

interface ParsedJournal {
  header: JournalHeader | null;
  entries: Map<string, JournalEntry>;
  /** Bytes of whole lines: what remains after dropping a torn last line. */
  validBytes: number;
  count: number;
}

/** Takes a state file's lines one at a time (each without its newline). */
function journalParser(path: string): { line(text: string): void; readonly result: ParsedJournal } {
  const result: ParsedJournal = { header: null, entries: new Map(), validBytes: 0, count: 0 };
  let lineNumber = 0;
  return {
    result,
    line(text) {
      lineNumber++;
      let record: unknown;
      try {
        record = JSON.parse(text);
      } catch {
        throw new StateFileError(path, `line ${lineNumber} is not JSON (the file was edited or corrupted)`);
      }
      if (lineNumber === 1) {
        const candidate = record as Partial<JournalHeader>;
        if (candidate.unjpeg !== "backfill-state" || candidate.version !== 1) {
          throw new StateFileError(path, "not an unjpeg backfill state file (version 1)");
        }
        result.header = candidate as JournalHeader;
      } else {
        const entry = record as JournalEntry;
        if (typeof entry.k !== "string" || typeof entry.o !== "string") {
          throw new StateFileError(path, `line ${lineNumber} is not a journal entry`);
        }
        result.entries.set(entryId(entry.k, entry.v), slim(entry));
        result.count++;
      }
    },
  };
}

/**
 * Parses a state file's text. A last line without its newline is a write cut short by a crash: it never
 * counted as done, and is dropped.
 */
export function parseJournal(text: string, path: string): ParsedJournal {
  const parser = journalParser(path);
  let start = 0;
  for (let end = text.indexOf("\n"); end !== -1; end = text.indexOf("\n", start)) {
    const line = text.slice(start, end);
    parser.line(line);
    parser.result.validBytes += Buffer.byteLength(line) + 1;
    start = end + 1;
  }
  return parser.result;
}

/** Reads a state file in chunks (a journal of millions of lines is larger than a string may be). */
async function readJournal(handle: FileHandle, path: string): Promise<ParsedJournal & { fileBytes: number }> {
  const parser = journalParser(path);
  const chunk = Buffer.alloc(1 << 20);
  let carry = Buffer.alloc(0);
  let position = 0;
  for (;;) {
    const { bytesRead } = await handle.read(chunk, 0, chunk.length, position);
    if (bytesRead === 0) break;
    position += bytesRead;
    const data =
      carry.length === 0
        ? chunk.subarray(0, bytesRead)
        : Buffer.concat([carry, chunk.subarray(0, bytesRead)]);
    let start = 0;
    for (let end = data.indexOf(0x0a); end !== -1; end = data.indexOf(0x0a, start)) {
      parser.line(data.toString("utf8", start, end));
      parser.result.validBytes += end - start + 1;
      start = end + 1;
    }
    carry = Buffer.from(data.subarray(start));
  }
  return { ...parser.result, fileBytes: position };
}

/** A journal that keeps nothing on disk (no `--state`, or a dry run). */
export function memoryJournal(): Journal {
  const entries = new Map<string, JournalEntry>();
  return {
    path: null,
    entries,
    resumed: 0,
    append: async (entry) => {
      entries.set(entryId(entry.k, entry.v), slim(entry));
    },
    close: async () => {},
  };
}

/**
 * Opens (or creates) a state file for `source`. A file made for another source is refused: resuming the
 * wrong job would silently skip objects.
 */
export async function openJournal(path: string, source: string, now: Date = new Date()): Promise<Journal> {
  const handle = await open(path, "a+");
  let parsed: ParsedJournal;
  try {
    const read = await readJournal(handle, path);
    parsed = read;
    if (parsed.header !== null && parsed.header.source !== source) {
      throw new StateFileError(path, `belongs to ${parsed.header.source}, not ${source}`);
    }
    if (read.fileBytes !== parsed.validBytes) await handle.truncate(parsed.validBytes);
    if (parsed.header === null) {
      const header: JournalHeader = {
        unjpeg: "backfill-state",
        version: 1,
        source,
        createdAt: now.toISOString(),
      };
      await handle.write(`${JSON.stringify(header)}\n`);
      await handle.sync();
    }
  } catch (error) {
    await handle.close();
    throw error;
  }
  return fileJournal(handle, path, parsed.entries, parsed.count);
}

function fileJournal(
  handle: FileHandle,
  path: string,
  entries: Map<string, JournalEntry>,
  resumed: number,
): Journal {
  let pending: { line: string; resolve: () => void; reject: (error: unknown) => void }[] = [];
  let flushing: Promise<void> | null = null;
  let failed: unknown = null;

  async function flush(): Promise<void> {
    while (pending.length > 0) {
      const batch = pending;
      pending = [];
      try {
        if (failed !== null) throw failed;
        await handle.write(batch.map((item) => item.line).join(""));
        await handle.datasync();
        for (const item of batch) item.resolve();
      } catch (error) {
        // A journal that cannot be written must stop the run: later entries could not be trusted.
        failed = error;
        for (const item of batch) item.reject(error);
      }
    }
    flushing = null;
  }

  return {
    path,
    entries,
    resumed,
    append(entry) {
      entries.set(entryId(entry.k, entry.v), slim(entry));
      const done = new Promise<void>((resolve, reject) => {
        pending.push({ line: `${JSON.stringify(entry)}\n`, resolve, reject });
      });
      flushing ??= flush();
      return done;
    },
    async close() {
      while (flushing !== null) await flushing;
      await handle.close();
    },
  };
}

/** A dry run's journal: seeded from an existing state file (so done objects are not counted), never written. */
export async function readOnlyJournal(path: string, source: string): Promise<Journal> {
  const journal = memoryJournal();
  let handle: FileHandle;
  try {
    handle = await open(path, "r");
  } catch (error) {
    if ((error as { code?: string }).code === "ENOENT") return journal;
    throw error;
  }
  let parsed: ParsedJournal;
  try {
    parsed = await readJournal(handle, path);
  } finally {
    await handle.close();
  }
  if (parsed.header !== null && parsed.header.source !== source) {
    throw new StateFileError(path, `belongs to ${parsed.header.source}, not ${source}`);
  }
  for (const [id, entry] of parsed.entries) (journal.entries as Map<string, JournalEntry>).set(id, entry);
  return { ...journal, resumed: parsed.count };
}
