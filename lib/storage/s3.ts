/**
 * S3 access for unjpeg: a client from the Config, and the few operations the core needs (HEAD, ranged
 * and full GET, PUT with metadata, DELETE) with not-found answered as null and every other failure as a
 * StorageError that says whether a retry can help.
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import type { Config } from "../config.js";
import { UnjpegError } from "../errors.js";
import { normalizeETag } from "./metadata.js";

export class StorageError extends UnjpegError {
  /** False for answers that a retry cannot change (access denied, bad request). */
  readonly retryable: boolean;
  constructor(message: string, options: { cause?: unknown; retryable: boolean; status?: number }) {
    super("S3_ERROR", message, { cause: options.cause, status: options.status ?? 502 });
    this.retryable = options.retryable;
  }
}

/** The object changed between two requests (a newer upload landed): the newer one's event takes over. */
export class SourceChangedError extends UnjpegError {
  constructor(bucket: string, key: string) {
    super("SOURCE_CHANGED", `s3://${bucket}/${key} changed while it was being read`, { status: 409 });
  }
}

export interface S3ClientOptions {
  /** Static credentials (the local stack's); default: the SDK's provider chain. */
  readonly credentials?: S3ClientConfig["credentials"];
  /** Default: the SDK's own (AWS_REGION); `us-east-1` for a custom endpoint that sets none. */
  readonly region?: string;
  readonly maxAttempts?: number;
}

/** An S3 client for the configured endpoint (AWS when none), path-style when asked. */
export function createS3Client(
  config: Pick<Config, "s3Endpoint" | "s3ForcePathStyle">,
  options: S3ClientOptions = {},
): S3Client {
  const custom = config.s3Endpoint !== undefined;
  return new S3Client({
    ...(custom ? { endpoint: config.s3Endpoint, region: options.region ?? "us-east-1" } : {}),
    ...(options.region !== undefined ? { region: options.region } : {}),
    // A copy: the SDK annotates the credentials object it is given (a frozen one throws).
    ...(options.credentials !== undefined ? { credentials: copyIfObject(options.credentials) } : {}),
    forcePathStyle: config.s3ForcePathStyle,
    maxAttempts: options.maxAttempts ?? 4,
    // S3-compatible servers (s3rver, older MinIO) reject the SDK's default flexible checksums.
    ...(custom
      ? { requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED" }
      : {}),
  });
}

const copyIfObject = <T>(value: T): T => (typeof value === "object" && value !== null ? { ...value } : value);

export interface ObjectHead {
  readonly key: string;
  /** Without quotes. */
  readonly eTag: string | undefined;
  readonly versionId: string | undefined;
  readonly size: number;
  readonly contentType: string | undefined;
  readonly metadata: Readonly<Record<string, string>>;
}

interface SdkError {
  name?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

const statusOf = (error: unknown): number | undefined => (error as SdkError)?.$metadata?.httpStatusCode;

function isNotFound(error: unknown): boolean {
  const name = (error as SdkError)?.name;
  return name === "NotFound" || name === "NoSuchKey" || statusOf(error) === 404;
}

function storageError(operation: string, bucket: string, key: string, error: unknown): StorageError {
  const status = statusOf(error);
  const name = (error as SdkError)?.name ?? "Error";
  const retryable =
    status === undefined || status >= 500 || status === 429 || status === 408 || name === "SlowDown";
  const reason = error instanceof Error ? error.message : String(error);
  return new StorageError(`${operation} s3://${bucket}/${key} failed: ${name}: ${reason}`, {
    cause: error,
    retryable,
  });
}

/** HEAD; null when the object does not exist. */
export async function headObject(s3: S3Client, bucket: string, key: string): Promise<ObjectHead | null> {
  try {
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return {
      key,
      eTag: normalizeETag(head.ETag),
      versionId: head.VersionId,
      size: head.ContentLength ?? 0,
      contentType: head.ContentType,
      metadata: lowerKeys(head.Metadata),
    };
  } catch (error) {
    if (isNotFound(error)) return null;
    throw storageError("HEAD", bucket, key, error);
  }
}

const lowerKeys = (metadata: Record<string, string> | undefined): Record<string, string> =>
  Object.fromEntries(Object.entries(metadata ?? {}).map(([k, v]) => [k.toLowerCase(), v]));

export interface RangeRequest {
  /** First byte (inclusive). */
  readonly start: number;
  /** Last byte (inclusive); absent: to the end. */
  readonly end?: number;
  /** The ETag the object must still have; a different one throws SourceChangedError. */
  readonly eTag?: string;
  /** Refuse bodies longer than this (a hostile or changed object). */
  readonly maxBytes: number;
}

/**
 * GET of a byte range (or all of it from `start`), read into one buffer of the announced length. Null when
 * the object is gone. The ETag is checked on the answer itself, so it also holds where If-Match is ignored.
 */
export async function getObjectRange(
  s3: S3Client,
  bucket: string,
  key: string,
  range: RangeRequest,
): Promise<Uint8Array | null> {
  const header = `bytes=${range.start}-${range.end ?? ""}`;
  let response: GetObjectCommandOutput;
  try {
    response = await s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: key, Range: header, IfMatch: quote(range.eTag) }),
    );
  } catch (error) {
    if (isNotFound(error)) return null;
    if (statusOf(error) === 412) throw new SourceChangedError(bucket, key);
    throw storageError("GET", bucket, key, error);
  }
  if (range.eTag !== undefined && normalizeETag(response.ETag) !== normalizeETag(range.eTag)) {
    await response.Body?.transformToByteArray().catch(() => undefined);
    throw new SourceChangedError(bucket, key);
  }
  const length = response.ContentLength ?? 0;
  if (length > range.maxBytes) {
    throw new StorageError(
      `GET s3://${bucket}/${key}: ${length} bytes is over the ${range.maxBytes} asked for`,
      {
        retryable: false,
      },
    );
  }
  try {
    return await readBody(response.Body as AsyncIterable<Uint8Array> | undefined, length);
  } catch (error) {
    throw storageError("GET (body)", bucket, key, error);
  }
}

const quote = (eTag: string | undefined): string | undefined =>
  eTag === undefined ? undefined : `"${eTag}"`;

/** Reads a body stream into a buffer of exactly the announced length, refusing a longer stream. */
async function readBody(body: AsyncIterable<Uint8Array> | undefined, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  if (body === undefined) return out;
  let offset = 0;
  for await (const chunk of body) {
    if (offset + chunk.byteLength > length) throw new Error(`body longer than its Content-Length ${length}`);
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  if (offset !== length) throw new Error(`body ended after ${offset} of ${length} bytes`);
  return out;
}

export interface PutRequest {
  readonly bucket: string;
  readonly key: string;
  readonly body: Uint8Array;
  readonly contentType: string;
  readonly cacheControl: string;
  readonly metadata: Record<string, string>;
}

/** One PutObject: S3 makes it visible whole or not at all, so a failed write leaves no partial output. */
export async function putObject(s3: S3Client, put: PutRequest): Promise<string | undefined> {
  try {
    const result = await s3.send(
      new PutObjectCommand({
        Bucket: put.bucket,
        Key: put.key,
        Body: put.body,
        ContentLength: put.body.byteLength,
        ContentType: put.contentType,
        CacheControl: put.cacheControl,
        Metadata: put.metadata,
      }),
    );
    return normalizeETag(result.ETag);
  } catch (error) {
    throw storageError("PUT", put.bucket, put.key, error);
  }
}

/** DELETE; deleting what is already gone is not an error. */
export async function deleteObject(s3: S3Client, bucket: string, key: string): Promise<void> {
  try {
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  } catch (error) {
    if (isNotFound(error)) return;
    throw storageError("DELETE", bucket, key, error);
  }
}
