/**
 * The local stack's S3: an s3rver on loopback whose object events are delivered, as real S3 event
 * notifications (keys URL-encoded as S3 writes them), to the same handler function Lambda runs. s3rver is a
 * development dependency, loaded only here.
 */
import type { S3rverContext, S3rverRecord } from "s3rver";
import { encodeEventKey, type KeyLimits } from "./keys.js";

/** s3rver's credentials (its defaults), printed by the local stack. */
export const LOCAL_CREDENTIALS = Object.freeze({ accessKeyId: "S3RVER", secretAccessKey: "S3RVER" });

/**
 * What s3rver can store: it keeps an object as files named after the key's last segment, the longest
 * `<segment>._S3rver_metadata.json`, so a segment over 255 (a file name's limit) − 22 bytes cannot be
 * stored. Past it s3rver's write stream fails unhandled (the process dies) or it leaves the object's
 * data without its metadata; requests for such keys are refused before s3rver sees them.
 */
export const LOCAL_KEY_LIMITS: KeyLimits = Object.freeze({ maxSegmentBytes: 255 - 22 });

/**
 * Answers a request whose path (`/bucket/key`, or `/key` for a virtual host) has a segment s3rver cannot
 * store as S3 answers about a key that cannot exist: reads get 404 `NoSuchKey`, deletes 204, writes 400
 * `KeyTooLongError`. Other requests go on to s3rver.
 */
export async function refuseUnstorableKeys(ctx: S3rverContext, next: () => Promise<void>): Promise<void> {
  let segments: string[];
  try {
    segments = ctx.path.split("/").map(decodeURIComponent);
  } catch {
    return next(); // not valid percent-encoding: s3rver answers it
  }
  const limit = LOCAL_KEY_LIMITS.maxSegmentBytes!;
  const bytes = Math.max(...segments.map((segment) => Buffer.byteLength(segment, "utf8")));
  if (bytes <= limit) return next();
  if (ctx.method === "DELETE") {
    ctx.status = 204;
    return;
  }
  const [status, code, message] =
    ctx.method === "GET" || ctx.method === "HEAD"
      ? [404, "NoSuchKey", "The specified key does not exist."]
      : [
          400,
          "KeyTooLongError",
          `Your key is too long for the local stack's S3: a path segment of ${bytes} bytes, where it stores at most ${limit} bytes per segment (as file names on disk).`,
        ];
  ctx.status = status;
  ctx.type = "application/xml";
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`;
}

/** A handler as the local stack calls it: with a real S3 event, returning when the work is done. */
export type EventHandler = (event: { Records: unknown[] }) => Promise<unknown>;

export interface LocalS3Options {
  /** 0 picks a free port. */
  readonly port: number;
  readonly address?: string;
  /** Where s3rver keeps buckets and objects. */
  readonly directory: string;
  readonly buckets?: readonly string[];
  /** Receives every object event, after S3 has answered the uploader. */
  readonly handler?: EventHandler;
  /** Events handled at once (default 2); the rest wait in order. */
  readonly concurrency?: number;
  /** Told about a handler that threw (default: written to stderr). */
  readonly onHandlerError?: (error: unknown) => void;
}

export interface LocalS3 {
  readonly endpoint: string;
  readonly port: number;
  readonly buckets: readonly string[];
  /** Resolves when every event delivered so far has been handled. */
  idle(): Promise<void>;
  /** Finishes the handlers in progress (events not started are dropped), then stops the server. */
  close(): Promise<void>;
}

/**
 * s3rver writes keys raw and ARNs oddly; S3 URL-encodes keys in notifications. Rewrite each record so the
 * handler sees what it would see on AWS.
 */
export function toS3Notification(event: { Records: S3rverRecord[] }): { Records: unknown[] } {
  return {
    Records: event.Records.map((record) => ({
      ...record,
      eventVersion: "2.1",
      s3: {
        ...record.s3,
        bucket: { ...record.s3.bucket, arn: `arn:aws:s3:::${record.s3.bucket.name}` },
        object: { ...record.s3.object, key: encodeEventKey(record.s3.object.key) },
      },
    })),
  };
}

/** A small FIFO that runs at most `limit` jobs at once and can say when it is empty. */
function jobQueue(limit: number, onError: (error: unknown) => void) {
  const waiting: (() => Promise<void>)[] = [];
  const running = new Set<Promise<void>>();
  let idleWaiters: (() => void)[] = [];
  const pump = () => {
    while (running.size < limit && waiting.length > 0) {
      const job = waiting.shift()!;
      const run: Promise<void> = job()
        .catch(onError)
        .finally(() => {
          running.delete(run);
          pump();
        });
      running.add(run);
    }
    if (running.size === 0 && waiting.length === 0) {
      for (const resolve of idleWaiters) resolve();
      idleWaiters = [];
    }
  };
  return {
    push(job: () => Promise<void>) {
      waiting.push(job);
      setImmediate(pump);
    },
    idle(): Promise<void> {
      if (running.size === 0 && waiting.length === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    /** Drops what has not started; resolves when what runs has finished. */
    async stop(): Promise<number> {
      const dropped = waiting.splice(0).length;
      await Promise.all(running);
      return dropped;
    },
  };
}

export async function startLocalS3(options: LocalS3Options): Promise<LocalS3> {
  const { default: S3rver } = await import("s3rver");
  const buckets = options.buckets ?? ["media"];
  const address = options.address ?? "127.0.0.1";
  const server = new S3rver({
    port: options.port,
    address,
    directory: options.directory,
    silent: true,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  // First of all of s3rver's own middleware (Koa's list), so nothing of it runs for such a key.
  server.middleware.unshift(refuseUnstorableKeys);
  const report =
    options.onHandlerError ??
    ((error: unknown) => process.stderr.write(`local stack: event handler failed: ${String(error)}\n`));
  const queue = jobQueue(Math.max(1, options.concurrency ?? 2), report);
  let closing = false;
  const handler = options.handler;
  if (handler !== undefined) {
    server.on("event", (event) => {
      if (closing) return;
      const notification = toS3Notification(event);
      queue.push(async () => {
        await handler(notification);
      });
    });
  }

  const bound = await server.run();
  return {
    endpoint: `http://${address}:${bound.port}`,
    port: bound.port,
    buckets,
    idle: () => queue.idle(),
    async close() {
      closing = true;
      const dropped = await queue.stop();
      if (dropped > 0) report(new Error(`${dropped} object event(s) were not handled: the stack stopped`));
      const closed = server.close();
      // Keep-alive connections from SDK clients would hold close() open for their idle timeout.
      server.httpServer?.closeAllConnections();
      await closed;
    },
  };
}
