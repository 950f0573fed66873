/**
 * `unjpeg inspect [--json] [--resaved] FILE...`: quality and frame facts of each JPEG, read from its headers
 * only; with --resaved, also the earlier, harder compression of a re-saved file, read from the first part of
 * its scan as the restore's triage reads it (lib/restore/resaved.ts). With --json, one JSON object per line
 * per file; exit status 1 when any file failed.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { isUnjpegError } from "../errors.js";
import { DEFAULT_LIMITS } from "../image/limits.js";
import {
  type ByteSource,
  inspectJpegSource,
  type JpegInspection,
  type Recompression,
} from "../jpeg/index.js";
import { checkResaved, resavedPrefixBytes } from "../restore/resaved.js";
import { parseCommandArgs, UsageError } from "./args.js";

const USAGE = `usage: unjpeg inspect [--json] [--resaved] FILE...

Estimates each JPEG's IJG quality (1..100) from its quantization tables, reading only the headers.
  --json      one JSON object per line: {"file","ok":true,"quality","match","distance","width","height",
              "components","bitDepth","process","subsampling","tables"} or {"file","ok":false,"error"}
  --resaved   also look for an earlier, harder compression (a re-saved file) in the first part of the
              scan (up to 1 MiB; a progressive file whole, or not at all when longer): adds "recompressed":
              {"quality","offset":[dy,dx],"confidence"}, false, or null (not checked), and a column
  -h, --help  this text
Exit status: 0 all files read, 1 some file failed, 2 bad usage.`;

export type FileReport =
  | ({ file: string; ok: true } & Omit<
      JpegInspection,
      "status" | "componentInfo" | "headerBytes" | "scanStart"
    > & {
        bytesRead: number;
        /** With `resaved`: the earlier compression, false for none, null when the file is not checked. */
        recompressed?: Recompression | false | null;
      })
  | { file: string; ok: false; error: { code: string; message: string } };

export async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseArgv>;
  try {
    parsed = parseArgv(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`unjpeg inspect: ${error.message}\n${USAGE}\n`);
    return 2;
  }
  if (parsed.values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (parsed.positionals.length === 0) {
    process.stderr.write(`unjpeg inspect: no files given\n${USAGE}\n`);
    return 2;
  }
  const json = parsed.values.json === true;
  const resaved = parsed.values.resaved === true;
  if (!json) process.stdout.write(`${tableHeader(resaved)}\n`);
  let failed = false;
  for (const file of parsed.positionals) {
    const report = await inspectFile(file, { resaved });
    failed ||= !report.ok;
    process.stdout.write(`${json ? jsonLine(report) : tableRow(report, resaved)}\n`);
  }
  return failed ? 1 : 0;
}

function parseArgv(argv: string[]) {
  return parseCommandArgs(argv, {
    json: { type: "boolean" },
    resaved: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
}

/**
 * Inspects one file, reading only the prefix its headers need; failures become a report, not a throw.
 * Synchronous file calls: a command reads one file at a time, and the thread pool's round trips cost more
 * than the reads themselves (about 40x fewer files per second on a busy machine).
 */
export async function inspectFile(file: string, options: { resaved?: boolean } = {}): Promise<FileReport> {
  let fd: number | undefined;
  try {
    fd = openSync(file, "r");
    const stat = fstatSync(fd);
    if (!stat.isFile()) return failure(file, "FILE_NOT_REGULAR", "not a regular file");
    const source = fileSource(fd, stat.size);
    const result = await inspectJpegSource(source);
    const {
      status: _status,
      componentInfo: _components,
      headerBytes: _header,
      scanStart: _scan,
      ...facts
    } = result;
    if (options.resaved !== true) return { file, ok: true, ...facts };
    const length = resavedPrefixBytes(result, stat.size);
    if (length === null) return { file, ok: true, ...facts, recompressed: null };
    const prefix = await source.read(0, length);
    const check = checkResaved(prefix, result, stat.size, DEFAULT_LIMITS.maxPixels);
    const recompressed = check.status === "checked" ? (check.recompressed ?? false) : null;
    return { file, ok: true, ...facts, bytesRead: facts.bytesRead + prefix.length, recompressed };
  } catch (error) {
    if (isUnjpegError(error)) return failure(file, error.code, error.message);
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return failure(file, "FILE_NOT_FOUND", "no such file");
    if (code === "EISDIR") return failure(file, "FILE_NOT_REGULAR", "a directory");
    if (code === "EACCES" || code === "EPERM") return failure(file, "FILE_NOT_READABLE", "permission denied");
    if (typeof code === "string") return failure(file, "FILE_READ_FAILED", (error as Error).message);
    throw error;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Random access to an open file: reads exactly [start, end), fewer bytes only at its end. */
export function fileSource(fd: number, size: number): ByteSource {
  return {
    size,
    async read(start, end) {
      // Not zero-filled, and not from the shared pool: 5x faster than a Uint8Array of this size; every byte
      // handed back has been read.
      const buffer = Buffer.allocUnsafeSlow(Math.max(0, end - start));
      let filled = 0;
      while (filled < buffer.length) {
        const bytesRead = readSync(fd, buffer, filled, buffer.length - filled, start + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return buffer.subarray(0, filled);
    },
  };
}

function failure(file: string, code: string, message: string): FileReport {
  return { file, ok: false, error: { code, message } };
}

function jsonLine(report: FileReport): string {
  if (!report.ok) return JSON.stringify(report);
  const { bytesRead: _bytesRead, ...fields } = report;
  return JSON.stringify(fields);
}

const COLUMNS = ["quality", "match", "distance", "size", "bits", "process", "sampling", "file"];
const WIDTHS = [8, 12, 9, 12, 5, 23, 9];

/** With --resaved, a column before the file's: "12 @3,5" (earlier quality, grid offset), "no", or "-". */
function tableHeader(resaved: boolean): string {
  return resaved ? row([...COLUMNS.slice(0, -1), "resaved", "file"], true) : row(COLUMNS, false);
}

function tableRow(report: FileReport, resaved: boolean): string {
  if (!report.ok) return `${"error".padEnd(8)}${report.file}: ${report.error.message} [${report.error.code}]`;
  const cells = [
    String(report.quality),
    report.match,
    report.distance.toFixed(3),
    `${report.width}x${report.height}`,
    String(report.bitDepth),
    report.process,
    report.subsampling,
  ];
  if (resaved) cells.push(resavedCell(report.recompressed));
  return row([...cells, report.file], resaved);
}

function resavedCell(found: Recompression | false | null | undefined): string {
  if (found === null || found === undefined) return "-";
  return found === false ? "no" : `${found.quality} @${found.offset.join(",")}`;
}

function row(cells: string[], resaved: boolean): string {
  const widths = resaved ? [...WIDTHS, 10] : WIDTHS;
  return cells.map((cell, i) => (i < widths.length ? cell.padEnd(widths[i]!) : cell)).join("");
}
