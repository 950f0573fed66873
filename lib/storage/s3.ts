/**
 * S3 access for unjpeg: a client from the Config, and the few operations the core needs (HEAD, ranged
 * and full GET under a byte limit, PUT with metadata (conditional, multipart when large), DELETE) with
 * not-found answered as null and every other failure as a StorageError that says whether a retry can help.
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
import { Upload } from "@aws-sdk/lib-storage";
import type { Config } from "../config.js";
import { UnjpegError } from "../errors.js";
import { type BodyStream, readBodyLimited } from "./body.js";
import { normalizeETag } from "./metadata.js";
import { isNotFound, StorageError, statusOf, storageError } from "./s3-errors.js";
import { classifyWriteFailure, type WriteCondition, WriteRaceLostError } from "./write.js";

export { ObjectTooLargeError } from "./body.js";
export { isS3Timeout, StorageError, s3TimeoutError } from "./s3-errors.js";

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

/**
 * An S3 client for the configured endpoint (AWS when none), path-style when asked, with a connection and a
 * request timeout on every request (the SDK's own request handler: `connectionTimeout`, and `socketTimeout`,
 * its time without a byte moving, so a slow but moving transfer of a large body is never cut); a timed-out
 * request is retried by the SDK's retry policy like any transient failure.
 */
export function createS3Client(
  config: Pick<Config, "s3Endpoint" | "s3ForcePathStyle" | "s3ConnectTimeoutMs" | "s3RequestTimeoutMs">,
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
    requestHandler: {
      connectionTimeout: config.s3ConnectTimeoutMs,
      socketTimeout: config.s3RequestTimeoutMs,
    },
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
 * GET of a byte range (or all of it from `start`), read into one buffer of at most `maxBytes`: a longer
 * answer is refused with ObjectTooLargeError on its Content-Length before any body byte is read, or as
 * soon as the bytes arriving pass the limit, and its connection is closed (no draining). Null when the
 * object is gone. The ETag is checked on the answer itself, so it also holds where If-Match is ignored.
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
  const body = response.Body as BodyStream | undefined;
  if (range.eTag !== undefined && normalizeETag(response.ETag) !== normalizeETag(range.eTag)) {
    body?.destroy?.();
    throw new SourceChangedError(bucket, key);
  }
  try {
    return await readBodyLimited(body, {
      announced: response.ContentLength,
      maxBytes: range.maxBytes,
      what: `s3://${bucket}/${key}`,
    });
  } catch (error) {
    if (error instanceof UnjpegError) throw error;
    throw storageError("GET (body)", bucket, key, error);
  }
}

const quote = (eTag: string | undefined): string | undefined =>
  eTag === undefined ? undefined : `"${eTag}"`;

export interface PutRequest {
  readonly bucket: string;
  readonly key: string;
  readonly body: Uint8Array;
  readonly contentType: string;
  readonly cacheControl: string;
  readonly metadata: Record<string, string>;
  /** Write only if the key is still as seen (write.ts); a lost race throws WriteRaceLostError. */
  readonly condition?: WriteCondition;
  /** Bodies above `thresholdBytes` go up as a multipart upload (default DEFAULT_MULTIPART). */
  readonly multipart?: MultipartOptions;
}

export interface MultipartOptions {
  /** Bodies larger than this are uploaded in parts. */
  readonly thresholdBytes: number;
  /** Part size; S3's minimum (and lib-storage's) is 5 MiB. */
  readonly partBytes: number;
  /** Parts in flight at once. */
  readonly queueSize: number;
}

const MIB = 1024 * 1024;
/** S3's smallest part but the last (lib-storage refuses less). */
const MIN_PART_BYTES = 5 * MIB;
export const DEFAULT_MULTIPART: MultipartOptions = Object.freeze({
  thresholdBytes: 16 * MIB,
  partBytes: 8 * MIB,
  queueSize: 4,
});

/**
 * One PutObject, or above the threshold one multipart upload (lib-storage's Upload: parts are views of the
 * body, never copies; a failed upload is aborted). Either way S3 makes the object visible whole or not at
 * all, so a failed write leaves no partial output, and the condition applies to the one request that
 * makes it visible (PutObject, or CompleteMultipartUpload).
 */
export async function putObject(s3: S3Client, put: PutRequest): Promise<string | undefined> {
  const multipart = put.multipart ?? DEFAULT_MULTIPART;
  const params = {
    Bucket: put.bucket,
    Key: put.key,
    Body: put.body,
    ContentLength: put.body.byteLength,
    ContentType: put.contentType,
    CacheControl: put.cacheControl,
    Metadata: put.metadata,
    ...(put.condition === undefined
      ? {}
      : "ifNoneMatch" in put.condition
        ? { IfNoneMatch: put.condition.ifNoneMatch }
        : { IfMatch: put.condition.ifMatch }),
  };
  try {
    if (put.body.byteLength > multipart.thresholdBytes) {
      const upload = new Upload({
        client: s3,
        params,
        partSize: Math.max(multipart.partBytes, MIN_PART_BYTES),
        queueSize: multipart.queueSize,
        leavePartsOnError: false,
      });
      return normalizeETag((await upload.done()).ETag);
    }
    return normalizeETag((await s3.send(new PutObjectCommand(params))).ETag);
  } catch (error) {
    const failure = classifyWriteFailure(error, put.condition);
    if (failure === "lost-race" && put.condition !== undefined) {
      throw new WriteRaceLostError(put.bucket, put.key, put.condition, error);
    }
    const storage = storageError("PUT", put.bucket, put.key, error);
    if (failure === "conflict") {
      throw new StorageError(storage.message, { cause: error, retryable: true });
    }
    throw storage;
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
