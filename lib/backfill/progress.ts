/**
 * Backfill progress: counters by outcome, and two renderings of them: a one-line bar redrawn in place on
 * a TTY, and a plain line every so often for logs (CI, `nohup`, CloudWatch). Formatting is pure; the
 * reporter only decides when to write.
 */
import type { Outcome } from "./journal.js";

export interface ProgressCounts {
  /** Objects listed (or read from the manifest) so far, before filters. */
  listed: number;
  /** Left out by --include/--exclude/--since or because they are derivatives by key. */
  filtered: number;
  /** Already done in an earlier run (from the state file). */
  alreadyDone: number;
  restored: number;
  skipped: number;
  wouldRestore: number;
  failed: number;
  inFlight: number;
  retries: number;
  bytesRead: number;
  bytesWritten: number;
  /** The listing has ended, so the total is known. */
  listingDone: boolean;
}

export function emptyCounts(): ProgressCounts {
  return {
    listed: 0,
    filtered: 0,
    alreadyDone: 0,
    restored: 0,
    skipped: 0,
    wouldRestore: 0,
    failed: 0,
    inFlight: 0,
    retries: 0,
    bytesRead: 0,
    bytesWritten: 0,
    listingDone: false,
  };
}

export function countOutcome(counts: ProgressCounts, outcome: Outcome): void {
  if (outcome === "restored") counts.restored++;
  else if (outcome === "skipped") counts.skipped++;
  else if (outcome === "would-restore") counts.wouldRestore++;
  else counts.failed++;
}

/** Objects finished in this run. */
export function finishedThisRun(c: ProgressCounts): number {
  return c.restored + c.skipped + c.wouldRestore + c.failed;
}

/** Objects this run has to process in all (known once listing ends; a lower bound before). */
export function workTotal(c: ProgressCounts): number {
  return c.listed - c.filtered - c.alreadyDone;
}

export interface Rate {
  readonly objectsPerSecond: number;
  readonly etaSeconds: number | null;
}

export function rate(c: ProgressCounts, elapsedMs: number): Rate {
  const done = finishedThisRun(c);
  const objectsPerSecond = elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
  const remaining = workTotal(c) - done;
  const etaSeconds = c.listingDone && objectsPerSecond > 0 ? remaining / objectsPerSecond : null;
  return { objectsPerSecond, etaSeconds };
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, "0")}m`;
  if (m > 0) return `${m}m${String(rest).padStart(2, "0")}s`;
  return `${rest}s`;
}

function summary(c: ProgressCounts, elapsedMs: number): string {
  const { objectsPerSecond, etaSeconds } = rate(c, elapsedMs);
  const parts = [
    `restored ${c.restored}`,
    c.wouldRestore > 0 ? `would restore ${c.wouldRestore}` : null,
    `skipped ${c.skipped}`,
    `failed ${c.failed}`,
    c.alreadyDone > 0 ? `done before ${c.alreadyDone}` : null,
    `${objectsPerSecond.toFixed(1)} obj/s`,
    `read ${formatBytes(c.bytesRead)}`,
    `wrote ${formatBytes(c.bytesWritten)}`,
    `ETA ${etaSeconds === null ? "?" : formatDuration(etaSeconds)}`,
  ];
  return parts.filter((p) => p !== null).join(" · ");
}

/** The TTY line: a bar, done/total, then the counts. Fits `columns` by cutting the tail. */
export function renderBar(c: ProgressCounts, elapsedMs: number, columns = 100): string {
  const done = finishedThisRun(c);
  const total = workTotal(c);
  const fraction = total > 0 ? Math.min(1, done / total) : 0;
  const width = 20;
  const filled = Math.round(fraction * width);
  const bar = `[${"#".repeat(filled)}${"-".repeat(width - filled)}]`;
  const of = `${done}/${total}${c.listingDone ? "" : "+"}`;
  const line = `${bar} ${c.listingDone ? `${Math.floor(fraction * 100)}%` : "listing"} ${of} · ${summary(c, elapsedMs)}`;
  return line.length > columns ? `${line.slice(0, Math.max(0, columns - 1))}…` : line;
}

/** The plain line for logs. */
export function renderPlain(c: ProgressCounts, elapsedMs: number): string {
  const total = workTotal(c);
  return `progress: ${finishedThisRun(c)}/${total}${c.listingDone ? "" : "+"} after ${formatDuration(elapsedMs / 1000)} · ${summary(c, elapsedMs)}`;
}

export interface ProgressStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/**
 * Starts drawing progress to `stream` (stderr): every 200 ms in place on a TTY, every `plainEveryMs`
 * (default 10 s) as a new line otherwise. `stop()` draws a last time and ends the line.
 */
export function startProgress(
  counts: ProgressCounts,
  stream: ProgressStream,
  options: { plainEveryMs?: number; now?: () => number } = {},
): { stop: () => void } {
  const now = options.now ?? Date.now;
  const started = now();
  const tty = stream.isTTY === true;
  const draw = (): void => {
    const elapsed = now() - started;
    if (tty) stream.write(`\r\x1b[2K${renderBar(counts, elapsed, stream.columns ?? 100)}`);
    else stream.write(`${renderPlain(counts, elapsed)}\n`);
  };
  const timer = setInterval(draw, tty ? 200 : (options.plainEveryMs ?? 10_000));
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      draw();
      if (tty) stream.write("\n");
    },
  };
}
